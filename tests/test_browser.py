"""The trainee's walking path in headless Chromium at phone size, with screenshots.

Skipped when Debian's chromium is missing, unless REQUIRE_BROWSER=1 (as in CI).
"""
import os
import shutil
import threading
from pathlib import Path

import pytest
from flask_migrate import upgrade
from werkzeug.serving import make_server

from app import create_app
from app.content.loader import load_courses
from app.content.sync import sync_courses
from app.database import utcnow
from app.demo import seed_demo
from app.extensions import db
from tests.conftest import REPO

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = REPO / "test-output" / "browser"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True, "locale": "zh-CN"}

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but there is no chromium at {CHROMIUM}")
        pytest.skip("chromium is not installed")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """The real app on a migrated SQLite file with the real content and the demo data."""
    path = tmp_path_factory.mktemp("live") / "academy.db"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "browser", "CONTENT_ROOT": str(REPO)})
    with app.app_context():
        upgrade()
        courses, problems = load_courses(REPO)
        assert not problems
        sync_courses(db.session, courses, utcnow())
        seed_demo(db.session, utcnow())
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def register(page, base: str, name: str, mobile: str) -> None:
    page.goto(f"{base}/join")
    page.fill("input[name=code]", "DEMO2026")
    page.click("button[type=submit]")
    assert page.url.endswith("/invite/DEMO2026")
    page.fill("input[name=name]", name)
    page.fill("input[name=mobile]", mobile)
    page.fill("input[name=password]", "my-secret-88")
    page.fill("input[name=confirm]", "my-secret-88")
    shot(page, "01-register")
    page.click("button[type=submit]")
    assert page.url == f"{base}/"


def test_a_new_trainee_registers_opens_the_first_lesson_marks_it_done_and_sees_progress(browser, live_server):
    context = browser.new_context(**PHONE)
    page = context.new_page()
    outside = []
    page.on("request", lambda request: request.url.startswith(live_server) or outside.append(request.url))

    register(page, live_server, "张丽", "13700137000")
    assert "你好,张丽" in page.content()
    overall = page.locator("#progress-heading").inner_text()
    assert "0/16" in overall
    shot(page, "02-home")

    page.click("text=开始学习")
    assert page.url.endswith("/courses/start-here/targets-and-formula")
    assert page.locator("h1").inner_text() == "你的目标和一个公式"
    shot(page, "03-lesson")
    page.click("#mark-done")
    page.goto(live_server + "/")
    assert "1/16" in page.locator("#progress-heading").inner_text()
    assert page.locator('[data-course-progress="start-here"]').inner_text() == "1/1"
    width = page.locator('[aria-label="新手第一课"] .progress-bar').evaluate("e => e.style.width")
    assert width == "100%"
    shot(page, "04-home-after")
    assert not outside, f"requests left the site: {outside}"  # no CDN, no external request
    context.close()


def test_pages_fit_a_360px_phone_with_44px_tap_targets(browser, live_server):
    context = browser.new_context(**{**PHONE, "viewport": {"width": 360, "height": 740}})
    page = context.new_page()
    register(page, live_server, "陈静", "13600136000")
    for url in ("/", "/courses", "/courses/product-selection", "/courses/product-selection/scorecard",
                "/courses/product-selection/margin-math"):
        page.goto(live_server + url)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{url} scrolls sideways by {overflow}px"
        small = page.evaluate("""() => [...document.querySelectorAll(
            '.btn, .nav-link, .form-control, .form-select, .list-group-item-action, .brand')]
            .filter(e => e.offsetParent !== null && e.getBoundingClientRect().height < 44)
            .map(e => e.outerHTML.slice(0, 80))""")
        assert not small, f"{url}: tap targets under 44px: {small}"
    shot(page, "05-scorecard-360")
    context.close()


def test_the_walking_path_works_without_javascript_in_english(browser, live_server):
    context = browser.new_context(**{**PHONE, "locale": "en-US"}, java_script_enabled=False)
    page = context.new_page()
    register(page, live_server, "Lily", "+447700900123")
    assert "Hello, Lily" in page.content()
    page.click("text=Start the lesson")
    page.click("#mark-done")
    page.goto(live_server + "/courses/start-here")
    assert page.locator("#course-progress").inner_text() == "1/1"
    shot(page, "06-english-no-js")
    context.close()
