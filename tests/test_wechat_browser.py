"""A newcomer inside WeChat's browser: one-tap login from the join page to her first lesson, with a
local stand-in for WeChat's consent page and API. Headless Chromium with WeChat's user agent.

Skipped when Debian's chromium is missing, unless REQUIRE_BROWSER=1 (as in CI).
"""
import io
import threading
from datetime import datetime, time
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import time_machine
import sqlalchemy as sa
from flask_migrate import upgrade
from werkzeug.datastructures import FileStorage
from werkzeug.serving import make_server

from app import create_app
from app.content import load_content
from app.content.sync import sync_courses, sync_milestones
from app.database import utcnow
from app.demo.seed import seed_demo
from app.extensions import db
from app.accounts.models import User
from app.camp import photos
from app.camp import service as camp
from app.checkins.service import record_checkin
from app.core.calendar import programme_day
from app.demo.seed import DEMO_PASSWORD
from app.wechat import jssdk
from app.wechat.models import WechatAccount
from tests.conftest import REPO
from tests.factories import jpeg
from tests.test_browser import NEXT_LESSON, PHONE, browser, log_in, shot  # noqa: F401  (the module's Chromium)
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
                      "CONTENT_ROOT": str(REPO), "UPLOAD_DIR": str(path.parent / "uploads"), **wechat.config})
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


def test_one_tap_login_from_the_join_page_to_her_first_lesson(browser, live, wechat):  # noqa: F811
    app, base = live
    context = browser.new_context(**PHONE, user_agent=WECHAT_UA)
    page = context.new_page()
    wechat.openid_for_next_code, wechat.nickname = "o-browser-newcomer", "小雅"

    page.goto(f"{base}/join")
    button = page.locator("#wechat-login a")
    assert button.inner_text() == "微信一键登录"
    shot(page, "wechat-01-join")
    button.click()                      # to WeChat's consent page, which sends her straight back
    # (the address keeps WeChat's "#wechat_redirect": a redirect without a fragment inherits it)
    page.wait_for_url(lambda url: url.split("#")[0] == f"{base}/auth/wechat/welcome")
    assert "欢迎你，小雅" in page.locator("h1").inner_text()
    shot(page, "wechat-02-welcome")
    page.fill("input[name='invite-code']", "DEMO2026")
    page.locator("form", has=page.locator("input[name='invite-code']")).locator("button[type=submit]").click()
    page.wait_for_url(f"{base}/auth/wechat/join/DEMO2026")
    assert page.input_value("input[name=name]") == "小雅"
    assert page.locator("input[type=password]").count() == 0      # no password to invent
    page.fill("input[name=mobile]", "13700137011")
    shot(page, "wechat-03-join-form")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    assert "你好，小雅" in page.content()

    page.click(NEXT_LESSON)           # home leads with the day's task or the lesson: the lesson is one tap away
    assert page.url.endswith("/courses/start-here/targets-and-formula")
    assert page.locator("h1").inner_text() == "你的目标怎么变成订单"
    shot(page, "wechat-04-first-lesson")

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


def wait_for_card(page, base: str, signed: list) -> dict:
    """The page's share card was signed by our server for this very page, and the JS-SDK came from us."""
    page.wait_for_selector("#wechat-share[data-ready='1']", state="attached")
    card = page.locator("#wechat-share")
    url = page.url.split("#")[0]
    asked = [parse_qs(urlsplit(r).query)["url"][0] for r in signed if urlsplit(r).path == "/api/v1/wechat/jssdk"]
    assert asked[-1] == url
    return {name: card.get_attribute(f"data-{name}") for name in ("title", "desc", "link", "img")}


def test_share_cards_on_the_invite_a_checkin_and_a_milestone(browser, live, wechat):  # noqa: F811
    """Inside WeChat, the invite page, a 打卡 done and a milestone reached each set a share card; the
    signature the page got verifies against WeChat's ticket, and nothing loads from another origin."""
    app, base = live
    with app.app_context():
        mei = db.session.scalar(sa.select(User).where(User.email == "trainee@demo.local"))
        zone = ZoneInfo(mei.cohort.timezone)
    # Noon where she lives: today's task is open whatever the hour this test runs (the server shares the clock).
    noon = datetime.combine(datetime.now(zone).date(), time(12), zone)
    with time_machine.travel(noon, tick=True):
        with app.app_context():
            mei = db.session.get(User, mei.id)
            day = programme_day(mei, utcnow())
            task = next(task for task in camp.plan(db.session) if task.day == day)
            photo = [photos.save_upload(db.session, mei, FileStorage(io.BytesIO(jpeg()), "p.jpg"), utcnow())]
            camp.record_task_checkin(db.session, mei, task, text="今天做完了。", number=5 if "number" in task.proof else None,
                                     photos=photo, now=utcnow())
            record_checkin(db.session, mei, {"date": noon.date().isoformat(), "earnings": "88", "orders": 3,
                                             "group_members": 50, "active_members": 12, "posts": 3}, utcnow())
            db.session.commit()
        context = browser.new_context(**PHONE, user_agent=WECHAT_UA)
        page = context.new_page()
        requests = []
        page.on("request", lambda r: requests.append(r.url))

        page.goto(f"{base}/invite/DEMO2026")
        invite = wait_for_card(page, base, requests)
        assert invite["link"].endswith("/invite/DEMO2026") and invite["img"].endswith("/invite/DEMO2026/poster.png")

        log_in(page, base, "trainee@demo.local", DEMO_PASSWORD)
        page.goto(f"{base}/today")
        assert page.locator("[data-state=done]").count() == 1
        checkin = wait_for_card(page, base, requests)
        assert f"{day}" in checkin["title"]
        shot(page, "wechat-05-checkin-share")

        page.goto(f"{base}/progress")
        milestone = wait_for_card(page, base, requests)
        assert "100" in milestone["title"]
        context.close()

    assert all(url.startswith(base) for url in requests), [u for u in requests if not u.startswith(base)]
    assert any(urlsplit(url).path.startswith("/static/vendor/weixin-js-sdk/") for url in requests)
    # What our server signed is what WeChat would verify: SHA-1 over its ticket, the nonce, time and page.
    with app.test_client() as client:
        url = f"{base}/progress"
        signed = client.get("/api/v1/wechat/jssdk", query_string={"url": url}).get_json()
        assert signed["signature"] == jssdk.signature(wechat.ticket, signed["nonceStr"], signed["timestamp"], url)
