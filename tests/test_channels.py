"""Every channel against real local servers (tests/servers.py): what goes on the wire, and
how each answer maps to sent, Retry or Dead. No database: messages are built in memory."""
import base64
import hashlib
import hmac
import socket
import time
from datetime import datetime, timezone
from urllib.parse import quote_plus

import pytest
from flask_babel import force_locale, gettext

from app import create_app
from app.accounts.models import User
from app.cohorts.models import Cohort
from app.reminders import robots
from app.reminders.channels import Dead, Rendered, Retry
from app.reminders.registry import channel_for
from app.reminders.email import EmailChannel, message_id
from app.reminders.models import OutboxMessage
from app.reminders.robots import ROBOTS, DingTalkRobot, FeishuRobot, WebhookChannel, WeComRobot
from tests.conftest import REPO
from tests.servers import HttpSink, SmtpSink, http_sink, smtp_sink  # noqa: F401

LINK = "https://academy.example.com/checkins/today"
UNSUBSCRIBE = "https://academy.example.com/reminders/unsubscribe/tok123"
OK_FEISHU = (200, {"code": 0, "msg": "success", "data": {}})


@pytest.fixture
def app():
    """An app context without a database (overrides conftest's database-backed `app`)."""
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": "sqlite://",
                      "CONTENT_ROOT": str(REPO), "REMINDER_HTTP_TIMEOUT": 2})
    with app.app_context():
        yield app


def make_message(channel: str, webhook: str | None = None, secret: str | None = None,
                 email: str | None = "mei@example.com") -> OutboxMessage:
    message = OutboxMessage(
        id=42, key=f"u7/checkin_today/2025-03-01/{channel}", rule="checkin_today", category="checkin",
        occasion="2025-03-01", channel=channel, user_id=7, cohort_id=3, params={},
        due_at=datetime(2025, 3, 1, 12, tzinfo=timezone.utc))
    message.user = User(id=7, name="美美", email=email, mobile="13800000001", locale="zh_CN")
    message.cohort = Cohort(id=3, name="Spring", robot_kind=channel, robot_webhook=webhook, robot_secret=secret)
    return message


def rendered(lang: str = "en", link: str | None = LINK, mentions: list[str] | None = None,
             unsubscribe_url: str | None = UNSUBSCRIBE) -> Rendered:
    if lang == "zh":
        return Rendered(lang="zh", title="今天打卡了吗？", body="记得打卡。\n\n加油！", link=link, category="checkin",
                        mentions=mentions or [], unsubscribe_url=unsubscribe_url)
    return Rendered(lang="en", title="Check in <today> & win", body="Remember to check in.\nIt takes a minute.\n\nGo!",
                    link=link, category="checkin", mentions=mentions or [], unsubscribe_url=unsubscribe_url)


def free_port() -> int:
    """A port nothing listens on: connections to it are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def b64_hmac(key: bytes, msg: bytes) -> str:
    return base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()


# --- Email -----------------------------------------------------------------------------------

@pytest.fixture
def mail_app(app, smtp_sink):
    app.config.update(smtp_sink.config, SMTP_FROM="Xiaob Academy <noreply@academy.example.com>")
    return app


def test_email_has_a_text_and_an_html_part_with_headers(mail_app, smtp_sink):
    message = make_message("email")
    EmailChannel().send(message, rendered("en"))

    [email] = smtp_sink.messages
    assert smtp_sink.envelopes == [("noreply@academy.example.com", ["mei@example.com"])]
    assert email["Subject"] == "Check in <today> & win"
    assert email["From"] == "Xiaob Academy <noreply@academy.example.com>"
    assert email["To"].addresses[0].addr_spec == "mei@example.com"
    assert email["To"].addresses[0].display_name == "美美"
    assert email["Auto-Submitted"] == "auto-generated"
    assert email["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert email["Message-ID"] == message_id(message.key, "noreply@academy.example.com")
    assert email["Message-ID"].endswith("@academy.example.com>")
    assert message.key not in email["Message-ID"]  # hashed: keys are not valid id syntax

    assert email.get_content_type() == "multipart/alternative"
    text = email.get_body(("plain",)).get_content()
    assert text.startswith("Check in <today> & win\n\nRemember to check in.\nIt takes a minute.\n\nGo!\n")
    assert f"Open: {LINK}" in text
    assert "You get this because you are in Xiaob Academy." in text
    assert f"Unsubscribe from these emails: {UNSUBSCRIBE}" in text

    html = email.get_body(("html",)).get_content()
    assert '<html lang="en">' in html
    assert "Check in &lt;today&gt; &amp; win" in html and "<today>" not in html  # escaped
    assert "Remember to check in.<br>It takes a minute.</p>" in html
    assert f'<a href="{LINK}"' in html and ">Open</a>" in html
    assert f'<a href="{UNSUBSCRIBE}"' in html and "Unsubscribe from these emails</a>" in html
    assert "You get this because you are in Xiaob Academy." in html
    assert "http://" not in html.replace(LINK, "").replace(UNSUBSCRIBE, "")  # no external assets
    assert "<img" not in html and "<link" not in html and "<script" not in html


def test_email_footer_is_in_the_messages_language(mail_app, smtp_sink):
    EmailChannel().send(make_message("email"), rendered("zh"))

    [email] = smtp_sink.messages
    assert email["Subject"] == "今天打卡了吗？"
    html = email.get_body(("html",)).get_content()
    text = email.get_body(("plain",)).get_content()
    with force_locale("zh_CN"):
        why = gettext("You get this because you are in Xiaob Academy.")
        unsubscribe = gettext("Unsubscribe from these emails")
    assert '<html lang="zh-CN">' in html
    assert ">打开</a>" in html and "小B学院" in html and ">Open</a>" not in html
    assert why in html and unsubscribe in html
    assert f"打开: {LINK}" in text and why in text


def test_a_resent_email_has_the_same_message_id(mail_app, smtp_sink):
    EmailChannel().send(make_message("email"), rendered())
    EmailChannel().send(make_message("email"), rendered())
    other = make_message("email")
    other.key = "u7/checkin_today/2025-03-02/email"
    EmailChannel().send(other, rendered())

    first, again, next_day = (m["Message-ID"] for m in smtp_sink.messages)
    assert first == again != next_day


def test_email_without_unsubscribe_url_or_link_has_neither(mail_app, smtp_sink):
    EmailChannel().send(make_message("email"), rendered(link=None, unsubscribe_url=None))

    [email] = smtp_sink.messages
    assert "List-Unsubscribe" not in email and "List-Unsubscribe-Post" not in email
    html = email.get_body(("html",)).get_content()
    assert "<a " not in html and "You get this because you are in Xiaob Academy." in html


def test_email_links_must_be_web_links(mail_app, smtp_sink):
    EmailChannel().send(make_message("email"), rendered(link="javascript:alert(1)"))

    html = smtp_sink.messages[0].get_body(("html",)).get_content()
    assert "javascript:" not in html


def test_email_without_an_address_or_settings_is_dead(mail_app, smtp_sink):
    with pytest.raises(Dead, match="no email address"):
        EmailChannel().send(make_message("email", email=None), rendered())
    mail_app.config["SMTP_HOST"] = None
    with pytest.raises(Dead, match="email is not configured"):
        EmailChannel().send(make_message("email"), rendered())
    assert smtp_sink.messages == []


def test_email_refused_recipient_is_dead(mail_app, smtp_sink):
    smtp_sink.refuse_recipients = True
    with pytest.raises(Dead, match="550") as error:
        EmailChannel().send(make_message("email"), rendered())
    assert not error.value.notify_admin
    assert smtp_sink.messages == []


def test_email_451_is_retried_and_then_sent(mail_app, smtp_sink):
    smtp_sink.fail_next(1)
    with pytest.raises(Retry, match="451"):
        EmailChannel().send(make_message("email"), rendered())
    assert smtp_sink.messages == []

    EmailChannel().send(make_message("email"), rendered())
    assert len(smtp_sink.messages) == 1


def test_email_550_is_dead(mail_app, smtp_sink):
    smtp_sink.fail_next(1, "550 5.7.1 Message rejected as spam")
    with pytest.raises(Dead, match="550"):
        EmailChannel().send(make_message("email"), rendered())


def test_email_server_down_is_retried(mail_app):
    mail_app.config["SMTP_PORT"] = free_port()
    with pytest.raises(Retry):
        EmailChannel().send(make_message("email"), rendered())


# --- WeCom -----------------------------------------------------------------------------------

def test_wecom_posts_markdown(app, http_sink):
    url = http_sink.url("/cgi-bin/webhook/send?key=abc")
    WeComRobot().send(make_message("wecom", url), rendered("zh"))

    [request] = http_sink.accepted
    assert (request.method, request.path, request.query) == ("POST", "/cgi-bin/webhook/send", {"key": "abc"})
    assert request.headers["content-type"] == "application/json"
    assert request.json == {"msgtype": "markdown", "markdown": {
        "content": f"**今天打卡了吗？**\n记得打卡。\n\n加油！\n[打开]({LINK})"}}


def test_wecom_mentions_by_mobile_in_a_text_message(app, http_sink):
    WeComRobot().send(make_message("wecom", http_sink.url()), rendered("en", mentions=["13800000001"]))

    assert http_sink.requests[0].json == {"msgtype": "text", "text": {
        "content": f"Check in <today> & win\nRemember to check in.\nIt takes a minute.\n\nGo!\n{LINK}",
        "mentioned_mobile_list": ["13800000001"]}}


def test_wecom_clips_long_messages_to_its_limit(app, http_sink):
    content = rendered("zh")
    content.body = "很长" * 3000
    WeComRobot().send(make_message("wecom", http_sink.url()), content)

    text = http_sink.requests[0].json["markdown"]["content"]
    assert len(text.encode()) <= 4096 and text.endswith(f"…\n[打开]({LINK})")


# --- DingTalk --------------------------------------------------------------------------------

def test_dingtalk_signs_the_url_and_mentions_in_the_text(app, http_sink):
    url = http_sink.url("/robot/send?access_token=tok")
    before = int(time.time() * 1000)
    DingTalkRobot().send(make_message("dingtalk", url, secret="SECabc"), rendered("en", mentions=["13800000001"]))

    [request] = http_sink.accepted
    assert request.path == "/robot/send" and set(request.query) == {"access_token", "timestamp", "sign"}
    assert request.query["access_token"] == "tok"
    timestamp = request.query["timestamp"]
    assert before <= int(timestamp) <= time.time() * 1000
    expected = b64_hmac(b"SECabc", f"{timestamp}\nSECabc".encode())
    assert request.query["sign"] == expected == robots.sign_dingtalk("SECabc", int(timestamp))
    assert request.json == {
        "msgtype": "text",
        "text": {"content": "Check in <today> & win\nRemember to check in.\nIt takes a minute.\n\nGo!\n"
                            f"{LINK}\n@13800000001"},
        "at": {"atMobiles": ["13800000001"], "isAtAll": False}}


def test_dingtalk_sign_is_url_quoted(app, http_sink):
    DingTalkRobot().send(make_message("dingtalk", http_sink.url("/robot/send?access_token=tok"), "s"), rendered())

    # DingTalk reads the raw query: base64's + / = must arrive %-quoted.
    request = http_sink.requests[0]
    assert f"sign={quote_plus(request.query['sign'])}" in request.raw_query.split("&")


def test_dingtalk_posts_markdown_without_mentions_or_secret(app, http_sink):
    DingTalkRobot().send(make_message("dingtalk", http_sink.url("/robot/send?access_token=tok")), rendered("zh"))

    [request] = http_sink.accepted
    assert request.query == {"access_token": "tok"}
    assert request.json == {"msgtype": "markdown", "markdown": {
        "title": "今天打卡了吗？", "text": f"#### 今天打卡了吗？\n\n记得打卡。\n\n加油！\n\n[打开]({LINK})"}}


# --- Feishu ----------------------------------------------------------------------------------

def test_feishu_posts_a_signed_card_with_a_button(app, http_sink):
    http_sink.default = OK_FEISHU
    before = int(time.time())
    FeishuRobot().send(make_message("feishu", http_sink.url("/open-apis/bot/v2/hook/x"), "fsec"),
                       rendered("zh", mentions=["13800000001"]))  # mentions: impossible, ignored

    [request] = http_sink.accepted
    body = request.json
    timestamp = body.pop("timestamp")
    assert isinstance(timestamp, str) and before <= int(timestamp) <= time.time()
    expected = b64_hmac(f"{timestamp}\nfsec".encode(), b"")  # the key is the string, the message empty
    assert body.pop("sign") == expected == robots.sign_feishu("fsec", int(timestamp))
    assert body == {"msg_type": "interactive", "card": {
        "header": {"title": {"tag": "plain_text", "content": "今天打卡了吗？"}},
        "elements": [
            {"tag": "div", "text": {"tag": "lark_md", "content": "记得打卡。\n\n加油！"}},
            {"tag": "action", "actions": [{"tag": "button", "text": {"tag": "plain_text", "content": "打开"},
                                           "url": LINK, "type": "primary"}]},
        ]}}


def test_feishu_posts_text_without_a_link(app, http_sink):
    http_sink.default = (200, {"StatusCode": 0, "StatusMessage": "success"})  # the older answer
    FeishuRobot().send(make_message("feishu", http_sink.url()), rendered("en", link=None))

    [request] = http_sink.accepted
    assert request.json == {"msg_type": "text", "content": {
        "text": "Check in <today> & win\nRemember to check in.\nIt takes a minute.\n\nGo!"}}


# --- Generic webhook -------------------------------------------------------------------------

def test_webhook_posts_signed_json_with_an_idempotency_key(app, http_sink):
    http_sink.default = (204, None)
    message = make_message("webhook", http_sink.url("/academy/events"), "whsec")
    before = int(time.time())
    WebhookChannel().send(message, rendered("zh"))

    [request] = http_sink.accepted
    assert request.json == {
        "id": 42, "key": "u7/checkin_today/2025-03-01/webhook", "rule": "checkin_today", "category": "checkin",
        "occasion": "2025-03-01", "recipient": {"user_id": 7, "cohort_id": 3},
        "title": "今天打卡了吗？", "body": "记得打卡。\n\n加油！", "link": LINK, "lang": "zh"}
    assert request.headers["content-type"] == "application/json"
    assert request.headers["idempotency-key"] == message.key
    timestamp = request.headers["x-academy-timestamp"]
    assert before <= int(timestamp) <= time.time()
    expected = "sha256=" + hmac.new(b"whsec", f"{timestamp}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-academy-signature"] == expected
    assert robots.sign_webhook("whsec", int(timestamp), request.body) == expected


def test_webhook_without_secret_is_unsigned(app, http_sink):
    WebhookChannel().send(make_message("webhook", http_sink.url()), rendered())
    assert "x-academy-signature" not in http_sink.requests[0].headers


# --- Errors ----------------------------------------------------------------------------------

ERRORS = [
    # channel, (status, answer), exception, after_seconds, notify_admin
    ("wecom", (200, {"errcode": 45009, "errmsg": "api freq out of limit"}), Retry, 60, None),
    ("wecom", (200, {"errcode": 93000, "errmsg": "invalid webhook url"}), Dead, None, True),
    ("wecom", (200, {"errcode": 40058, "errmsg": "invalid parameter"}), Retry, None, None),
    ("wecom", (200, None), Retry, None, None),
    ("wecom", (500, None), Retry, None, None),
    ("wecom", (502, {"errcode": 0}), Retry, None, None),
    ("wecom", (404, None), Dead, None, True),
    ("wecom", (429, None), Retry, 60, None),
    ("dingtalk", (200, {"errcode": 130101, "errmsg": "send too fast"}), Retry, 60, None),
    ("dingtalk", (200, {"errcode": 310000, "errmsg": "keywords not in content"}), Dead, None, True),
    ("dingtalk", (200, {"errcode": 300001, "errmsg": "token is not exist"}), Dead, None, True),
    ("dingtalk", (200, {"errcode": 400102, "errmsg": "robot stopped"}), Retry, None, None),
    ("feishu", (200, {"code": 11232, "msg": "frequency limited"}), Retry, 60, None),
    ("feishu", (200, {"code": 19021, "msg": "sign match fail"}), Dead, None, True),
    ("feishu", (400, {"code": 19024, "msg": "ip not allowed"}), Dead, None, True),
    ("feishu", (400, {"code": 9499, "msg": "Bad Request"}), Dead, None, True),
    ("feishu", (200, {"code": 1, "msg": "?"}), Retry, None, None),
    ("webhook", (500, None), Retry, None, None),
    ("webhook", (429, None), Retry, 60, None),
    ("webhook", (400, {"error": "no"}), Dead, None, True),
    ("webhook", (410, None), Dead, None, True),
]


@pytest.mark.parametrize("channel, answer, exception, after_seconds, notify_admin", ERRORS)
def test_answers_map_to_retry_or_dead(app, http_sink, channel, answer, exception, after_seconds, notify_admin):
    http_sink.answer(*answer)
    with pytest.raises(exception) as error:
        ROBOTS[channel]().send(make_message(channel, http_sink.url()), rendered())
    if exception is Retry:
        assert error.value.after_seconds == after_seconds
    else:
        assert error.value.notify_admin is notify_admin
    assert len(http_sink.requests) == 1
    if answer[1] is not None:  # (the sink counts any 2xx without a code as accepted)
        assert not http_sink.accepted


@pytest.mark.parametrize("channel", sorted(ROBOTS))
def test_a_slow_answer_is_retried(app, http_sink, channel):
    app.config["REMINDER_HTTP_TIMEOUT"] = 0.2
    http_sink.answer(200, {"errcode": 0, "code": 0}, delay=1.5)
    started = time.monotonic()
    with pytest.raises(Retry, match="timed out"):
        ROBOTS[channel]().send(make_message(channel, http_sink.url()), rendered())
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("channel", sorted(ROBOTS))
def test_a_robot_that_is_down_is_retried(app, channel):
    with pytest.raises(Retry):
        ROBOTS[channel]().send(make_message(channel, f"http://127.0.0.1:{free_port()}/hook"), rendered())


@pytest.mark.parametrize("channel", sorted(ROBOTS))
@pytest.mark.parametrize("webhook", [None, "", "ftp://example.com/hook"])
def test_a_missing_or_odd_webhook_is_dead_and_tells_the_admin(app, channel, webhook):
    with pytest.raises(Dead) as error:
        ROBOTS[channel]().send(make_message(channel, webhook), rendered())
    assert error.value.notify_admin


def test_error_messages_never_contain_the_webhook_token(app, http_sink):
    http_sink.answer(200, {"errcode": 93000, "errmsg": "invalid webhook url"})
    with pytest.raises(Dead) as error:
        WeComRobot().send(make_message("wecom", http_sink.url("/send?key=SECRETKEY")), rendered())
    assert "SECRETKEY" not in str(error.value)


def test_channel_for_finds_every_channel(app):
    assert isinstance(channel_for("email", None), EmailChannel)
    assert {name: type(channel_for(name, None)) for name in ROBOTS} == {
        "wecom": WeComRobot, "dingtalk": DingTalkRobot, "feishu": FeishuRobot, "webhook": WebhookChannel}
    assert all(cls.name == name for name, cls in ROBOTS.items())


def test_sinks_can_be_used_without_fixtures():
    with HttpSink(default=(201, {"ok": True})) as sink, SmtpSink() as mail:
        assert sink.port and mail.port
    assert mail.messages == [] and sink.requests == []


def test_posts_to_a_server_that_keeps_connections_open_share_one_while_it_is_fresh(app, monkeypatch):
    with HttpSink(keep_alive=True) as sink:
        try:
            for _ in range(3):
                assert robots.post_json(sink.url(), b"{}")[0] == 200
            assert len({request.client_port for request in sink.requests}) == 1
            monkeypatch.setattr(robots, "KEEP_ALIVE_SECONDS", 0)   # kept too long: a new connection
            robots.post_json(sink.url(), b"{}")
            assert len({request.client_port for request in sink.requests}) == 2
        finally:
            robots.close_kept_connections()


def test_a_server_that_closes_each_connection_gets_a_new_one_each_time(app, http_sink):
    for _ in range(2):
        robots.post_json(http_sink.url(), b"{}")
    assert len({request.client_port for request in http_sink.requests}) == 2


def test_a_kept_connection_the_server_has_closed_is_a_retry_and_the_next_post_connects_again(app):
    with HttpSink(keep_alive=True) as sink:
        robots.post_json(sink.url(), b"{}")
        kept = next(iter(robots._held.connections.values()))[0]
        kept.sock.shutdown(socket.SHUT_RDWR)   # as if the server had dropped it while it waited
        with pytest.raises(Retry):
            robots.post_json(sink.url(), b"{}")
        assert robots.post_json(sink.url(), b"{}")[0] == 200
        robots.close_kept_connections()
    assert len(sink.requests) == 2
