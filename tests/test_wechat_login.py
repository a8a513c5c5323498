"""One-tap WeChat login (网页授权) against a local stand-in for WeChat: login, join, bind, unbind,
and the refusals (wrong, reused or old state; reused code; WeChat down or slow)."""
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import sqlalchemy as sa
import time_machine

from app.database import utcnow
from app.extensions import db
from app.wechat import service
from app.wechat.models import OAuthState, WechatAccount
from tests.conftest import PASSWORD, english, login, make_user
from tests.wechat_servers import APP_ID, FakeWechat

WECHAT_UA = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Mobile Safari/537.36 MicroMessenger/8.0.50.2701"


@pytest.fixture
def wx():
    with FakeWechat() as fake:
        yield fake
    assert not fake.problems, fake.problems


@pytest.fixture
def wx_app(make_app, wx, tmp_path):
    app = make_app(UPLOAD_DIR=str(tmp_path), **wx.config)
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def phone(wx_app):
    client = wx_app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = WECHAT_UA
    return english(client)


def go_to_wechat(client, next_path="/"):
    """Start the flow; WeChat's page answers with the redirect back to us. Returns (authorize query, callback path)."""
    start = client.get(f"/auth/wechat?next={next_path}")
    assert start.status_code == 302
    location = start.headers["Location"]
    assert location.endswith("#wechat_redirect")
    back = requests.get(location.split("#")[0], allow_redirects=False, timeout=5)
    assert back.status_code == 302, back.text
    target = urlsplit(back.headers["Location"])
    assert target.path == "/auth/wechat/callback"
    return parse_qs(urlsplit(location.split("#")[0]).query), f"{target.path}?{target.query}"


def test_without_settings_no_button_and_no_routes(client, cohort):
    client.environ_base["HTTP_USER_AGENT"] = WECHAT_UA
    assert "wechat-login" not in client.get("/login").text
    assert "wechat-login" not in client.get("/join").text
    assert client.get("/auth/wechat").status_code == 404
    assert client.get("/api/v1/wechat/jssdk?url=http://127.0.0.1:5000/").status_code == 404


def test_button_only_inside_wechat(wx_app, phone, cohort):
    assert "wechat-login" in phone.get("/login").text
    assert "wechat-login" in phone.get("/join").text
    assert "wechat-login" in phone.get(f"/invite/{cohort.invite_code}").text
    outside = wx_app.test_client()
    assert "wechat-login" not in outside.get("/login").text


def test_authorize_url_as_wechat_wants_it(phone, wx):
    query, _ = go_to_wechat(phone, "/courses")
    assert query["appid"] == [APP_ID]
    assert query["redirect_uri"] == ["http://127.0.0.1:5000/auth/wechat/callback"]
    assert query["response_type"] == ["code"]
    assert query["scope"] == ["snsapi_userinfo"]   # no account known in this browser yet: her nickname
    state = db.session.get(OAuthState, query["state"][0])
    assert state.purpose == "login" and state.next_path == "/courses" and state.used_at is None


def test_bound_openid_logs_her_in(phone, wx, trainee):
    service.bind(db.session, trainee, "o-mei", utcnow())
    db.session.commit()
    wx.openid_for_next_code = "o-mei"
    _, callback = go_to_wechat(phone, "/courses")
    answer = phone.get(callback)
    assert answer.status_code == 302 and answer.headers["Location"] == "/courses"
    assert phone.get("/account/password").status_code == 200
    exchange = [r for r in wx.requests if r[1] == "/sns/oauth2/access_token"]
    assert exchange[0][2]["grant_type"] == "authorization_code" and exchange[0][2]["secret"] == "wx-test-secret"
    # Next time the silent scope will do.
    phone.post("/logout")
    query, _ = go_to_wechat(phone)
    assert query["scope"] == ["snsapi_base"]


def test_logout_after_a_wechat_login_ends_that_session_on_the_server(wx_app, phone, wx, trainee):
    service.bind(db.session, trainee, "o-mei", utcnow())
    db.session.commit()
    wx.openid_for_next_code = "o-mei"
    _, callback = go_to_wechat(phone)
    assert phone.get(callback).status_code == 302
    copied = {cookie.key: cookie.value for cookie in phone._cookies.values()}
    phone.post("/logout")
    thief = wx_app.test_client()
    for name, value in copied.items():
        thief.set_cookie(name, value)
    assert thief.get("/account/password").status_code == 302    # a copy of the old session cookie is dead


def test_binding_by_password_is_throttled_by_the_number_not_its_spelling(wx_app, phone, wx, cohort):
    fang = make_user("fang@example.com", cohort=cohort, mobile="13812345678")
    wx.openid_for_next_code = "o-fang"
    _, callback = go_to_wechat(phone)
    phone.get(callback)
    spellings = ["13812345678", "+86 138 1234 5678", "008613812345678", "8613812345678", "１３８１２３４５６７８"]
    for i, spelling in enumerate(spellings):
        wrong = phone.post("/auth/wechat/bind", data={"bind-identifier": spelling, "bind-password": "nope"},
                           environ_base={"REMOTE_ADDR": f"10.0.0.{i}"})
        assert wrong.status_code == 422 and "Wrong mobile number" in wrong.text
    right = phone.post("/auth/wechat/bind", data={"bind-identifier": "138-1234-5678", "bind-password": PASSWORD},
                       environ_base={"REMOTE_ADDR": "10.0.0.99"})
    assert right.status_code == 422 and "Too many attempts" in right.text
    assert service.account_of(db.session, "o-fang") is None and fang.id


def test_reused_state_is_refused_and_creates_nothing(phone, wx, trainee):
    service.bind(db.session, trainee, "o-mei", utcnow())
    db.session.commit()
    wx.openid_for_next_code = "o-mei"
    _, callback = go_to_wechat(phone)
    assert phone.get(callback).status_code == 302
    phone.post("/logout")
    again = phone.get(callback)
    assert again.status_code == 403 and "wechat-problem" in again.text
    assert phone.get("/account/password").status_code == 302   # not logged in


def test_wrong_state_and_state_from_another_browser(wx_app, phone, wx):
    _, callback = go_to_wechat(phone)
    assert phone.get(callback.replace("state=", "state=x")).status_code == 403
    other = wx_app.test_client()
    assert other.get(callback).status_code == 403          # another session: not hers
    assert phone.get(callback).status_code == 302          # still good in hers (and now spent)
    assert db.session.scalar(sa.select(sa.func.count(WechatAccount.id))) == 0


def test_state_older_than_ten_minutes(phone, wx):
    _, callback = go_to_wechat(phone)
    with time_machine.travel(utcnow() + timedelta(minutes=11)):
        answer = phone.get(callback)
    assert answer.status_code == 403 and "10 minutes" in answer.text


def test_reused_code_is_refused(phone, wx):
    _, callback = go_to_wechat(phone)
    assert phone.get(callback).status_code == 302
    code = parse_qs(urlsplit(callback).query)["code"][0]
    _, second = go_to_wechat(phone)
    state = parse_qs(urlsplit(second).query)["state"][0]
    answer = phone.get(f"/auth/wechat/callback?code={code}&state={state}")
    assert answer.status_code == 403 and "already used" in answer.text


def test_wechat_down_or_slow(wx_app, phone, wx):
    wx_app.config["WECHAT_HTTP_TIMEOUT"] = 0.5
    _, callback = go_to_wechat(phone)
    wx.down = True
    answer = phone.get(callback)
    assert answer.status_code == 502 and "cannot be reached" in answer.text
    wx.down = False
    _, callback = go_to_wechat(phone)
    wx.delay = 1.5
    answer = phone.get(callback)
    assert answer.status_code == 502
    wx.delay = 0


def test_error_code_from_wechat(phone, wx):
    _, callback = go_to_wechat(phone)
    wx.fail_next("/sns/oauth2/access_token", 40029)
    assert phone.get(callback).status_code == 403


def test_unknown_openid_joins_from_the_invite_page(phone, wx, cohort, synced):
    wx.openid_for_next_code = "o-newcomer"
    _, callback = go_to_wechat(phone, f"/invite/{cohort.invite_code}")
    answer = phone.get(callback)
    assert answer.headers["Location"] == f"/auth/wechat/join/{cohort.invite_code}"
    page = phone.get(answer.headers["Location"])
    assert 'value="小美"' in page.text     # her nickname from snsapi_userinfo
    assert "type=\"password\"" not in page.text
    made = phone.post(answer.headers["Location"], data={"name": "小美", "mobile": "138 0013 8000",
                                                          "timezone": "Asia/Shanghai"})
    assert made.status_code == 302
    binding = db.session.scalar(sa.select(WechatAccount))
    assert binding.openid == "o-newcomer" and binding.nickname == "小美"
    assert binding.user_id == service.account_of(db.session, "o-newcomer").id
    assert phone.get("/").status_code == 200


def test_unknown_openid_binds_an_account_by_password(phone, wx, trainee):
    wx.openid_for_next_code = "o-mei"
    _, callback = go_to_wechat(phone)
    assert phone.get(callback).headers["Location"] == "/auth/wechat/welcome"
    page = phone.get("/auth/wechat/welcome")
    assert page.status_code == 200 and "Join your cohort" in page.text
    wrong = phone.post("/auth/wechat/bind", data={"bind-identifier": trainee.email, "bind-password": "nope"})
    assert wrong.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count(WechatAccount.id))) == 0
    right = phone.post("/auth/wechat/bind", data={"bind-identifier": trainee.email, "bind-password": PASSWORD})
    assert right.status_code == 302
    assert service.account_of(db.session, "o-mei").id == trainee.id


def test_welcome_without_a_pending_wechat_goes_to_login(phone):
    assert phone.get("/auth/wechat/welcome").headers["Location"].startswith("/login")


def test_bind_and_unbind_from_her_account_page(phone, wx, trainee):
    assert login(phone, trainee.email).status_code == 302
    page = phone.get("/account/password")
    assert "wechat-binding" in page.text and "Bind WeChat" in page.text
    wx.openid_for_next_code = "o-mei"
    query, callback = go_to_wechat(phone, "/account/password")
    assert query["scope"] == ["snsapi_base"]
    assert phone.get(callback).headers["Location"] == "/account/password"
    assert service.binding_of(db.session, trainee.id).openid == "o-mei"
    assert "Unbind WeChat" in phone.get("/account/password").text
    assert phone.post("/account/wechat/unbind").status_code == 302
    assert service.binding_of(db.session, trainee.id) is None


def test_a_wechat_bound_elsewhere_cannot_be_bound_again(phone, wx, trainee, cohort):
    other = make_user("other@example.com", cohort=cohort)
    service.bind(db.session, other, "o-shared", utcnow())
    db.session.commit()
    assert login(phone, trainee.email).status_code == 302
    wx.openid_for_next_code = "o-shared"
    _, callback = go_to_wechat(phone, "/account/password")
    answer = phone.get(callback)
    assert answer.status_code == 409 and "another account" in answer.text
    assert service.binding_of(db.session, trainee.id) is None


# --- share cards: the JS-SDK signature ---------------------------------------------------------------

from app.wechat import jssdk  # noqa: E402


def test_signature_is_wechats_documented_example():
    """附录1 of WeChat's JS-SDK documentation, with its published answer."""
    ticket = "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"
    assert jssdk.signature(ticket, "Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value") \
        == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"


def test_jssdk_config_for_one_of_our_pages(phone, wx):
    url = "http://127.0.0.1:5000/invite/SPRING1?from=timeline"
    answer = phone.get("/api/v1/wechat/jssdk", query_string={"url": url + "#top"})
    assert answer.status_code == 200
    signed = answer.json
    assert signed["appId"] == APP_ID and len(signed["nonceStr"]) == 16
    assert signed["signature"] == jssdk.signature("ticket-1", signed["nonceStr"], signed["timestamp"], url)
    phone.get("/api/v1/wechat/jssdk", query_string={"url": url})
    paths = [r[1] for r in wx.requests]
    assert paths.count("/cgi-bin/ticket/getticket") == 1 and paths.count("/cgi-bin/stable_token") == 1   # cached


def test_jssdk_refuses_other_sites_and_says_when_wechat_is_down(phone, wx):
    assert phone.get("/api/v1/wechat/jssdk", query_string={"url": "https://evil.example.com/"}).status_code == 422
    assert phone.get("/api/v1/wechat/jssdk").status_code == 422
    wx.down = True
    answer = phone.get("/api/v1/wechat/jssdk", query_string={"url": "http://127.0.0.1:5000/"})
    assert answer.status_code == 503 and answer.json["error"] == "wechat_unavailable"


def test_share_card_only_inside_wechat(wx_app, phone, cohort):
    page = phone.get(f"/invite/{cohort.invite_code}").text
    assert 'id="wechat-share"' in page and "/static/wechat-share.js" in page
    assert 'data-img="http://127.0.0.1:5000/invite/SPRING1/poster.png"' in page
    assert 'id="wechat-share"' not in wx_app.test_client().get(f"/invite/{cohort.invite_code}").text
    sdk = phone.get("/static/vendor/weixin-js-sdk/jweixin-1.6.5.js")
    body = sdk.get_data()
    sdk.close()
    assert sdk.status_code == 200 and b"updateAppMessageShareData" in body
