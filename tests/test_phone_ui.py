"""What a newcomer and a mentor meet on a phone: one daily action, the tab bar, no dead ends, no lost work,
and the small bugs of issue 17, each with its test."""
import csv
import io
import re
import unicodedata
from datetime import timedelta

import sqlalchemy as sa

from app.accounts.models import User
from app.core.access import Role
from app.checkins.service import record_checkin
from app.cohorts import stats_views
from app.database import utcnow
from app.demo.seed import seed_demo
from app.extensions import db
from app.cohorts.models import Cohort
from app.quizzes import service as quizzes
from app.quizzes.models import QuizAttempt
from tests.conftest import english, login, make_user
from tests.quiz_helpers import load_test_quizzes
from tests.factories import START, camp_task
from tests.test_camp_views import clock, mei, web  # noqa: F401 (fixtures)


def primary(html: str) -> str:
    return re.search(r'id="primary-action" data-action="(\w+)"', html).group(1)


def green_buttons(html: str) -> int:
    return len(re.findall(r'class="btn btn-success[ "]', html))


# --- one daily action -------------------------------------------------------------------------------

def test_home_leads_with_one_action_that_follows_her_day(web, mei):
    html = web.get("/").text
    assert primary(html) == "task" and green_buttons(html) == 1           # the day's task: 打卡
    assert 'href="/today" id="camp-today"' in html and "Do today's task (打卡)" in html
    web.post(f"/today/{camp_task(1).key}", data={"number": "30"})
    html = web.get("/").text
    assert primary(html) == "earnings" and green_buttons(html) == 1       # then 记收入, on the Today screen
    assert 'href="/today#earnings-checkin"' in html and "Log today's earnings" in html
    record_checkin(db.session, mei, {"date": START.isoformat(), "earnings": "12"}, utcnow())
    db.session.commit()
    html = web.get("/").text
    assert primary(html) == "lesson" and green_buttons(html) == 1         # then the next lesson
    assert "Today's earnings are logged." in html


def test_in_chinese_the_task_is_daka_and_the_earnings_form_is_ji_shouru(client, mei, clock):
    mei.locale = "zh_CN"
    db.session.commit()
    login(client, mei.email)
    today = client.get("/today").text
    assert "打卡" in today and "记收入" in today and "打卡之后" in today   # folded until the 打卡 is done
    assert "<h1 class=\"h4\">记收入</h1>" in client.get("/checkin").text
    assert "今日打卡" not in client.get("/progress").text


def test_after_the_daka_a_share_card_and_when_the_next_task_opens(web):
    before = web.get("/today").text
    assert 'id="share-card"' not in before and "<details open>" not in before
    web.post(f"/today/{camp_task(1).key}", data={"number": "30", "share": "1"})
    html = web.get("/today").text
    assert 'id="share-card"' in html and "It is on your cohort's feed too." in html
    assert re.search(r'id="next-task">Next: [^<]+, opens [^<]*8:00', html)
    assert "<details open>" in html                                       # 记收入 opens once the 打卡 is done


# --- navigation ---------------------------------------------------------------------------------------

def test_a_trainee_has_a_bottom_tab_bar_with_the_inbox_badge_on_me(web, mei):
    from app.cohorts.mentoring import send_nudge
    html = web.get("/courses").text
    tabs = re.findall(r'data-tab="(\w+)"', html)
    assert tabs == ["today", "learn", "progress", "feed", "me"]
    assert re.search(r'class="tab active" href="/courses" data-tab="learn" aria-current="page"', html)
    assert html.count("<svg class=\"tab-icon\"") == 5 and "cdn" not in html.lower()
    assert 'id="tab-inbox-badge"' not in html
    coach = make_user("coach@example.com", Role.MENTOR, cohort=mei.cohort)
    send_nudge(db.session, coach, mei, "加油", utcnow())
    db.session.commit()
    assert re.search(r'id="tab-inbox-badge">1<', web.get("/").text)
    me = web.get("/me").text
    assert 'href="/inbox"' in me and 'href="/preferences"' in me and 'data-tab="me" aria-current="page"' in me


def test_mentors_keep_the_header_menu_and_have_no_tab_bar(client, cohort):
    make_user("coach@example.com", Role.MENTOR, cohort=cohort)
    login(client, "coach@example.com")
    assert 'id="tabbar"' not in client.get("/cohorts").text


# --- bugs ---------------------------------------------------------------------------------------------

def test_the_pager_says_page_and_the_lesson_page_says_lesson(admin_client, synced, cohort, trainee):
    db.session.add_all(User(name=f"Bulk {n:03d}", email=f"bulk{n}@example.com", password_hash="x", role=Role.TRAINEE)
                       for n in range(55))
    db.session.commit()
    admin_client.set_cookie("lang", "zh_CN")
    users = admin_client.get("/admin/users").text
    assert 'rel="next"' in users and "下一页" in users and "下一课" not in users
    lesson = admin_client.get("/courses/group-building/welcome-and-rules").text
    assert "下一课 →" in lesson and "← 上一课" in lesson


def two_essay_attempt(trainee, writing):
    attempt = quizzes.start_attempt(db.session, trainee, writing, utcnow())
    welcome = next(q for q in attempt.questions if q["id"] == "welcome")
    attempt.questions = [*attempt.questions, {**welcome, "id": "second"}]
    attempt.max_score += welcome["points"]
    quizzes.submit_attempt(db.session, attempt, {"welcome": "大家好", "second": "第二段", "easy": "true"}, utcnow())
    db.session.commit()
    return attempt


def test_one_form_saves_the_review_of_every_essay_and_a_refusal_loses_nothing(make_app, synced, cohort, trainee):
    _, writing = load_test_quizzes()
    make_user("coach@example.com", Role.MENTOR, cohort=cohort)
    attempt = two_essay_attempt(trainee, writing)
    coach = make_app().test_client()
    login(coach, "coach@example.com")
    page = coach.get(f"/review/{attempt.id}").text
    assert page.count('id="review-form"') == 1 and 'name="question_id"' not in page   # one form for both
    typed = {"score-welcome-0": "5", "score-welcome-1": "4", "comment-welcome": "第一段很好",
             "score-second-0": "99", "score-second-1": "1", "comment-second": "第二段也不错"}
    refused = coach.post(f"/review/{attempt.id}", data=typed)
    assert refused.status_code == 422 and db.session.scalars(sa.select(QuizAttempt)).one().reviews == []
    for value in ("第一段很好", "第二段也不错", 'value="99"', 'value="5"'):   # everything typed is still there
        assert value in refused.text
    saved = coach.post(f"/review/{attempt.id}", data={**typed, "score-second-0": "3"})
    assert saved.status_code == 302
    db.session.refresh(attempt)
    assert {r.question_id: (r.points, r.comment) for r in attempt.reviews} == {
        "welcome": (9, "第一段很好"), "second": (4, "第二段也不错")}
    assert attempt.state == QuizAttempt.GRADED


def test_a_graded_essay_no_longer_says_it_waits_for_the_mentor(make_app, synced, cohort, trainee):
    _, writing = load_test_quizzes()
    writing.feedback_en = "It's with your mentor now."
    mentor = make_user("coach@example.com", Role.MENTOR, cohort=cohort)
    attempt = quizzes.start_attempt(db.session, trainee, writing, utcnow())
    quizzes.submit_attempt(db.session, attempt, {"welcome": "大家好", "easy": "true"}, utcnow())
    db.session.commit()
    her = english(make_app().test_client())
    login(her, trainee.email)
    assert "It's with your mentor now." in her.get(f"/attempts/{attempt.id}/result").text
    quizzes.review_essay(db.session, mentor, attempt, "welcome", [5, 4], "好", utcnow())
    db.session.commit()
    result = her.get(f"/attempts/{attempt.id}/result").text
    assert "with your mentor now" not in result and "Awaiting review" not in result
    assert 'id="reviewed-note"' in result


def test_a_timed_quiz_says_when_time_runs_out_and_what_happened_when_she_returns(make_app, synced, trainee):
    sample, _ = load_test_quizzes()
    sample.time_limit_minutes = 10
    db.session.commit()
    her = english(make_app().test_client())
    login(her, trainee.email)
    take = her.post(f"/quizzes/{sample.slug}/start").location
    page = her.get(take).text
    assert 'id="clock-runs"' in page and "The clock keeps running while you are away" in page
    saved = her.post(take, data={"q:word": "Moments", "action": "save"}, follow_redirects=True).text
    assert "Come back before" in saved
    attempt = db.session.scalars(sa.select(QuizAttempt)).one()
    attempt.deadline_at = utcnow() - timedelta(minutes=5)                # she comes back after the limit
    db.session.commit()
    back = her.get(take, follow_redirects=True).text
    assert 'id="time-ran-out"' in back and "this counted as try 1" in back
    assert "time ran out" in her.get(f"/quizzes/{sample.slug}").text


def test_lesson_counts_leave_quizzes_out(logged_in, synced):
    from app.learning.models import Lesson
    lessons = db.session.scalar(sa.select(sa.func.count(Lesson.id)).where(Lesson.is_archived.is_(False)))
    page = english(logged_in).get("/courses").text
    assert f"0 of {lessons} lessons done" in page


def test_a_trainee_who_joined_by_mobile_adds_an_email(client, cohort):
    make_user("taken@example.com", cohort=cohort)
    user = create_mobile_trainee(cohort)
    login(client, "13800138000")
    me = english(client).get("/me").text
    assert 'name="email"' in me and "Add an email address" in me
    refused = client.post("/account/email", data={"email": "Taken@example.com"})
    assert refused.status_code == 422 and "already belongs to another account" in refused.text
    assert client.post("/account/email", data={"email": "not an email"}).status_code == 422
    assert client.post("/account/email", data={"email": " Mei@Example.com "}).status_code == 302
    db.session.refresh(user)
    assert user.email == "mei@example.com"
    assert client.post("/account/email", data={"email": ""}).status_code == 302   # a mobile to log in with
    db.session.refresh(user)
    assert user.email is None


def create_mobile_trainee(cohort):
    from app.accounts.service import create_user
    from tests.conftest import PASSWORD
    user = create_user(db.session, name="Mei", mobile="13800138000", password=PASSWORD, cohort=cohort)
    db.session.commit()
    return user


def test_an_email_login_cannot_remove_its_email(logged_in):
    assert english(logged_in).post("/account/email", data={"email": ""}).status_code == 422


def test_the_login_page_links_to_forgot_password(client):
    page = english(client).get("/login").text
    assert 'href="/forgot" id="forgot-password"' in page
    assert "ask for a password reset link" in client.get("/forgot").text
    assert 'id="forgot-sms"' not in client.get("/forgot").text


def test_with_sms_codes_forgot_password_leads_with_the_text_message_reset(make_app):
    app = make_app(SMS_PROVIDER="tencent", SMS_SECRET_ID="id", SMS_SECRET_KEY="key", SMS_SDK_APP_ID="1400000000")
    with app.app_context():
        page = app.test_client().get("/forgot").text
    assert 'href="/auth/sms/reset" id="forgot-sms"' in page


def test_the_favicon_is_served_and_linked(client):
    with client.get("/favicon.ico") as response:
        assert response.status_code == 200 and response.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    with client.get("/static/favicon.svg") as response:
        assert response.status_code == 200
    assert 'rel="icon" href="/static/favicon.svg"' in client.get("/login").text


def test_the_csv_export_speaks_chinese_in_the_chinese_interface(client, synced, cohort, trainee):
    make_user("coach@example.com", Role.MENTOR, cohort=cohort)
    login(client, "coach@example.com")
    client.set_cookie("lang", "zh_CN")
    text = client.get(f"/cohorts/{cohort.id}/export.csv").data.decode("utf-8-sig")
    header, row = list(csv.reader(io.StringIO(text)))[:2]
    assert header[:4] == ["名称", "手机号", "邮箱", "训练营天数"]
    assert not [h for h in header if re.fullmatch(r"[a-z_]+", h)], header     # no code as a header
    assert not [v for v in row if v in ("on_track", "behind", "missed", "achieved", "quiet", "inactive")], row


def test_the_demo_cohort_has_a_chinese_name(app, synced):
    seed_demo(db.session, utcnow())
    db.session.commit()
    name = db.session.scalar(sa.select(Cohort.name).where(Cohort.invite_code == "DEMO2026"))
    assert re.search(r"[\u4e00-\u9fff]", name) and "Demo cohort" in name


def test_charts_before_any_deadline_say_so_quietly_in_her_language(client, synced, cohort, trainee):
    make_user("coach@example.com", Role.MENTOR, cohort=cohort)
    login(client, "coach@example.com")
    client.set_cookie("lang", "zh_CN")
    page = client.get(f"/cohorts/{cohort.id}/numbers").text
    assert "No data" not in page and "还没有数字" in page
    assert 'font-size:64' not in page.replace(" ", "")


def test_chinese_chart_labels_are_cut_to_fit_a_phone():
    label = stats_views._label("1. 写好欢迎语、群公告和群规则", 14)
    shown = label.replace(stats_views.ZERO_WIDTH_SPACE, "")
    assert shown == "1. 写好欢迎语…"                  # wide characters count double
    drawn = sum(1 if unicodedata.east_asian_width(c) in "WF" else 0.6 for c in shown)   # in em
    assert len(label) * 0.6 >= drawn                 # pygal reserves 0.6 em a character: now enough
    assert stats_views._label("Your target and one formula", 14) == "Your target a…"


# --- no dead ends -------------------------------------------------------------------------------------

def test_an_admin_reaches_the_cohorts_poster_from_its_page(admin_client, cohort):
    page = admin_client.get(f"/admin/cohorts/{cohort.id}/edit").text
    assert f'id="invite-poster-link" href="/invite/{cohort.invite_code}/poster.png"' in page
    assert admin_client.get(f"/invite/{cohort.invite_code}/poster.png").status_code == 200


# --- a quiz, one question per screen --------------------------------------------------------------------

def test_a_quiz_on_a_phone_is_one_question_per_screen_that_works_without_javascript(make_app, synced, trainee):
    sample, _ = load_test_quizzes()
    her = english(make_app().test_client())
    login(her, trainee.email)
    take = her.post(f"/quizzes/{sample.slug}/start").location
    page = her.get(take).text
    attempt = db.session.scalars(sa.select(QuizAttempt)).one()
    numbered = [q for q in attempt.questions if q["type"] != "description"]
    assert page.count('class="quiz-step"') == len(attempt.questions) and 'id="step-finish"' in page
    assert f"Question 3 of {len(numbered)}" in page
    assert 'src="/static/quiz-steps.js"' in page and "<script>" not in page
    second = attempt.questions[1]["id"]
    # "Next" without JavaScript: the answer is saved on the server, and she lands on the next question.
    moved = her.post(take, data={"q:word": "Moments", "action": f"goto:{second}"})
    assert moved.status_code == 302 and moved.location.endswith(f"{take}#step-{second}")
    db.session.refresh(attempt)
    assert attempt.answers == {"word": "Moments"} and attempt.state == QuizAttempt.IN_PROGRESS
    assert her.post(take, data={"action": "goto:nowhere"}).location.endswith(take)   # unknown step: just saved
    with her.get("/static/quiz-steps.js") as script:
        assert script.status_code == 200
