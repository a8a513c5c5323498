"""The API against its own contract: Schemathesis generates requests from GET /api/v1/openapi.json and checks
that no answer is a server error and every answer is documented (status code, content type, body schema).

The schema is loaded from the Flask app in-process (no server). Requests carry the bearer token of a seeded
trainee, or of her cohort's mentor for the cohort endpoints, so the 200 answers are exercised and not only 401s.
The run is bounded and deterministic: a few examples per operation, derandomized.
"""
from datetime import timedelta

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                              status_code_conformance)

from app import create_app
from app.core.access import Role
from app.api.models import create_token
from app.checkins.service import record_checkin
from app.content.sync import sync_content
from app.database import utcnow
from app.extensions import db
from tests.conftest import _test_config, make_cohort, make_user

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def seeded(database_url, content):
    """An app on the migrated test database with the real content, a cohort, a trainee and her mentor.

    Module-scoped: the Hypothesis examples of every operation share it. Every table is emptied at the end,
    as tests/conftest.py's make_app does after each test.
    """
    app = create_app(_test_config(database_url))
    with app.app_context():
        now = utcnow()
        sync_content(db.session, content, now)
        cohort = make_cohort("Schema cohort", "SCHEMA", (now - timedelta(days=3)).date())
        cohort_id = cohort.id
        mei = make_user("mei@example.com", cohort=cohort, name="美美", mobile="13800000001")
        mei.created_at = now - timedelta(days=10)
        mentor = make_user("mentor@example.com", Role.MENTOR, cohort, name="王老师")
        record_checkin(db.session, mei, {"date": (now - timedelta(days=1)).date().isoformat(), "earnings": "12.50",
                                         "orders": 3, "group_members": 40, "active_members": 10}, now, source="api")
        tokens = {}
        for user in (mei, mentor):
            _, secret = create_token(db.session, user, "schemathesis", now)
            tokens[user.role] = {"Authorization": f"Bearer {secret}"}
        db.session.commit()
        db.session.remove()
    yield app, tokens, cohort_id
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())
        db.engine.dispose()


# Loaded from an app in-process at collection time: the document needs no database (schemathesis'
# from_fixture() loader does not work with pytest 9's node ids). Requests go to the seeded app (`app=`).
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", create_app(_test_config("sqlite://")))


def headers_for(path: str, tokens: dict) -> dict:
    return tokens[Role.MENTOR if path.startswith("/api/v1/cohorts") else Role.TRAINEE]


@schema.parametrize()
@settings(max_examples=50, derandomize=True, deadline=None, database=None)
def test_the_api_answers_as_documented(case, seeded):
    app, tokens, _ = seeded
    case.call_and_validate(app=app, headers=headers_for(case.path, tokens), checks=CHECKS)


# --- what random data rarely reaches: the real quizzes, the seeded cohort, and the refusals -----------------

def validated(seeded, path: str, method: str, headers: dict | None = None, **data):
    app, tokens, _ = seeded
    case = schema[path][method].Case(**data)
    return case.call_and_validate(app=app, headers=headers if headers is not None else headers_for(path, tokens),
                                  checks=CHECKS)


def quiz_slugs(seeded) -> list[str]:
    app = seeded[0]
    with app.app_context():
        return list(db.session.scalars(sa.text("SELECT slug FROM quizzes WHERE NOT is_archived ORDER BY slug")))


def an_answer(question: dict):
    """Some well-formed answer to a public question (right or wrong does not matter here)."""
    options = [o["id"] for o in question.get("options", [])]
    return {"single": options[:1] and options[0], "truefalse": options[:1] and options[0], "multiple": options[:1],
            "short": "接龙", "essay": "My answer: <b>bold</b> 接龙", "numerical": "5.99",
            "matching": {item["id"]: question["choices"][0]["id"] for item in question.get("items", [])},
            }.get(question["type"])


def test_every_real_quiz_and_an_attempt_at_it_match_the_contract(seeded):
    slugs = quiz_slugs(seeded)
    assert slugs, "the real content has quizzes"
    for slug in slugs:
        quiz = validated(seeded, "/api/v1/quizzes/{slug}", "GET", path_parameters={"slug": slug})
        assert quiz.status_code == 200, (slug, quiz.text)
        questions = [q for q in quiz.json()["questions"] if q["type"] != "description"]
        if quiz.json()["draw"]:
            questions = questions[:quiz.json()["draw"]]
        answers = {q["id"]: an_answer(q) for q in questions}
        attempt = validated(seeded, "/api/v1/quizzes/{slug}/attempts", "POST", path_parameters={"slug": slug},
                            body={"answers": answers}, media_type="application/json")
        assert attempt.status_code == 201, (slug, attempt.text)


@pytest.mark.parametrize("sort", ["name", "attention", "status", "earnings", "lessons", "last_active"])
def test_the_seeded_cohort_s_trainees_match_the_contract_in_every_order(seeded, sort):
    cohort_id = seeded[2]
    page = validated(seeded, "/api/v1/cohorts/{cohort_id}/trainees", "GET", path_parameters={"cohort_id": cohort_id},
                     query={"sort": sort, "per_page": 1})
    assert page.status_code == 200 and page.json()["total"] == 1 and len(page.json()["trainees"]) == 1
    assert validated(seeded, "/api/v1/cohorts", "GET").json()[0]["trainee_count"] == 1


@pytest.mark.parametrize("cohort_id", ["-1", "0", "99999999999999999999", "1e3", "null", "%C2%B2"])
def test_a_cohort_id_that_cannot_exist_is_the_api_s_json_404(seeded, cohort_id):
    # Were 500 (OverflowError in SQLite) for 99999999999999999999 and the site's HTML 404 for -1.
    response = validated(seeded, "/api/v1/cohorts/{cohort_id}/trainees", "GET",
                         path_parameters={"cohort_id": cohort_id})
    assert response.status_code == 404 and response.json() == {"error": "no such cohort"}


def test_a_trainee_s_token_gets_the_documented_403_on_cohorts(seeded):
    response = validated(seeded, "/api/v1/cohorts", "GET", headers=seeded[1][Role.TRAINEE])
    assert response.status_code == 403


@pytest.mark.parametrize("path, method, data", [
    ("/api/v1/checkins", "GET", {}),
    ("/api/v1/checkins", "POST", {"body": {"date": "2026-01-01", "earnings": "1"}, "media_type": "application/json"}),
    ("/api/v1/progress", "GET", {}),
    ("/api/v1/today", "GET", {}),
    ("/api/v1/courses", "GET", {}),
    ("/api/v1/quizzes/{slug}", "GET", {"path_parameters": {"slug": "x"}}),
    ("/api/v1/quizzes/{slug}/attempts", "POST", {"path_parameters": {"slug": "x"}, "body": {"answers": {}},
                                                 "media_type": "application/json"}),
    ("/api/v1/cohorts", "GET", {}),
    ("/api/v1/cohorts/{cohort_id}/trainees", "GET", {"path_parameters": {"cohort_id": 1}}),
    ("/api/v1/today/checkins", "POST", {"body": {"text": "x"}, "media_type": "application/json"}),
    ("/api/v1/calendar", "GET", {}),
    ("/api/v1/courses/{slug}/lessons/{lesson_slug}", "GET",
     {"path_parameters": {"slug": "group-building", "lesson_slug": "warm-contacts"}}),
    ("/api/v1/feed", "GET", {}),
    ("/api/v1/inbox", "GET", {}),
    ("/api/v1/preferences", "PUT", {"body": {"send_at": "20:00"}, "media_type": "application/json"}),
    ("/api/v1/attempts/{attempt_id}", "GET", {"path_parameters": {"attempt_id": 1}}),
    ("/api/v1/hooks/orders", "POST", {"body": {"order_id": "A1", "event": "paid", "commission": "1.00",
                                               "occurred_at": "2026-01-01T00:00:00+08:00"},
                                      "media_type": "application/json",
                                      "headers": {"X-Shop-Id": "shop_x", "X-Timestamp": "1",
                                                  "X-Signature": "sha256=" + "0" * 64}}),
], ids=lambda v: v if isinstance(v, str) else "")
@pytest.mark.parametrize("authorization", ["", "Bearer ", "Bearer xa_not-a-token", "Basic dXNlcjpwYXNz"])
def test_without_a_valid_token_every_operation_answers_the_documented_401(seeded, path, method, data, authorization):
    headers = {**data.pop("headers", {}), **({"Authorization": authorization} if authorization else {})}
    response = validated(seeded, path, method, headers=headers, **data)
    assert response.status_code == 401


def test_a_signed_order_event_and_its_replay_match_the_contract(seeded):
    """The order hook with a real signature: applied, then a duplicate, each answered as documented."""
    import json
    import time

    from app.shops import service as shops
    app = seeded[0]
    with app.app_context():
        shop = shops.create_shop(db.session, "Schema shop", utcnow())
        key, secret = shop.key, shop.secret
        db.session.commit()
        db.session.remove()
    body = {"order_id": "S1", "event": "paid", "mobile": "13800000001", "commission": "12.50",
            "occurred_at": utcnow().isoformat()}
    raw = json.dumps(body).encode()
    stamp = str(int(time.time()))
    headers = {"X-Shop-Id": key, "X-Timestamp": stamp, "X-Signature": shops.sign(secret, stamp, raw)}
    for expected in ("applied", "duplicate"):
        case = schema["/api/v1/hooks/orders"]["POST"].Case(body=body, media_type="application/json")
        response = case.call_and_validate(app=app, headers=headers, checks=CHECKS)
        assert response.status_code == 200 and response.json()["result"] == expected, response.text


def test_the_trainee_actions_with_real_data_match_the_contract(seeded):
    """Lessons, the feed, the inbox, preferences, a quiz attempt in steps and a check-in correction: the 2xx
    answers random data rarely reaches, each validated against the document."""
    lesson = {"path_parameters": {"slug": "group-building", "lesson_slug": "warm-contacts"}}
    assert validated(seeded, "/api/v1/courses/{slug}/lessons/{lesson_slug}", "GET", **lesson).status_code == 200
    assert validated(seeded, "/api/v1/courses/{slug}/lessons/{lesson_slug}/done", "PUT", **lesson).status_code == 200
    assert validated(seeded, "/api/v1/courses/{slug}/lessons/{lesson_slug}/done", "DELETE",
                     **lesson).status_code == 200
    post = validated(seeded, "/api/v1/feed", "POST", body={"text": "第一单！"}, media_type="application/json")
    assert post.status_code == 201, post.text
    ids = {"path_parameters": {"post_id": post.json()["id"]}}
    assert validated(seeded, "/api/v1/feed/{post_id}/like", "PUT", **ids).status_code == 200
    assert validated(seeded, "/api/v1/feed/{post_id}/comments", "POST", body={"body": "好"},
                     media_type="application/json", **ids).status_code == 201
    assert validated(seeded, "/api/v1/feed", "GET").json()["posts"]
    assert validated(seeded, "/api/v1/feed/{post_id}/like", "DELETE", **ids).status_code == 200
    assert validated(seeded, "/api/v1/feed/{post_id}", "DELETE", **ids).status_code == 200
    assert validated(seeded, "/api/v1/calendar", "GET").status_code == 200
    assert validated(seeded, "/api/v1/today/checkins", "POST", body={"text": "x"},
                     media_type="application/json").status_code in (201, 404, 422)
    assert validated(seeded, "/api/v1/inbox", "GET").status_code == 200
    assert validated(seeded, "/api/v1/inbox/read", "POST").status_code == 200
    assert validated(seeded, "/api/v1/preferences", "PUT", body={"send_at": "21:00"},
                     media_type="application/json").json()["send_at"] == "21:00"
    assert validated(seeded, "/api/v1/preferences", "PUT", body={"send_at": "99:99"},
                     media_type="application/json").status_code == 422
    slug = quiz_slugs(seeded)[0]
    started = validated(seeded, "/api/v1/quizzes/{slug}/start", "POST", path_parameters={"slug": slug})
    assert started.status_code in (200, 201), started.text
    attempt = {"path_parameters": {"attempt_id": started.json()["id"]}}
    assert validated(seeded, "/api/v1/attempts/{attempt_id}/answers", "PUT", body={"answers": {}},
                     media_type="application/json", **attempt).status_code == 200
    assert validated(seeded, "/api/v1/attempts/{attempt_id}", "GET", **attempt).status_code == 200
    assert validated(seeded, "/api/v1/attempts/{attempt_id}/submit", "POST", body={"answers": {}},
                     media_type="application/json", **attempt).status_code == 200
    day = (utcnow() - timedelta(days=1)).date().isoformat()
    corrected = validated(seeded, "/api/v1/checkins/{day}", "PUT", path_parameters={"day": day},
                          body={"earnings": "13.00"}, media_type="application/json")
    assert corrected.status_code in (200, 404), corrected.text
