"""Group robots (WeCom, DingTalk, Feishu) and a generic outgoing webhook for integrators.

Each robot posts one JSON message to the webhook its cohort's admin pasted in, signed with
the cohort's secret when there is one, and turns the answer into "accepted", Retry or Dead.
Webhook URLs carry their access token, so they never go into an error message.
"""
import base64
import hashlib
import hmac
import http.client
import json
import threading
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import current_app
from flask_babel import force_locale, gettext

from app.reminders.channels import Channel, Dead, Rendered, Retry
from app.reminders.models import OutboxMessage

RATE_LIMIT_PAUSE = 60  # seconds; all three platforms count sends per minute
MAX_ANSWER_BYTES = 64 * 1024


# --- Signatures (public, so tests and docs can check them) ---------------------------------

def sign_dingtalk(secret: str, timestamp_ms: int) -> str:
    """DingTalk: base64(HMAC-SHA256(key=secret, msg="<timestamp ms>\\n<secret>")), URL-quoted by the caller."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def sign_feishu(secret: str, timestamp: int) -> str:
    """Feishu: base64(HMAC-SHA256(key="<timestamp s>\\n<secret>", msg=b"")) - the key is the string."""
    digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def sign_webhook(secret: str, timestamp: int, body: bytes) -> str:
    """Our own webhook: "sha256=" + hex HMAC-SHA256(secret, "<timestamp>." + body), like Stripe's."""
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


# --- The shared HTTP helper -------------------------------------------------------------------

KEEP_ALIVE_SECONDS = 5.0   # reuse a connection only this soon after its last answer: far inside servers' idle timeouts
_held = threading.local()  # each thread's open connections: {(scheme, host, port, timeout): (connection, last used)}


def post_json(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict | None, str]:
    """POST `body` and return (status, JSON answer or None, Retry-After header).

    http.client rather than urllib: no redirects followed, no proxy taken from the environment.
    Network failures (refused, reset, timeout, TLS, DNS) raise Retry; statuses are the caller's.
    A connection the server keeps open is used again for the next POST to the same host within
    KEEP_ALIVE_SECONDS (a dispatch sends its batch back to back: no new TCP and TLS handshake each;
    it closes them when it ends).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Dead("the webhook is not an http(s) URL", notify_admin=True)
    timeout = float(current_app.config.get("REMINDER_HTTP_TIMEOUT", 10))
    key = (parts.scheme, parts.hostname, parts.port, timeout)
    connection = _open_connection(key)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", target, body=body,
                           headers={"Content-Type": "application/json", **(headers or {})})
        response = connection.getresponse()
        raw = response.read(MAX_ANSWER_BYTES)
        retry_after = response.getheader("Retry-After", "")
    except (OSError, http.client.HTTPException) as error:
        connection.close()
        raise Retry(f"{parts.hostname}: {type(error).__name__} {error}".strip()) from error
    if response.will_close or not response.isclosed():   # closing, or an answer longer than we read
        connection.close()
    else:
        _held.connections[key] = (connection, time.monotonic())
    try:
        answer = json.loads(raw)
    except (ValueError, RecursionError):   # not JSON, or nested too deep to read: no answer
        answer = None
    return response.status, answer if isinstance(answer, dict) else None, retry_after


def close_kept_connections() -> None:
    """Close this thread's kept connections (a dispatch pass does at its end: none outlives it)."""
    for connection, _last_used in getattr(_held, "connections", {}).values():
        connection.close()
    _held.connections = {}


def _open_connection(key: tuple):
    """This thread's kept connection to the host if it is fresh, else a new one (not yet connected)."""
    held = getattr(_held, "connections", None)
    if held is None:
        held = _held.connections = {}
    kept = held.pop(key, None)
    if kept is not None:
        connection, last_used = kept
        if time.monotonic() - last_used < KEEP_ALIVE_SECONDS:
            return connection
        connection.close()
    scheme, host, port, timeout = key
    connection_class = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    return connection_class(host, port, timeout=timeout)


def check_status(status: int, retry_after: str = "") -> None:
    """The HTTP status alone: 2xx passes, 5xx and 429 may pass later, anything else is a bad webhook."""
    if 200 <= status < 300:
        return
    if status == 429:
        # isascii() too: "²" or "٣" pass isdigit() and then break float().
        pause = float(retry_after) if retry_after.isascii() and retry_after.isdigit() else RATE_LIMIT_PAUSE
        raise Retry("HTTP 429 (rate limited)", after_seconds=pause)
    if status >= 500:
        raise Retry(f"HTTP {status}")
    raise Dead(f"HTTP {status}: check the webhook", notify_admin=True)


def fit(head: str, body: str, tail: str, limit: int) -> str:
    """head + body + tail in at most `limit` UTF-8 bytes, cutting the body (robots refuse longer)."""
    room = limit - len((head + tail).encode())
    if len(body.encode()) > room:
        body = body.encode()[:max(room - 3, 0)].decode(errors="ignore") + "…"
    return head + body + tail


def open_label(lang: str) -> str:
    with force_locale("zh_CN" if lang == "zh" else "en"):
        return gettext("Open")


class Robot(Channel):
    """A group robot: post `payload()` to the cohort's webhook, then read the platform's code."""

    code_field = "errcode"
    rate_limited: set[int] = set()
    broken: set[int] = set()  # codes that mean the admin must fix the robot

    def send(self, message: OutboxMessage, content: Rendered) -> None:
        cohort = message.cohort
        if cohort is None or not cohort.robot_webhook:
            raise Dead(f"no {self.name} webhook is set for the cohort", notify_admin=True)
        secret = cohort.robot_secret or None
        url = self.signed_url(cohort.robot_webhook, secret)
        payload = self.payload(message, content, secret)
        body = json.dumps(payload, ensure_ascii=False).encode()
        status, answer, retry_after = post_json(url, body)
        self.check(status, answer or {}, retry_after)

    def signed_url(self, url: str, secret: str | None) -> str:
        return url

    def payload(self, message: OutboxMessage, content: Rendered, secret: str | None) -> dict:
        raise NotImplementedError

    def code(self, answer: dict) -> int | None:
        return answer.get(self.code_field)

    def check(self, status: int, answer: dict, retry_after: str = "") -> None:
        code = self.code(answer)
        if not isinstance(code, int) or isinstance(code, bool):
            code = None  # a proxy's error page, or something else that is not the platform's answer
        detail = f"{self.name} {self.code_field} {code}: {answer.get('errmsg') or answer.get('msg') or ''}".strip()
        # A known code says more than the status (Feishu answers some refusals with HTTP 400).
        if code in self.broken:
            raise Dead(detail, notify_admin=True)
        if code in self.rate_limited:
            raise Retry(detail, after_seconds=RATE_LIMIT_PAUSE)
        check_status(status, retry_after)
        if code is None:
            raise Retry(f"{self.name}: unexpected answer (HTTP {status})")
        if code != 0:
            raise Retry(detail)


class WeComRobot(Robot):
    """企业微信群机器人: markdown, or text when someone must be @-mentioned (markdown cannot)."""

    name = "wecom"
    rate_limited = {45009}
    broken = {93000}  # invalid webhook URL

    def payload(self, message: OutboxMessage, content: Rendered, secret: str | None) -> dict:
        if content.mentions:
            tail = f"\n{content.link}" if content.link else ""
            text = fit(f"{content.title}\n", content.body, tail, 2048)
            return {"msgtype": "text", "text": {"content": text, "mentioned_mobile_list": list(content.mentions)}}
        tail = f"\n[{open_label(content.lang)}]({content.link})" if content.link else ""
        return {"msgtype": "markdown",
                "markdown": {"content": fit(f"**{content.title}**\n", content.body, tail, 4096)}}


class DingTalkRobot(Robot):
    """钉钉自定义机器人: signed in the URL when "加签" is on; @ by mobile in text messages."""

    name = "dingtalk"
    rate_limited = {130101}  # sending too fast
    broken = {310000, 300001}  # sign, keyword or IP check failed; token invalid

    def signed_url(self, url: str, secret: str | None) -> str:
        if not secret:
            return url
        timestamp = int(time.time() * 1000)
        parts = urlsplit(url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("timestamp", "sign")]
        query += [("timestamp", str(timestamp)), ("sign", sign_dingtalk(secret, timestamp))]
        return urlunsplit(parts._replace(query=urlencode(query)))

    def payload(self, message: OutboxMessage, content: Rendered, secret: str | None) -> dict:
        if content.mentions:
            # DingTalk highlights a mention only when "@<mobile>" is also in the text.
            tail = (f"\n{content.link}" if content.link else "") + "\n" + " ".join(f"@{m}" for m in content.mentions)
            return {"msgtype": "text", "text": {"content": fit(f"{content.title}\n", content.body, tail, 20000)},
                    "at": {"atMobiles": list(content.mentions), "isAtAll": False}}
        tail = f"\n\n[{open_label(content.lang)}]({content.link})" if content.link else ""
        text = fit(f"#### {content.title}\n\n", content.body, tail, 20000)
        return {"msgtype": "markdown", "markdown": {"title": content.title, "text": text}}


class FeishuRobot(Robot):
    """飞书自定义机器人: a card with a button when there is a link, else plain text.

    Custom Feishu robots can only @ by open_id/user_id, which we do not have: mentions by
    mobile are impossible, so they are ignored here (the text still names no one).
    """

    name = "feishu"
    code_field = "code"
    rate_limited = {11232}  # frequency limit
    broken = {19021, 19024, 9499}  # sign invalid, IP not allowed, bad request

    def code(self, answer: dict) -> int | None:
        return answer.get("code", answer.get("StatusCode"))  # older answers: {"StatusCode": 0}

    def payload(self, message: OutboxMessage, content: Rendered, secret: str | None) -> dict:
        if content.link:
            payload: dict = {"msg_type": "interactive", "card": {
                "header": {"title": {"tag": "plain_text", "content": content.title}},
                "elements": [
                    {"tag": "div", "text": {"tag": "lark_md", "content": fit("", content.body, "", 20000)}},
                    {"tag": "action", "actions": [{
                        "tag": "button", "text": {"tag": "plain_text", "content": open_label(content.lang)},
                        "url": content.link, "type": "primary"}]},
                ]}}
        else:
            payload = {"msg_type": "text", "content": {"text": fit(f"{content.title}\n", content.body, "", 20000)}}
        if secret:
            timestamp = int(time.time())
            payload = {"timestamp": str(timestamp), "sign": sign_feishu(secret, timestamp), **payload}
        return payload


class WebhookChannel(Channel):
    """For integrators: our own JSON, signed like Stripe's, idempotent by the outbox key."""

    name = "webhook"

    def send(self, message: OutboxMessage, content: Rendered) -> None:
        cohort = message.cohort
        if cohort is None or not cohort.robot_webhook:
            raise Dead("no webhook is set for the cohort", notify_admin=True)
        body = json.dumps({
            "id": message.id, "key": message.key, "rule": message.rule, "category": message.category,
            "occasion": message.occasion,
            "recipient": {"user_id": message.user_id, "cohort_id": message.cohort_id},
            "title": content.title, "body": content.body, "link": content.link, "lang": content.lang,
        }, ensure_ascii=False).encode()
        timestamp = int(time.time())
        headers = {"Idempotency-Key": message.key, "X-Academy-Timestamp": str(timestamp)}
        if cohort.robot_secret:
            headers["X-Academy-Signature"] = sign_webhook(cohort.robot_secret, timestamp, body)
        status, _answer, retry_after = post_json(cohort.robot_webhook, body, headers)
        check_status(status, retry_after)


ROBOTS: dict[str, type[Channel]] = {
    "wecom": WeComRobot, "dingtalk": DingTalkRobot, "feishu": FeishuRobot, "webhook": WebhookChannel,
}
