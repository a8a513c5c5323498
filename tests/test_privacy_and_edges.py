"""Privacy (nothing personal kept in caches, reading the inbox changes nothing), text fields with a cap,
and the API's edges: every refusal in its JSON shape, dates only as YYYY-MM-DD, odd digits refused."""
import pytest
import sqlalchemy as sa

from app.checkins.models import Checkin
from app.checkins.service import record_checkin
from app.content.sync import sync_content
from app.core.calendar import local_today
from app.core.money import parse_yuan
from app.core.access import Role
from app.database import utcnow
from app.extensions import db
from app.quizzes import service as quizzes
from app.quizzes.models import EssayReview, QuizAttempt
from app.reminders.channels import Retry
from app.reminders.models import InboxMessage
from app.reminders.robots import check_status
from tests.factories import api_headers, english, login, make_user


@pytest.fixture
def coach(cohort):
    return make_user("coach@example.com", role=Role.MENTOR, cohort=cohort, name="王老师", locale="en")


# --- Cache-Control --------------------------------------------------------------------------------

def test_pages_and_exports_with_personal_data_are_never_stored(make_app, cohort, trainee, coach, boss):
    app = make_app()
    pages = {trainee: ["/progress", "/inbox", "/checkin", "/today", "/account/password", "/"],
             coach: [f"/cohorts/{cohort.id}/trainees/{trainee.id}", f"/cohorts/{cohort.id}/export.csv",
                     f"/cohorts/{cohort.id}/dashboard", "/cohorts"],
             boss: [f"/admin/users/{trainee.id}", "/admin/users", "/admin/audit", "/admin/outbox"]}
    for person, urls in pages.items():
        client = app.test_client()
        login(client, person.email)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            assert response.headers["Cache-Control"] == "no-store", url
    api = app.test_client().get("/api/v1/progress", headers=api_headers(trainee))
    assert api.status_code == 200 and api.headers["Cache-Control"] == "no-store"
    # Static files keep their own caching.
    client = app.test_client()
    login(client, trainee.email)
    static = client.get("/static/app.css")
    static.close()
    assert "no-store" not in static.headers.get("Cache-Control", "")


# --- the inbox ------------------------------------------------------------------------------------

def test_reading_the_inbox_marks_nothing_read_a_post_does(logged_in, trainee, coach):
    db.session.add(InboxMessage(recipient_id=trainee.id, sender_id=coach.id, title="Hi", body="Check in tonight"))
    db.session.commit()
    for _ in range(2):                                       # a prefetch, a reload: nothing changes
        page = logged_in.get("/inbox")
        assert "Check in tonight" in page.text and 'id="mark-read"' in page.text
    assert db.session.scalar(sa.select(InboxMessage.read_at)) is None
    assert logged_in.post("/inbox/read").status_code == 302
    assert db.session.scalar(sa.select(InboxMessage.read_at)) is not None
    assert 'id="mark-read"' not in logged_in.get("/inbox").text


# --- text caps ------------------------------------------------------------------------------------

def test_an_essay_review_comment_has_a_cap_and_the_typed_comment_is_kept(app, content, cohort, trainee, coach):
    now = utcnow()
    sync_content(db.session, content, now)
    writing = quizzes.find_quiz(db.session, "content-creation-writing")
    attempt = quizzes.start_attempt(db.session, trainee, writing, now)
    essays = [q for q in attempt.questions if q["type"] == "essay"]
    quizzes.submit_attempt(db.session, attempt, {q["id"]: "My essay." for q in essays}, now)
    db.session.commit()
    assert attempt.state == QuizAttempt.AWAITING_REVIEW
    client = english(app.test_client())
    login(client, coach.email)
    question = essays[0]
    qid = question["id"]   # one form for the whole review: each essay's fields are named by its id
    scores = {f"score-{qid}-{i}": "0" for i in range(len(question["rubric"]))}
    huge = "好" * (quizzes.MAX_REVIEW_COMMENT + 1)
    response = client.post(f"/review/{attempt.id}", data={f"comment-{qid}": huge, **scores})
    assert response.status_code == 422 and "at most 5000 characters" in response.text
    assert huge in response.text                             # what she typed is still in the form
    assert db.session.scalar(sa.select(sa.func.count(EssayReview.id))) == 0
    response = client.post(f"/review/{attempt.id}", data={f"comment-{qid}": "Good.", **scores})
    assert response.status_code == 302


# --- money: a comma only between groups of three ---------------------------------------------------

@pytest.mark.parametrize("raw", ["12,50", "1,2,3", "1,25", ",125", "1,2500.00"])
def test_a_stray_comma_is_refused_not_guessed(raw):
    with pytest.raises(ValueError, match="groups of three"):
        parse_yuan(raw)


def test_thousands_separators_in_threes_are_fine():
    assert [parse_yuan(raw) for raw in ("1,250", "¥1,250.50", "99,999.99")] == [1_250_00, 1_250_50, 99_999_99]


def test_the_form_the_api_and_the_csv_import_refuse_12_comma_50_alike(make_app, cohort, trainee, coach):
    app = make_app()
    today = local_today(trainee, utcnow()).isoformat()
    web = english(app.test_client())
    login(web, trainee.email)
    page = web.post("/checkin", data={"date": today, "earnings": "12,50"})
    assert page.status_code == 422 and "groups of three" in page.text
    api = app.test_client().post("/api/v1/checkins", json={"date": today, "earnings": "1,2,3"},
                                 headers={**api_headers(trainee), "Accept-Language": "en"})
    assert_api_error(api, 422)
    assert "groups of three" in api.json["fields"]["earnings"]
    mentor = english(app.test_client())
    login(mentor, coach.email)
    preview = mentor.post("/import/preview", data={"text": f'mobile,email,date,earnings\n,{trainee.email},{today},"12,50"\n'})
    assert "groups of three" in preview.text
    assert db.session.scalar(sa.select(sa.func.count(Checkin.id))) == 0


# --- API edges ------------------------------------------------------------------------------------

def assert_api_error(response, status: int):
    assert response.status_code == status, (response.status_code, response.text[:200])
    assert response.mimetype == "application/json", response.mimetype
    assert isinstance(response.json["error"], str) and response.json["error"]


@pytest.mark.parametrize("method, path", [
    ("GET", "/api/v1/nope"), ("GET", "/api/v1/checkins/1/2/3"), ("GET", "/api/v2/checkins"), ("GET", "/api/"),
    ("DELETE", "/api/v1/checkins"), ("PUT", "/api/v1/progress")])
def test_unknown_api_paths_and_methods_answer_json(client, method, path):
    assert_api_error(client.open(path, method=method), 404 if method in ("GET",) else 405)


def test_the_site_still_answers_html_for_its_own_pages(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404 and response.mimetype == "text/html"


def test_json_nested_100000_levels_deep_is_refused_not_a_500(client, trainee):
    body = "[" * 100_000 + "]" * 100_000
    for path in ("/api/v1/checkins", "/api/v1/quizzes/group-building/attempts"):
        response = client.post(path, data=body, content_type="application/json", headers=api_headers(trainee))
        assert response.status_code in (404, 422), response.status_code     # (no such quiz here: 404)
        assert response.mimetype == "application/json"
    deep = '{"date": "2026-01-01", "earnings": "1", "note": ' + "[" * 100_000 + "]" * 100_000 + "}"
    assert_api_error(client.post("/api/v1/checkins", data=deep, content_type="application/json",
                                 headers=api_headers(trainee)), 422)


@pytest.mark.parametrize("method, path", [
    ("POST", "/api/v1/today/checkins"), ("POST", "/api/v1/feed"), ("POST", "/api/v1/feed/1/comments"),
    ("PUT", "/api/v1/preferences"), ("PUT", "/api/v1/attempts/1/answers"), ("POST", "/api/v1/attempts/1/submit"),
    ("PUT", "/api/v1/checkins/2026-03-01")])
def test_every_api_action_refuses_json_nested_too_deep_in_json(client, trainee, method, path):
    body = "[" * 100_000 + "]" * 100_000
    response = client.open(path, method=method, data=body, content_type="application/json",
                           headers=api_headers(trainee))
    assert 400 <= response.status_code < 500, (path, response.status_code)
    assert response.mimetype == "application/json" and response.json["error"]


@pytest.mark.parametrize("spelling", ["%G-W%V-%u", "%Y%m%d", "full-width"])
def test_a_check_in_correction_takes_only_yyyy_mm_dd_in_its_address(client, trainee, spelling):
    today = local_today(trainee, utcnow())
    record_checkin(db.session, trainee, {"date": today.isoformat(), "earnings": "1"}, utcnow())
    db.session.commit()
    headers = api_headers(trainee)
    day = (today.isoformat().translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"}) if spelling == "full-width"
           else today.strftime(spelling))
    assert_api_error(client.put(f"/api/v1/checkins/{day}", json={"earnings": "2"}, headers=headers), 404)
    assert client.put(f"/api/v1/checkins/{today.isoformat()}", json={"earnings": "2"}, headers=headers).status_code == 200


def test_a_crash_in_the_api_answers_json(make_app, trainee, monkeypatch):
    app = make_app(PROPAGATE_EXCEPTIONS=False)
    from app.checkins import service

    def broken(*args, **kwargs):
        raise RuntimeError("boom")
    monkeypatch.setattr(service, "checkins_of", broken)
    assert_api_error(app.test_client().get("/api/v1/checkins", headers=api_headers(trainee)), 500)


@pytest.mark.parametrize("day", ["20260301", "2026-W09-7", "2026-060", "2026-3-1", "２０２６-03-01", "2026-03-01T00:00"])
def test_dates_are_only_yyyy_mm_dd(client, trainee, day):
    response = client.post("/api/v1/checkins", json={"date": day, "earnings": "1"}, headers=api_headers(trainee))
    assert_api_error(response, 422)
    assert "YYYY-MM-DD" in response.json["fields"]["date"]


@pytest.mark.parametrize("message_id", ["²", "١", "99999999999999999999", "-1", "1e3", ""])
def test_retrying_a_dead_letter_with_an_odd_number_is_a_400(admin_client, message_id):
    assert admin_client.post("/admin/outbox/retry", data={"message_id": message_id}).status_code == 400


def test_an_odd_retry_after_from_a_robot_platform_is_not_a_crash():
    with pytest.raises(Retry) as raised:
        check_status(429, "²")
    assert raised.value.after_seconds > 0


def test_the_error_shape_is_the_documented_one(client):
    document = client.get("/api/v1/openapi.json").json
    assert document["components"]["schemas"]["Error"]["required"] == ["error"]
    body = client.get("/api/v1/nope").json
    assert set(body) == {"error"}
