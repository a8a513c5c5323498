import re

import pytest
import sqlalchemy as sa

from app.content.snapshot import content_changed
from app.database import utcnow
from app.accounts.models import User
from app.core.access import Role
from app.extensions import db
from app.learning import service
from app.learning.models import Lesson, LessonProgress
from app.core import calendar
from tests.conftest import count_queries, login, make_cohort, make_user

FIRST = "/courses/start-here/targets-and-formula"


def progress_of(html: str, course: str) -> str:
    return re.search(rf'data-course-progress="{course}">(\d+/\d+)<', html).group(1)


def test_pages_need_a_login(client, synced):
    for url in ("/courses", "/courses/group-building", FIRST):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.location


def test_home_shows_the_next_lesson_targets_and_progress_per_course(logged_in, synced):
    html = logged_in.get("/").text
    assert "你的目标和一个公式" in html or "targets-and-formula" in html
    assert FIRST in html  # the next lesson is the orientation
    assert "¥100" in html and "¥1,000" in html
    assert progress_of(html, "group-building") == "0/5"


def test_marking_a_lesson_done_moves_the_progress_and_leads_to_the_next(logged_in, synced):
    response = logged_in.post("/courses/group-building/warm-contacts/done")
    assert response.status_code == 302 and response.location.endswith("/courses/group-building/welcome-and-rules")
    assert progress_of(logged_in.get("/").text, "group-building") == "1/5"
    course_page = logged_in.get("/courses/group-building").text
    assert 'id="course-progress">1/5<' in course_page
    assert "标记为未完成" in logged_in.get("/courses/group-building/warm-contacts").text


def test_marking_done_twice_keeps_the_first_completion(app, trainee, synced):
    lesson = service.find_lesson(db.session, "group-building", "warm-contacts")
    first = service.mark_lesson_done(db.session, trainee, lesson, service_now := __import__("app.database").database.utcnow())
    again = service.mark_lesson_done(db.session, trainee, lesson, service_now.replace(year=service_now.year + 1))
    assert first.id == again.id and again.completed_at == service_now
    service.mark_lesson_not_done(db.session, trainee, lesson, service_now)
    assert service.completed_lesson_ids(db.session, trainee.id) == set()


def test_last_lesson_of_a_course_goes_back_to_the_course(logged_in, synced):
    response = logged_in.post("/courses/start-here/targets-and-formula/done")
    assert response.location.endswith("/courses/start-here")


def test_lesson_page_shows_objectives_time_body_and_neighbours(logged_in, synced):
    html = logged_in.get("/courses/group-building/welcome-and-rules").text
    assert "学完这一课，你能" in html and "约 " in html
    assert 'rel="prev" href="/courses/group-building/warm-contacts"' in html
    assert 'rel="next" href="/courses/group-building/daily-rhythm"' in html
    assert "<blockquote>" in html  # the copy-ready template
    assert "<script" not in html.split("<body>")[1]


def test_unknown_or_archived_lessons_are_not_found(logged_in, synced):
    assert logged_in.get("/courses/group-building/nope").status_code == 404
    assert logged_in.get("/courses/nope").status_code == 404
    lesson = service.find_lesson(db.session, "group-building", "warm-contacts")
    lesson.is_archived = True
    content_changed(db.session, utcnow())  # what `content sync` does when a lesson's file goes away
    db.session.commit()
    assert logged_in.get("/courses/group-building/warm-contacts").status_code == 404
    assert logged_in.post("/courses/group-building/warm-contacts/done").status_code == 404


def test_english_for_an_english_browser_chinese_by_default(client, trainee, synced):
    login(client, trainee.email)
    assert "Building an active group" in client.get("/courses", headers={"Accept-Language": "en-US,en"}).text
    assert "社群搭建" in client.get("/courses").text
    html = client.get(FIRST, headers={"Accept-Language": "en"}).text
    assert '<html lang="en">' in html and "Mark as done" in html


def test_the_language_choice_is_remembered_for_the_user(make_app, trainee, synced):
    app = make_app()
    phone = app.test_client()
    login(phone, trainee.email)
    response = phone.post("/language", data={"lang": "en", "next": "/courses"})
    assert response.status_code == 302 and response.location.endswith("/courses")
    assert "Courses" in phone.get("/courses", headers={"Accept-Language": "zh-CN"}).text
    laptop = app.test_client()  # another device, no cookie: the account remembers
    login(laptop, trainee.email)
    assert "Building an active group" in laptop.get("/courses", headers={"Accept-Language": "zh-CN"}).text


def test_the_language_cookie_works_before_login_and_ignores_foreign_redirects(client):
    response = client.post("/language", data={"lang": "en", "next": "https://evil.example/"})
    assert response.location == "/"
    assert "Log in" in client.get("/login").text


def test_a_trainee_cannot_open_another_cohorts_page(client, cohort, trainee):
    other = make_cohort("Other cohort", "OTHER1")
    login(client, trainee.email)
    assert client.get(f"/cohorts/{cohort.id}").status_code == 200
    assert client.get(f"/cohorts/{other.id}").status_code == 404


def test_mentors_see_only_their_cohorts_and_admins_all(make_app, cohort):
    other = make_cohort("Other cohort", "OTHER1")
    mentor = make_user("coach@example.com", role=Role.MENTOR, cohort=cohort)
    admin = make_user("boss@example.com", role=Role.ADMIN)
    app = make_app()
    as_mentor, as_admin = app.test_client(), app.test_client()
    login(as_mentor, mentor.email)
    login(as_admin, admin.email)
    # Mentors and admins are taken to the cohort's dashboard.
    assert as_mentor.get(f"/cohorts/{cohort.id}").location.endswith(f"/cohorts/{cohort.id}/dashboard")
    assert as_mentor.get(f"/cohorts/{cohort.id}/dashboard").status_code == 200
    assert as_mentor.get(f"/cohorts/{other.id}").status_code == 404
    assert as_mentor.get(f"/cohorts/{other.id}/dashboard").status_code == 404
    assert as_admin.get(f"/cohorts/{other.id}/dashboard").status_code == 200


def test_programme_day_counts_in_her_timezone_from_her_start(app, cohort):
    from datetime import date, datetime, timezone
    trainee = make_user("tz@example.com", cohort=cohort)
    cohort.start_date = date(2026, 3, 1)
    trainee.created_at = datetime(2026, 2, 20, tzinfo=timezone.utc)
    # 2026-03-01 17:00 UTC is already 2026-03-02 01:00 in Shanghai: day 2 there, day 1 in London.
    now = datetime(2026, 3, 1, 17, 0, tzinfo=timezone.utc)
    assert calendar.programme_day(trainee, now) == 2
    trainee.timezone = "Europe/London"
    assert calendar.programme_day(trainee, now) == 1
    trainee.created_at = datetime(2026, 3, 5, tzinfo=timezone.utc)  # joined late: her own start
    assert calendar.programme_day(trainee, datetime(2026, 3, 6, 12, tzinfo=timezone.utc)) == 2


@pytest.mark.parametrize("url", ["/", "/courses", "/courses/group-building", "/courses/group-building/daily-rhythm"])
def test_pages_issue_a_bounded_number_of_queries(make_app, cohort, synced, url):
    """The count does not grow with the number of lessons, courses done or classmates."""
    trainee = make_user("q@example.com", cohort=cohort)
    app = make_app()
    client = app.test_client()
    login(client, trainee.email)
    client.get(url)  # the process builds its content snapshot once (tests/test_content_snapshot.py)
    with app.app_context(), count_queries() as before:
        client.get(url)
    few = before()
    for lesson in db.session.scalars(sa.select(Lesson)):  # every lesson done, many classmates
        db.session.add(LessonProgress(user_id=trainee.id, lesson_id=lesson.id, completed_at=lesson.updated_at))
    for i in range(30):  # the hash is copied: computing 30 of them only slows the test
        db.session.add(User(name=f"c{i}", email=f"c{i}@example.com", cohort=cohort,
                            password_hash=trainee.password_hash, session_token=f"t{i}"))
    db.session.commit()
    with app.app_context(), count_queries() as after:
        assert client.get(url).status_code == 200
    assert after() == few <= 10  # constant: 30 classmates and 16 lessons done change nothing


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil.example", "/\\/evil.example",
                                    "/\tevil", "javascript:alert(1)"])
def test_redirects_never_leave_the_site(client, target):
    response = client.post("/language", data={"lang": "en", "next": target})
    assert response.location == "/"
