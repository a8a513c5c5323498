"""Local stand-ins for WeChat's servers, Tencent Cloud SMS and Aliyun SMS, on 127.0.0.1, checking every
request as the real services do (paths, parameters, JSON bodies, the TC3-HMAC-SHA256 and Aliyun RPC
signatures recomputed).

    with FakeWechat() as wx: app config wx.config ...; wx.openid_for_next_code = "o-123"
    with FakeTencentSms() as sms: app config sms.config ...; sms.sent -> [(number, template, params)]
    with FakeAliyunSms() as sms: the same, params as a dict
"""
import base64
import hashlib
import hmac
import itertools
import json
import threading
from collections import deque
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlencode, urlsplit

from tests.servers import _HttpServer

APP_ID, APP_SECRET = "wx-test-appid", "wx-test-secret"


class _Server:
    """A threaded HTTP server whose handler calls self.handle(method, path, query, headers, body)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str, dict, dict]] = []   # method, path, query, json body
        self.problems: list[str] = []                            # requests the real service would refuse
        self.delay = 0.0
        self.down = False           # answer 502 to everything
        self._stopping = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self._serve()

            def do_POST(self):
                self._serve()

            def _serve(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urlsplit(self.path)
                query = dict(parse_qsl(parts.query))
                headers = {k.lower(): v for k, v in self.headers.items()}
                if server.delay:
                    server._stopping.wait(server.delay)
                if server.down:
                    status, answer, extra = 502, {"error": "bad gateway"}, {}
                else:
                    with server.lock:
                        status, answer, extra = server.handle(self.command, parts.path, query, headers, body)
                data = json.dumps(answer, ensure_ascii=False).encode() if answer is not None else b""
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self._server = _HttpServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class FakeWechat(_Server):
    """WeChat's open platform (the consent page) and API, for one 公众号."""

    def __init__(self):
        super().__init__()
        self.openid_for_next_code = "o-new-user"
        self.nickname = "小美"
        self.unionid = None
        self._codes: dict[str, dict] = {}          # code -> {openid, scope, used}
        self._counter = itertools.count(1)
        self.token = None                          # the current access token
        self.tokens_issued = 0
        self.ticket = "ticket-1"
        self.errors: dict[str, deque] = {}        # path -> errcodes to answer next
        self.messages: list[dict] = []            # accepted template/subscribe messages

    @property
    def config(self) -> dict:
        return {"WECHAT_APP_ID": APP_ID, "WECHAT_APP_SECRET": APP_SECRET, "WECHAT_API_BASE": self.base,
                "WECHAT_OPEN_BASE": self.base}

    def fail_next(self, path: str, errcode: int, times: int = 1) -> None:
        self.errors.setdefault(path, deque()).extend([errcode] * times)

    def expire_token(self) -> None:
        """WeChat invalidated the token (another party refreshed it): our cached one is now wrong."""
        with self.lock:
            self.token = f"token-expired-{next(self._counter)}"

    def _err(self, code: int, msg: str = "error"):
        return 200, {"errcode": code, "errmsg": msg}, {}

    def handle(self, method, path, query, headers, body):
        self.requests.append((method, path, query, _json(body)))
        if path == "/connect/oauth2/authorize":
            return self._authorize(query)
        if path in self.errors and self.errors[path]:
            return self._err(self.errors[path].popleft())
        if path == "/sns/oauth2/access_token":
            return self._exchange(method, query)
        if path == "/sns/userinfo":
            if method != "GET" or query.get("lang") != "zh_CN" or not query.get("openid"):
                self.problem(f"userinfo: {query}")
            return 200, {"openid": query.get("openid"), "nickname": self.nickname}, {}
        if path == "/cgi-bin/stable_token":
            return self._stable_token(method, _json(body))
        if path == "/cgi-bin/ticket/getticket":
            if query.get("type") != "jsapi":
                self.problem(f"getticket type {query.get('type')}")
                return self._err(40097, "invalid args")
            if query.get("access_token") != self.token:
                return self._err(40001, "invalid credential")
            return 200, {"errcode": 0, "errmsg": "ok", "ticket": self.ticket, "expires_in": 7200}, {}
        if path in ("/cgi-bin/message/template/send", "/cgi-bin/message/subscribe/bizsend"):
            return self._message(method, path, query, _json(body))
        self.problem(f"unknown path {method} {path}")
        return 404, None, {}

    def _authorize(self, query):
        """The consent page: she agrees at once, and WeChat sends her browser back with a code."""
        expected = ["appid", "redirect_uri", "response_type", "scope", "state"]
        if list(query) != expected:
            self.problem(f"authorize parameters {list(query)}")
        if query.get("appid") != APP_ID or query.get("response_type") != "code" or query.get("scope") not in (
                "snsapi_base", "snsapi_userinfo") or not query.get("state"):
            self.problem(f"authorize {query}")
            return 400, {"errcode": 10003, "errmsg": "redirect_uri or parameters wrong"}, {}
        code = f"code-{next(self._counter)}"
        self._codes[code] = {"openid": self.openid_for_next_code, "scope": query["scope"], "used": False}
        target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
        return 302, None, {"Location": target}

    def _exchange(self, method, query):
        if method != "GET" or query.get("appid") != APP_ID or query.get("secret") != APP_SECRET or query.get(
                "grant_type") != "authorization_code":
            self.problem(f"oauth2/access_token {method} {query}")
            return self._err(40013, "invalid appid")
        found = self._codes.get(query.get("code", ""))
        if found is None:
            return self._err(40029, "invalid code")
        if found["used"]:
            return self._err(40163, "code been used")
        found["used"] = True
        answer = {"access_token": f"oauth-{query['code']}", "expires_in": 7200, "refresh_token": "r",
                  "openid": found["openid"], "scope": found["scope"]}
        if self.unionid:
            answer["unionid"] = self.unionid
        return 200, answer, {}

    def _stable_token(self, method, body):
        if method != "POST" or not isinstance(body, dict) or body.get("grant_type") != "client_credential" or body.get(
                "appid") != APP_ID or body.get("secret") != APP_SECRET:
            self.problem(f"stable_token {method} {body}")
            return self._err(40013, "invalid appid")
        if self.token is None or body.get("force_refresh") or self.token.startswith("token-expired"):
            self.tokens_issued += 1
            self.token = f"token-{self.tokens_issued}"
        return 200, {"access_token": self.token, "expires_in": 7200}, {}

    def _message(self, method, path, query, body):
        if method != "POST" or not isinstance(body, dict):
            self.problem(f"{path}: {method}, body {body!r}")
            return self._err(44002, "empty post data")
        if query.get("access_token") != self.token:
            return self._err(40001, "invalid credential, access_token is invalid or not latest")
        link = "page" if path.endswith("bizsend") else "url"
        data = body.get("data")
        if not body.get("touser") or not body.get("template_id") or link not in body or not isinstance(data, dict) \
                or not data or not all(isinstance(v, dict) and isinstance(v.get("value"), str) for v in data.values()):
            self.problem(f"{path}: body {body}")
            return self._err(47001, "data format error")
        too_long = [k for k, v in data.items() if k.startswith("thing") and len(v["value"]) > 20]
        if too_long:
            self.problem(f"{path}: thing fields over 20 characters: {too_long}")
            return self._err(47003, "argument invalid! data.thing.value invalid")
        self.messages.append({"path": path, **body})
        return 200, {"errcode": 0, "errmsg": "ok", "msgid": next(self._counter)}, {}


def _json(body: bytes):
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


# --- Tencent Cloud SMS --------------------------------------------------------------------------

SECRET_ID, SECRET_KEY, SDK_APP_ID = "AKIDtestsecretid", "test-secret-key", "1400000001"


def tc3_signature(secret_key: str, service: str, timestamp: int, method: str, uri: str, query: str,
                  headers: dict[str, str], signed_headers: str, payload: bytes) -> str:
    """TC3-HMAC-SHA256 as Tencent Cloud documents it, computed from what was received."""
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip().lower()}\n" for name in signed_headers.split(";"))
    canonical = "\n".join([method, uri, query, canonical_headers, signed_headers, hashlib.sha256(payload).hexdigest()])
    day = datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d")
    scope = f"{day}/{service}/tc3_request"
    to_sign = "\n".join(["TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical.encode()).hexdigest()])

    def mac(key: bytes, text: str) -> bytes:
        return hmac.new(key, text.encode(), hashlib.sha256).digest()

    key = mac(mac(mac(("TC3" + secret_key).encode(), day), service), "tc3_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


class FakeTencentSms(_Server):
    """sms.tencentcloudapi.com's SendSms (2021-01-11): checks the headers and the signature, keeps what it sent."""

    def __init__(self):
        super().__init__()
        self.sent: list[tuple[str, str, list[str]]] = []   # (number, template id, params)
        self.refuse_next: deque[str] = deque()              # status codes such as LimitExceeded.PhoneNumberDailyLimit

    def config(self, template: str = "100001") -> dict:
        return {"SMS_PROVIDER": "tencent", "SMS_SECRET_ID": SECRET_ID, "SMS_SECRET_KEY": SECRET_KEY,
                "SMS_SDK_APP_ID": SDK_APP_ID, "SMS_SIGN_NAME": "小B学院", "SMS_TEMPLATE_CODE": template,
                "SMS_ENDPOINT": f"127.0.0.1:{self.port}", "SMS_SCHEME": "http"}

    def codes(self) -> list[str]:
        return [params[0] for _, template, params in self.sent if template == "100001"]

    def _error(self, code: str, message: str):
        return 200, {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": "req-err"}}, {}

    def handle(self, method, path, query, headers, body):
        payload = _json(body)
        self.requests.append((method, path, query, payload))
        if method != "POST" or path != "/":
            self.problem(f"{method} {path}")
            return 404, None, {}
        if headers.get("x-tc-action") != "SendSms" or headers.get("x-tc-version") != "2021-01-11" \
                or not headers.get("x-tc-region"):
            self.problem(f"headers {headers}")
            return self._error("InvalidParameter", "action or version")
        auth = headers.get("authorization", "")
        try:
            algorithm, rest = auth.split(" ", 1)
            fields = dict(part.strip().split("=", 1) for part in rest.split(","))
            secret_id, day, service, _ = fields["Credential"].split("/")
            timestamp = int(headers["x-tc-timestamp"])
        except (ValueError, KeyError):
            self.problem(f"authorization {auth!r}")
            return self._error("AuthFailure.InvalidAuthorization", "malformed")
        expected = tc3_signature(SECRET_KEY, "sms", timestamp, method, path, "", headers, fields["SignedHeaders"], body)
        if algorithm != "TC3-HMAC-SHA256" or secret_id != SECRET_ID or service != "sms" \
                or "host" not in fields["SignedHeaders"].split(";") or not hmac.compare_digest(expected, fields["Signature"]):
            self.problem("signature")
            return self._error("AuthFailure.SignatureFailure", "The provided credentials could not be validated.")
        if day != datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d"):
            self.problem("credential date")
            return self._error("AuthFailure.SignatureFailure", "date")
        if not isinstance(payload, dict) or payload.get("SmsSdkAppId") != SDK_APP_ID or not payload.get("SignName") \
                or not payload.get("TemplateId") or not isinstance(payload.get("PhoneNumberSet"), list) \
                or not all(isinstance(n, str) and n.startswith("+") for n in payload["PhoneNumberSet"]):
            self.problem(f"body {payload}")
            return self._error("InvalidParameterValue", "body")
        statuses = []
        for number in payload["PhoneNumberSet"]:
            if self.refuse_next:
                code = self.refuse_next.popleft()
                statuses.append({"SerialNo": "", "PhoneNumber": number, "Fee": 0, "SessionContext": "",
                                 "Code": code, "Message": "refused", "IsoCode": "CN"})
                continue
            self.sent.append((number, payload["TemplateId"], list(payload.get("TemplateParamSet") or [])))
            statuses.append({"SerialNo": f"serial-{len(self.sent)}", "PhoneNumber": number, "Fee": 1,
                             "SessionContext": payload.get("SessionContext", ""), "Code": "Ok",
                             "Message": "send success", "IsoCode": "CN"})
        return 200, {"Response": {"SendStatusSet": statuses, "RequestId": "req-1"}}, {}


# --- Aliyun SMS ---------------------------------------------------------------------------------

ALIYUN_KEY_ID, ALIYUN_KEY_SECRET = "LTAItestkeyid", "aliyun-test-secret"


def aliyun_signature(secret: str, method: str, params: dict[str, str]) -> str:
    """Alibaba Cloud's RPC signature as its documentation builds it: form-encode, then %20 for "+",
    %2A for "*" and "~" for %7E; sort; HMAC-SHA1 keyed with the secret and "&"."""
    def encode(text: str) -> str:
        return urlencode({"": text})[1:].replace("+", "%20").replace("*", "%2A").replace("%7E", "~")

    canonical = "&".join(f"{encode(k)}={encode(v)}" for k, v in sorted(params.items()) if k != "Signature")
    to_sign = f"{method}&{encode('/')}&{encode(canonical)}"
    return base64.b64encode(hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()).decode()


class FakeAliyunSms(_Server):
    """dysmsapi.aliyuncs.com's SendSms (2017-05-25): the common parameters, the signature recomputed,
    a 15-minute clock window, each SignatureNonce once; keeps what it sent."""

    REQUIRED = ("AccessKeyId", "Action", "Format", "PhoneNumbers", "Signature", "SignatureMethod", "SignatureNonce",
                "SignatureVersion", "SignName", "TemplateCode", "Timestamp", "Version")

    def __init__(self):
        super().__init__()
        self.sent: list[tuple[str, str, dict]] = []   # (number, template code, params)
        self.refuse_next: deque[str] = deque()       # codes such as isv.BUSINESS_LIMIT_CONTROL
        self.nonces: set[str] = set()

    def config(self, template: str = "SMS_100001") -> dict:
        return {"SMS_PROVIDER": "aliyun", "SMS_SECRET_ID": ALIYUN_KEY_ID, "SMS_SECRET_KEY": ALIYUN_KEY_SECRET,
                "SMS_SIGN_NAME": "小B学院", "SMS_TEMPLATE_CODE": template,
                "SMS_ENDPOINT": f"127.0.0.1:{self.port}", "SMS_SCHEME": "http"}

    def codes(self) -> list[str]:
        return [params["code"] for _, template, params in self.sent if template == "SMS_100001"]

    def _error(self, code: str, status: int = 400):
        return status, {"Code": code, "Message": code, "RequestId": "req-err"}, {}

    def handle(self, method, path, query, headers, body):
        form = dict(parse_qsl(body.decode(), keep_blank_values=True)) if body else {}
        self.requests.append((method, path, query, form))
        if method != "POST" or path != "/" or not headers.get("content-type", "").startswith(
                "application/x-www-form-urlencoded"):
            self.problem(f"{method} {path} {headers.get('content-type')}")
            return self._error("InvalidParameter", 404)
        params = {**query, **form}
        if missing := [name for name in self.REQUIRED if not params.get(name)]:
            self.problem(f"missing {missing}")
            return self._error("MissingParameter")
        if (params["Action"], params["Version"], params["Format"], params["SignatureMethod"],
                params["SignatureVersion"]) != ("SendSms", "2017-05-25", "JSON", "HMAC-SHA1", "1.0"):
            self.problem(f"common parameters {params}")
            return self._error("InvalidParameter")
        if params["AccessKeyId"] != ALIYUN_KEY_ID:
            self.problem("key id")
            return self._error("InvalidAccessKeyId.NotFound", 404)
        if not hmac.compare_digest(aliyun_signature(ALIYUN_KEY_SECRET, method, params), params["Signature"]):
            self.problem("signature")
            return self._error("SignatureDoesNotMatch")
        try:
            stamp = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            self.problem(f"timestamp {params['Timestamp']}")
            return self._error("InvalidTimeStamp.Format")
        if abs((datetime.now(timezone.utc) - stamp).total_seconds()) > 900:
            self.problem("timestamp window")
            return self._error("InvalidTimeStamp.Expired")
        if params["SignatureNonce"] in self.nonces:
            self.problem("nonce replayed")
            return self._error("SignatureNonceUsed")
        self.nonces.add(params["SignatureNonce"])
        template_params = _json(params.get("TemplateParam", "").encode()) if params.get("TemplateParam") else {}
        number = params["PhoneNumbers"]
        if not isinstance(template_params, dict) or not number.isdigit() or number.startswith("0"):
            self.problem(f"body {params}")
            return self._error("isv.INVALID_PARAMETERS")
        if self.refuse_next:
            return 200, {"Code": self.refuse_next.popleft(), "Message": "refused", "RequestId": "req-2"}, {}
        self.sent.append((number, params["TemplateCode"], template_params))
        return 200, {"Code": "OK", "Message": "OK", "BizId": f"biz-{len(self.sent)}", "RequestId": "req-1"}, {}
