"""Talking to WeChat's servers: the 网页授权 code exchange, the shared access token and JS-SDK
ticket, template and subscribe messages. Addresses come from WECHAT_API_BASE (tests point it at a
local server); every answer is JSON with `errcode` 0 (or none) on success.
"""
from datetime import datetime, timedelta

import requests
from flask import current_app
from sqlalchemy.orm import Session

from app.wechat.models import WechatCredential

REFRESH_MARGIN = timedelta(minutes=5)   # refresh a credential this long before WeChat says it expires
TOKEN_INVALID = (40001, 40014, 42001)   # invalid or expired access token: refresh, then try once more


class WechatError(Exception):
    """WeChat answered with an error code, or could not be reached (errcode None)."""

    def __init__(self, errcode: int | None, errmsg: str):
        super().__init__(f"wechat {errcode}: {errmsg}")
        self.errcode, self.errmsg = errcode, errmsg


def is_configured(config=None) -> bool:
    config = config or current_app.config
    return bool(config.get("WECHAT_APP_ID") and config.get("WECHAT_APP_SECRET"))


def _call(method: str, path: str, *, params: dict | None = None, body: dict | None = None) -> dict:
    config = current_app.config
    url = config["WECHAT_API_BASE"].rstrip("/") + path
    with requests.Session() as http:
        http.trust_env = False   # no proxy from the environment
        try:
            response = http.request(method, url, params=params, json=body, allow_redirects=False,
                                    timeout=float(config["WECHAT_HTTP_TIMEOUT"]))
        except requests.RequestException as e:
            raise WechatError(None, f"unreachable: {type(e).__name__}") from None
    if response.status_code != 200:
        raise WechatError(None, f"HTTP {response.status_code}")
    try:
        answer = response.json()
    except ValueError:
        raise WechatError(None, "not JSON") from None
    if not isinstance(answer, dict):
        raise WechatError(None, "not a JSON object")
    if answer.get("errcode"):
        raise WechatError(int(answer["errcode"]), str(answer.get("errmsg", ""))[:200])
    return answer


# --- 网页授权 (OAuth in WeChat's browser) ------------------------------------------------------

def exchange_code(code: str) -> dict:
    """The code WeChat gave her browser -> {"openid", "unionid"?, "access_token", "scope"}."""
    config = current_app.config
    answer = _call("GET", "/sns/oauth2/access_token", params={
        "appid": config["WECHAT_APP_ID"], "secret": config["WECHAT_APP_SECRET"], "code": code,
        "grant_type": "authorization_code"})
    if not isinstance(answer.get("openid"), str) or not answer["openid"]:
        raise WechatError(None, "no openid in the answer")
    return answer


def user_info(access_token: str, openid: str) -> dict:
    """Her nickname (snsapi_userinfo only)."""
    return _call("GET", "/sns/userinfo", params={"access_token": access_token, "openid": openid, "lang": "zh_CN"})


# --- the 公众号's access token and JS-SDK ticket, shared through the database -------------------

def _stored(session: Session, kind: str, now: datetime) -> str | None:
    row = session.get(WechatCredential, kind, populate_existing=True)
    return row.value if row is not None and row.expires_at - REFRESH_MARGIN > now else None


def _store(session: Session, kind: str, value: str, expires_in: int, now: datetime) -> str:
    row = session.get(WechatCredential, kind)
    if row is None:
        row = WechatCredential(kind=kind)
        session.add(row)
    row.value, row.expires_at, row.refreshed_at = value, now + timedelta(seconds=int(expires_in)), now
    session.flush()
    return value


def access_token(session: Session, now: datetime, force: bool = False) -> str:
    """The 公众号's access token. `stable_token` hands every caller the same token until it expires,
    so two processes refreshing at once do not invalidate each other's; force=True after WeChat said
    the token is invalid."""
    if not force and (value := _stored(session, "access_token", now)):
        return value
    config = current_app.config
    answer = _call("POST", "/cgi-bin/stable_token", body={
        "grant_type": "client_credential", "appid": config["WECHAT_APP_ID"], "secret": config["WECHAT_APP_SECRET"],
        "force_refresh": force})
    return _store(session, "access_token", answer["access_token"], answer.get("expires_in", 7200), now)


def with_token(session: Session, now: datetime, call):
    """call(token); when WeChat says the token is invalid or expired, refresh it and call once more."""
    try:
        return call(access_token(session, now))
    except WechatError as e:
        if e.errcode not in TOKEN_INVALID:
            raise
    return call(access_token(session, now, force=True))


def jsapi_ticket(session: Session, now: datetime) -> str:
    if value := _stored(session, "jsapi_ticket", now):
        return value
    answer = with_token(session, now, lambda token: _call(
        "GET", "/cgi-bin/ticket/getticket", params={"access_token": token, "type": "jsapi"}))
    return _store(session, "jsapi_ticket", answer["ticket"], answer.get("expires_in", 7200), now)


# --- messages ---------------------------------------------------------------------------------

def send_template(session: Session, now: datetime, *, openid: str, template_id: str, url: str | None,
                  data: dict[str, str], kind: str = "template", client_msg_id: str | None = None) -> dict:
    """A template message (模板消息) or a subscribe notification (订阅通知, kind "subscribe")."""
    fields = {name: {"value": value} for name, value in data.items()}
    if kind == "subscribe":
        path, body = "/cgi-bin/message/subscribe/bizsend", {"touser": openid, "template_id": template_id,
                                                            "page": url or "", "data": fields}
    else:
        path, body = "/cgi-bin/message/template/send", {"touser": openid, "template_id": template_id,
                                                        "url": url or "", "data": fields}
        if client_msg_id:
            body["client_msg_id"] = client_msg_id[:64]   # WeChat drops a second send with the same id
    return with_token(session, now, lambda token: _call("POST", path, params={"access_token": token}, body=body))

