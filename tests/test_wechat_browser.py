"""A newcomer inside WeChat's browser: one-tap login from the join page to her first lesson, with a
local stand-in for WeChat's consent page and API. Headless Chromium with WeChat's user agent.

Skipped when Debian's chromium is missing, unless REQUIRE_BROWSER=1 (as in CI).
"""
import threading

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from werkzeug.serving import make_server

from app import create_app
from app.content import load_content
from app.content.sync import sync_courses, sync_milestones
from app.database import utcnow
from app.demo.seed import seed_demo
from app.extensions import db
from app.wechat.models import WechatAccount
from tests.conftest import REPO
from tests.test_browser import NEXT_LESSON, PHONE, SHOTS, browser  # noqa: F401  (the module's Chromium)
from tests.wechat_servers import FakeWechat

pytestmark = pytest.mark.browser

WECHAT_UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/120.0.0.0 Mobile Safari/537.36 XWEB/1200 MMWEBSDK/20240301 MicroMessenger/8.0.50.2701"
             "(0x28003237) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64")


@pytest.fixture(scope="module")
def wechat():
    with FakeWechat() as fake:
        yield fake
    assert not fake.problems, fake.problems


@pytest.fixture(scope="module")
def live(tmp_path_factory, wechat):
    """The real app, WeChat configured against the stand-in, with the real content and the demo cohort."""
    path = tmp_path_factory.mktemp("live-wechat") / "academy.db"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "browser",
                      "CONTENT_ROOT": str(REPO), **wechat.config})
    with app.app_context():
        upgrade()
        content = load_content(REPO)
        report = sync_courses(db.session, content.courses, utcnow())
        sync_milestones(db.session, content.programme, content.milestones, utcnow(), report)
        seed_demo(db.session, utcnow())
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    app.config["BASE_URL"] = f"http://127.0.0.1:{server.server_port}"   # WeChat sends her back here
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, app.config["BASE_URL"]
    server.shutdown()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"wechat-{name}.png"), full_page=True)


def test_one_tap_login_from_the_join_page_to_her_first_lesson(browser, live, wechat):  # noqa: F811
    app, base = live
    context = browser.new_context(**PHONE, user_agent=WECHAT_UA)
    page = context.new_page()
    wechat.openid_for_next_code, wechat.nickname = "o-browser-newcomer", "小雅"

    page.goto(f"{base}/join")
    button = page.locator("#wechat-login a")
    assert button.inner_text() == "微信一键登录"
    shot(page, "01-join")
    button.click()                      # to WeChat's consent page, which sends her straight back
    # (the address keeps WeChat's "#wechat_redirect": a redirect without a fragment inherits it)
    page.wait_for_url(lambda url: url.split("#")[0] == f"{base}/auth/wechat/welcome")
    assert "欢迎你，小雅" in page.locator("h1").inner_text()
    shot(page, "02-welcome")
    page.fill("input[name='invite-code']", "DEMO2026")
    page.locator("form", has=page.locator("input[name='invite-code']")).locator("button[type=submit]").click()
    page.wait_for_url(f"{base}/auth/wechat/join/DEMO2026")
    assert page.input_value("input[name=name]") == "小雅"
    assert page.locator("input[type=password]").count() == 0      # no password to invent
    page.fill("input[name=mobile]", "13700137011")
    shot(page, "03-join-form")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    assert "你好，小雅" in page.content()

    page.click(NEXT_LESSON)           # home leads with the day's task or the lesson: the lesson is one tap away
    assert page.url.endswith("/courses/start-here/targets-and-formula")
    assert page.locator("h1").inner_text() == "你的目标和一个公式"
    shot(page, "04-first-lesson")

    # Her WeChat is bound: after logging out, one tap logs her back in, silently.
    context.clear_cookies(name="session")     # logged out (the wx_seen cookie stays: the silent scope)
    page.goto(f"{base}/login")
    page.locator("#wechat-login a").click()
    page.wait_for_url(lambda url: url.split("#")[0] == f"{base}/")
    assert "你好，小雅" in page.content()
    with app.app_context():
        binding = db.session.scalar(sa.select(WechatAccount).where(WechatAccount.openid == "o-browser-newcomer"))
        assert binding is not None and binding.nickname == "小雅"
    scopes = [query["scope"] for method, path, query, _ in wechat.requests if path == "/connect/oauth2/authorize"]
    assert scopes == ["snsapi_userinfo", "snsapi_base"]
    context.close()
