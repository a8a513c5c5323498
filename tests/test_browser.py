"""The trainee's walking path in headless Chromium at phone size, with screenshots.

Skipped when Debian's chromium is missing, unless REQUIRE_BROWSER=1 (as in CI).
"""
import os
import shutil
import threading
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from flask_migrate import upgrade
from werkzeug.serving import make_server

from app import create_app
from app.content import load_content
from app.content.sync import sync_courses, sync_milestones
from app.database import utcnow
from app.demo.seed import seed_demo
from app.extensions import db
from tests.conftest import REPO
from tests.quiz_helpers import load_test_quizzes

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
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "browser", "CONTENT_ROOT": str(REPO),
                      "UPLOAD_DIR": str(path.parent / "uploads")})  # photos and posters never land in instance/
    with app.app_context():
        upgrade()
        content = load_content(REPO)
        assert not content.problems
        report = sync_courses(db.session, content.courses, utcnow())
        sync_milestones(db.session, content.programme, content.milestones, utcnow(), report)
        seed_demo(db.session, utcnow())
        db.session.commit()
        load_test_quizzes()  # quizzes with known answers, beside the real ones
        seed_week_trainee()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.app = app
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def live_url(live_server):
    return f"http://127.0.0.1:{live_server.server_port}"


WEEK_TRAINEE = ("week@example.com", "lantern-quay-2026")  # no part of her email in it


def seed_week_trainee() -> None:
    """A trainee on day 7 of her programme, so a browser can check in for the days before."""
    from datetime import timedelta
    from app.accounts.service import create_user
    from app.cohorts.models import Cohort
    from app.core.calendar import local_today
    now = utcnow()
    cohort = Cohort(name="Week cohort", invite_code="WEEK7", start_date=now.date())
    db.session.add(cohort)
    user = create_user(db.session, name="吴静", email=WEEK_TRAINEE[0], password=WEEK_TRAINEE[1], cohort=cohort)
    cohort.start_date = local_today(user, now) - timedelta(days=6)
    user.created_at = now - timedelta(days=8)
    db.session.commit()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def log_in(page, base: str, identifier: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=identifier]", identifier)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


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


def test_a_new_trainee_registers_opens_the_first_lesson_marks_it_done_and_sees_progress(browser, live_url):
    context = browser.new_context(**PHONE)
    page = context.new_page()
    outside = []
    page.on("request", lambda request: request.url.startswith(live_url) or outside.append(request.url))

    register(page, live_url, "张丽", "13700137000")
    assert "你好，张丽" in page.content()
    overall = page.locator("#progress-heading").inner_text()
    total = int(overall.rsplit("/", 1)[1])  # lessons and quizzes
    assert f"0/{total}" in overall
    shot(page, "02-home")

    page.click(NEXT_LESSON)
    assert page.url.endswith("/courses/start-here/targets-and-formula")
    assert page.locator("h1").inner_text() == "你的目标怎么变成订单"
    shot(page, "03-lesson")
    page.click("#mark-done")
    page.goto(live_url + "/")
    assert f"1/{total}" in page.locator("#progress-heading").inner_text()
    done, course_total = page.locator('[data-course-progress="start-here"]').inner_text().split("/")
    assert done == "1" and int(course_total) >= 3          # the orientation's lessons (and its quiz)
    width = page.locator('[aria-label="新手第一课"] .progress-bar').evaluate("e => e.style.width")
    assert width == f"{round(100 / int(course_total))}%"
    shot(page, "04-home-after")
    assert not outside, f"requests left the site: {outside}"  # no CDN, no external request
    context.close()


def test_pages_fit_a_360px_phone_with_44px_tap_targets(browser, live_url):
    context = browser.new_context(**{**PHONE, "viewport": {"width": 360, "height": 740}})
    page = context.new_page()
    register(page, live_url, "陈静", "13600136000")
    for url in ("/", "/courses", "/courses/product-selection", "/courses/product-selection/scorecard",
                "/courses/product-selection/margin-math"):
        page.goto(live_url + url)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{url} scrolls sideways by {overflow}px"
        small = page.evaluate("""() => [...document.querySelectorAll(
            '.btn, .nav-link, .form-control, .form-select, .list-group-item-action, .brand')]
            .filter(e => e.offsetParent !== null && e.getBoundingClientRect().height < 44)
            .map(e => e.outerHTML.slice(0, 80))""")
        assert not small, f"{url}: tap targets under 44px: {small}"
    shot(page, "05-scorecard-360")
    context.close()


def test_the_walking_path_works_without_javascript_in_english(browser, live_url):
    context = browser.new_context(**{**PHONE, "locale": "en-US"}, java_script_enabled=False)
    page = context.new_page()
    register(page, live_url, "Lily", "+447700900123")
    assert "Hello, Lily" in page.content()
    page.click(NEXT_LESSON)
    page.click("#mark-done")
    page.goto(live_url + "/courses/start-here")
    assert page.locator("#course-progress").inner_text().startswith("1/")   # one of the orientation's lessons
    shot(page, "06-english-no-js")
    context.close()


# Home leads with today's task when it is open (after 08:00 her time), else with the lesson: either way
# the next lesson is one tap away.
NEXT_LESSON = "#primary-action a[href^='/courses/'], #next-step-link"


def show_step(page, step: str) -> None:
    """On a phone the quiz shows one question at a time: go to this one (a question id, or "finish")."""
    page.evaluate("step => { location.hash = 'step-' + step; }", step)


def answer_in_page(page, attempt_questions, right: bool) -> None:
    """Fill the attempt's form as she would, with right (or no) answers, one screen at a time."""
    from app.quizzes.grading import correct_answer
    for question in attempt_questions:
        qid, kind = question["id"], question["type"]
        if not right or kind == "description":
            continue
        show_step(page, qid)
        key = correct_answer(question)
        if kind in ("single", "truefalse"):
            page.check(f"#{qid}-{key}")
        elif kind == "multiple":
            for option_id in key:
                page.check(f"#{qid}-{option_id}")
        elif kind == "matching":
            for left, choice in key.items():
                page.select_option(f"#{qid}-{left}", choice)
        elif kind == "numerical":
            page.fill(f"[name='q:{qid}']", "5.99")
        else:
            page.fill(f"[name='q:{qid}']", str(key))


def open_attempt_questions(app, phone_number: str) -> list[dict]:
    import sqlalchemy as sa
    from app.accounts.models import User
    from app.quizzes.models import QuizAttempt
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.mobile == phone_number))
        attempt = db.session.scalar(sa.select(QuizAttempt).where(
            QuizAttempt.user_id == user.id, QuizAttempt.state == "in_progress"))
        return attempt.questions


def test_a_trainee_fails_a_quiz_then_passes_it_and_the_course_progress_moves(browser, live_server, live_url):
    context = browser.new_context(**PHONE)
    page = context.new_page()
    register(page, live_url, "周敏", "13500135000")
    page.goto(live_url + "/courses/product-selection")
    assert page.locator("#course-progress").inner_text() == "0/6"
    page.click('[data-quiz="sample"]')
    page.click("#start-attempt")
    assert page.locator(".quiz-step:visible").count() == 1           # one question per screen on a phone
    show_step(page, "word")
    page.fill("[name='q:word']", "Moments")  # saved as she types, by the page's script
    page.wait_for_selector("#save-status[data-saved='1']")
    page.reload()
    assert page.input_value("[name='q:word']") == "Moments"  # a reload loses nothing
    page.fill("[name='q:word']", "")
    shot(page, "07-quiz")
    show_step(page, "finish")
    page.click("#submit-attempt")
    assert "/result" in page.url and page.locator("#score-percent").inner_text() == "0%"
    shot(page, "08-quiz-failed")

    page.click("text=回到测验")
    page.click("#start-attempt")
    answer_in_page(page, open_attempt_questions(live_server.app, "13500135000"), right=True)
    show_step(page, "finish")
    page.click("#submit-attempt")
    assert page.locator("#score-percent").inner_text() == "100%"
    shot(page, "09-quiz-passed")
    page.goto(live_url + "/courses/product-selection")
    assert page.locator("#course-progress").inner_text() == "1/6"
    assert "已通过" in page.locator('[data-quiz="sample"]').inner_text()
    page.goto(live_url + "/quizzes/sample")
    assert page.locator("#attempt-history a").count() == 2
    context.close()


def test_an_essay_goes_through_mentor_review_and_the_trainee_sees_the_comment(browser, live_url):
    trainee = browser.new_context(**PHONE)
    page = trainee.new_page()
    register(page, live_url, "孙燕", "13400134000")
    page.goto(live_url + "/quizzes/writing")
    page.click("#start-attempt")
    page.fill("[name='q:welcome']", "欢迎大家来到**宝妈好物群**!\n\n- 每天分享一个育儿小技巧\n- 你家宝宝几岁啦?")
    page.click("#step-welcome [data-goto]")                          # Next
    page.check("#easy-true")
    show_step(page, "finish")
    page.click("#submit-attempt")
    assert "等待批改" in page.content()
    result_url = page.url

    mentor = browser.new_context(**PHONE)
    coach = mentor.new_page()
    log_in(coach, live_url, "mentor@demo.local", "xiaob-demo-2026")
    coach.click("text=批改")
    coach.click("text=孙燕")
    coach.fill("#score-welcome-0", "5")
    coach.fill("#score-welcome-1", "4")
    coach.fill("#comment-welcome", "欢迎语很温暖!最后的问题问得好。")
    shot(coach, "10-mentor-review")
    coach.click("#save-review")
    assert "批改已保存" in coach.content()

    page.goto(result_url)
    assert "欢迎语很温暖" in page.locator(".mentor-review").inner_text()
    assert page.locator("#score-percent").inner_text() == "90.91%"
    shot(page, "11-essay-reviewed")
    trainee.close()
    mentor.close()


def test_check_ins_over_several_days_move_the_status_from_behind_to_achieved(browser, live_url):
    from datetime import date, timedelta
    context = browser.new_context(**PHONE)
    page = context.new_page()
    log_in(page, live_url, WEEK_TRAINEE[0], WEEK_TRAINEE[1])
    page.goto(live_url + "/progress")
    start = date.fromisoformat(page.locator("#programme-start").get_attribute("datetime"))
    for day, earnings in enumerate(["0", "5.50", "8", "6.30", "10", "4.20"]):  # days 1-6: ¥34.00
        page.goto(live_url + "/checkin")
        page.fill("input[name=date]", (start + timedelta(days=day)).isoformat())
        page.fill("input[name=earnings]", earnings)
        page.fill("input[name=group_members]", str(30 + 4 * day))
        page.fill("input[name=active_members]", str(5 + day))
        page.fill("input[name=orders]", str(day))
        page.click("#save-checkin")
    week = page.locator('[data-milestone="first-week"]')
    assert week.locator("[data-status]").get_attribute("data-status") == "behind"
    shot(page, "12-progress-behind")

    page.goto(live_url + "/checkin")  # today, day 7
    page.fill("input[name=earnings]", "66")
    page.click("#save-checkin")
    week = page.locator('[data-milestone="first-week"]')
    assert week.locator("[data-status]").get_attribute("data-status") == "achieved"
    assert "¥100.00 / ¥100.00" in week.inner_text()
    assert page.locator(".celebrate").count() == 1
    chart = page.locator("figure.chart svg")
    assert chart.get_attribute("role") == "img" and chart.bounding_box()["width"] <= 390
    shot(page, "13-progress-achieved")
    page.locator("figure.chart").screenshot(path=str(SHOTS / "14-chart-390.png"))
    page.goto(live_url + "/")
    assert page.locator(".celebrate").count() == 1
    shot(page, "15-home-celebrates")
    context.close()


def test_a_mentor_finds_the_behind_trainee_nudges_her_and_marks_her_contacted(browser, live_url):
    mentor = browser.new_context(**PHONE)
    page = mentor.new_page()
    log_in(page, live_url, "mentor@demo.local", "xiaob-demo-2026")
    page.click("text=Demo cohort")
    assert "李小美" in page.locator("#attention-top").inner_text()
    shot(page, "16-mentor-dashboard-phone")
    page.click("text=查看完整名单")
    attention_url = page.url
    item = page.locator("#attention-list [data-trainee]").filter(has_text="李小美")
    assert "落后" in item.inner_text()
    shot(page, "17-needs-attention")
    item.locator("a").first.click()
    page.fill("#nudge-body", "小美,今晚八点我们通个电话,一起看看第一周怎么追上来?")
    page.click("#nudge-form button")
    assert "已发到" in page.content()
    page.fill("#contacted-form input[name=body]", "电话聊了 10 分钟,她打算明天发第一次接龙")
    page.click("#contacted-form button")
    shot(page, "18-trainee-page")
    page.goto(attention_url)
    assert page.locator("#attention-list [data-trainee]").filter(has_text="李小美").count() == 0

    laptop = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    wide = laptop.new_page()
    log_in(wide, live_url, "mentor@demo.local", "xiaob-demo-2026")
    wide.click("text=Demo cohort")
    shot(wide, "19-mentor-dashboard-laptop")

    trainee = browser.new_context(**PHONE)
    her = trainee.new_page()
    log_in(her, live_url, "trainee@demo.local", "xiaob-demo-2026")
    assert her.locator("#tab-inbox-badge").inner_text().startswith("1")   # on the "me" tab
    her.click("[data-tab=me]")
    her.click("#inbox-link-me")
    assert "今晚八点" in her.locator("#messages").inner_text()
    her.click("#mark-read")                                  # reading changes nothing; this button does
    assert her.locator("#tab-inbox-badge").count() == 0
    shot(her, "20-trainee-inbox")
    for context in (mentor, laptop, trainee):
        context.close()


# --- the first-week camp, walked day by day with the server's clock moved forward -----------------

CAMPER = ("camp@example.com", "harbour-kite-2026")  # no part of her email in it


def _jpeg(color=(230, 120, 90)) -> bytes:
    import io
    from PIL import Image
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), color).save(buffer, "JPEG")
    return buffer.getvalue()


def _check_in_task(page, form, text: str, photo: bool = False, share: bool = False) -> None:
    """Fill the 打卡 form in `form` (a locator) with what the task asks for, and send it."""
    form.locator("textarea[name=text]").fill(text)
    if form.locator("input[name=number]").count():
        form.locator("input[name=number]").fill("12")
    if photo:
        form.locator("input[name=photos]").set_input_files(
            [{"name": "proof.jpg", "mimeType": "image/jpeg", "buffer": _jpeg()}])
    if share:
        form.locator("input[name=share]").check()
    form.locator("button[type=submit]").click()


def test_a_trainee_walks_her_first_camp_week(browser, live_server, live_url):
    """Days 1-7 at 390x844: tasks unlock on their day at 08:00, she checks in with a photo, misses
    day 3 and makes it up on day 4, her streak and calendar are right, her shared win reaches the
    feed, and the invite poster's QR code holds the invite link."""
    import io
    from datetime import datetime, time, timedelta
    from zoneinfo import ZoneInfo

    import time_machine
    import zxingcpp
    from PIL import Image

    from app.core.access import Role
    from app.accounts.service import create_user
    from app.cohorts.models import Cohort

    app = live_server.app
    app.config["BASE_URL"] = live_url
    zone = ZoneInfo("Asia/Shanghai")
    start = datetime.now(zone).date() + timedelta(days=1)   # forward in time only: sessions stay valid
    with app.app_context():
        cohort = Cohort(name="七日营 · 春", invite_code="CAMP7", start_date=start, timezone="Asia/Shanghai")
        db.session.add(cohort)
        cohort.mentors.append(create_user(db.session, name="王老师", email="camp-mentor@example.com",
                                          password=CAMPER[1], role=Role.MENTOR))
        create_user(db.session, name="林小满", email=CAMPER[0], password=CAMPER[1], cohort=cohort)
        create_user(db.session, name="周周", email="friend@example.com", password=CAMPER[1], cohort=cohort)
        db.session.commit()

    def moment(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(start + timedelta(days=day - 1), time(hour, minute), zone)

    context = browser.new_context(**PHONE)
    page = context.new_page()
    today_task = page.locator("#today-task")
    with time_machine.travel(moment(1, 7, 30), tick=True):
        log_in(page, live_url, *CAMPER)
        page.goto(live_url + "/today")
        assert today_task.locator("[data-state=locked]").count() == 1          # opens at 08:00
        assert page.locator("#upcoming [data-state=locked]").count() >= 1      # day 2 and on: locked
        shot(page, "40-camp-day1-locked")

    for day in (1, 2, 4, 5, 6, 7):                                             # day 3 is missed
        with time_machine.travel(moment(day, 9, 0), tick=True):
            page.goto(live_url + "/today")
            assert today_task.locator("[data-state=locked]").count() == 0
            _check_in_task(page, today_task.locator("form.proof-form"), f"第 {day} 天：做完了", photo=day in (1, 4),
                           share=day == 6)
            assert page.url == live_url + "/today"
            assert today_task.locator("[data-state=done]").count() == 1, page.locator("#camp-error").all_inner_texts()
            if day == 1:
                assert today_task.locator("img").count() == 1                  # her photo, served back to her
                page.fill("#today-earnings", "12.50")
                page.fill("#today-members", "31")
                page.click("#save-earnings")
                assert page.url == live_url + "/today"
                shot(page, "41-camp-day1-done")
            if day == 4:                                                       # 补卡 for day 3, within 48 h
                makeup = page.locator("#makeups details").first
                makeup.locator("summary").click()
                _check_in_task(page, makeup.locator("form.proof-form"), "补上第 3 天")
                assert page.locator("#makeups details").count() == 0
                shot(page, "42-camp-day4-made-up")

    with time_machine.travel(moment(7, 21, 0), tick=True):
        days = [start + timedelta(days=d) for d in range(7)]
        states = {}
        for month in sorted({d.strftime("%Y-%m") for d in days}):   # the week may span two months
            page.goto(f"{live_url}/calendar?month={month}")
            states.update((d, page.get_attribute(f'[data-date="{d.isoformat()}"]', "data-state"))
                          for d in days if d.strftime("%Y-%m") == month)
        assert [states[d] for d in days] == ["done", "done", "made_up", "done", "done", "done", "done"]
        page.goto(live_url + "/calendar")
        assert page.inner_text("#current-streak") == "7" and page.inner_text("#longest-streak") == "7"
        shot(page, "43-camp-calendar-zh")

        friend = browser.new_context(**PHONE).new_page()
        log_in(friend, live_url, "friend@example.com", CAMPER[1])
        friend.goto(live_url + "/feed")
        posts = friend.locator("#posts .feed-post")
        assert posts.count() == 1 and "第 6 天：做完了" in posts.first.inner_text() and "林小满" in posts.first.inner_text()
        shot(friend, "44-camp-feed-zh")
        friend.context.close()

        poster = page.request.get(f"{live_url}/invite/CAMP7/poster.png")
        assert poster.status == 200 and poster.headers["content-type"] == "image/png"
        image = Image.open(io.BytesIO(poster.body()))
        SHOTS.mkdir(parents=True, exist_ok=True)
        image.save(SHOTS / "45-invite-poster-zh.png")
        codes = zxingcpp.read_barcodes(image)
        assert [c.text for c in codes] == [f"{live_url}/invite/CAMP7"]

        # The same pages in English.
        page.goto(live_url + "/calendar")
        page.click("button[value=en]")
        for path, name in (("/today", "46-camp-today-en"), ("/calendar", "47-camp-calendar-en"),
                           ("/feed", "48-camp-feed-en"), ("/share", "49-camp-share-en")):
            page.goto(live_url + path)
            shot(page, name)
        Image.open(io.BytesIO(page.request.get(f"{live_url}/invite/CAMP7/poster.png").body())).save(
            SHOTS / "50-invite-poster-en.png")
    context.close()


NO_CLIPBOARD_API = "Object.defineProperty(Navigator.prototype, 'clipboard', {get: () => undefined, configurable: true})"


def test_each_copy_ready_script_copies_in_one_tap_with_or_without_the_clipboard_api(browser, live_url):
    context = browser.new_context(**PHONE)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_url)
    page = context.new_page()
    log_in(page, live_url, *WEEK_TRAINEE)
    page.goto(f"{live_url}/courses/group-building/one-to-one")
    quotes, buttons = page.locator(".lesson-body blockquote"), page.locator(".lesson-body .copy-button")
    assert quotes.count() == buttons.count() == 4
    assert buttons.first.bounding_box()["height"] >= 44
    buttons.first.click()
    # A selector, not wait_for_function: a string evaluated in the page is refused by our CSP (no 'unsafe-eval').
    page.locator(".copy-button").first.and_(page.locator("[data-copied='1']")).wait_for()
    assert buttons.first.inner_text() == "已复制"
    assert page.evaluate("navigator.clipboard.readText()") == (
        "王姐，上次你说（孩子早上不爱吃饭），我家这两周在吃一款燕麦，泡牛奶三分钟，孩子自己会去拿。"
        "我拍了一张照片给你看看。你要是想试，我把链接发你；不想也没关系～")
    shot(page, "08-copy-button")

    # WeChat's browser on a plain http page has no navigator.clipboard: the selection fallback copies.
    wechat = context.new_page()
    wechat.add_init_script(NO_CLIPBOARD_API)
    # Day 7's task opens at 08:00 her time: before that (on a night run), wait for 09:00, forward only.
    zone = ZoneInfo("Asia/Shanghai")
    opened = max(datetime.now(zone), datetime.combine(datetime.now(zone).date(), time(9, 0), zone))
    with time_machine.travel(opened, tick=True):
        wechat.goto(f"{live_url}/today")                 # day 7: the first group order's 接龙 template
        assert wechat.evaluate("navigator.clipboard === undefined")
        wechat.locator(".lesson-body .copy-button").first.click()
        wechat.locator(".copy-button").first.and_(wechat.locator("[data-copied='1']")).wait_for()
    page.bring_to_front()
    assert page.evaluate("navigator.clipboard.readText()") == (
        "#接龙 赣南脐橙5斤装 29.9元\n⏰ 今晚9点半截单；地址电话请私信我\n✅ 收到有坏果，拍照私信我，按平台规则处理\n1. 小林 1箱")
    context.close()
