"""The mentors' API: their cohorts and the dashboard rows, as in the contract (the OpenAPI document).

Who may call it: mentors (their own cohorts) and admins (every cohort). A trainee's token gets 403 on
/cohorts and 404 on a cohort's trainees, like a mentor asking for a cohort she does not coach.
"""
from datetime import date, datetime, timedelta, timezone

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from app.core.access import Role
from app.cohorts.models import MentorNote
from app.extensions import db
from tests.factories import api_headers, frozen_clock, make_trainee
from tests.conftest import make_cohort, make_user
from tests.test_dashboard import ACTIVE, NOW, START, check_in

UTC = timezone.utc


clock = frozen_clock(NOW, autouse=True)


@pytest.fixture
def spec(client):
    document = client.get("/api/v1/openapi.json").json
    validate(document)
    return document


def conforms(spec: dict, schema: str, instance) -> None:
    """The response matches the documented schema (with the document's components for $ref)."""
    OAS30Validator({"$ref": f"#/components/schemas/{schema}", "components": spec["components"]}).validate(instance)


@pytest.fixture
def team(synced):
    mine = make_cohort("Spring cohort", "SPRING", START)
    other = make_cohort("Autumn cohort", "AUTUMN", START + timedelta(days=1))
    archived = make_cohort("Old cohort", "OLD", date(2025, 1, 1))
    archived.is_archived = True
    mentor = make_user("mentor@example.com", Role.MENTOR, mine, name="王老师")
    archived.mentors.append(mentor)
    admin = make_user("admin@example.com", Role.ADMIN)
    mei = make_trainee("mei@example.com", mine, name="美美", mobile="13800000001", last_active=ACTIVE)
    for n, earnings in ((1, "30"), (2, "12.50"), (5, "20")):
        check_in(mei, n, earnings, group_members=60 + n)
    make_trainee("ana@example.com", mine, name="Ana", last_active=ACTIVE)
    closed = make_trainee("closed@example.com", mine, name="Closed", last_active=ACTIVE)
    closed.is_active = False
    make_trainee("zoe@example.com", other, name="Zoe", last_active=ACTIVE)
    db.session.commit()
    return {"mine": mine, "other": other, "archived": archived, "mentor": mentor, "admin": admin, "mei": mei}


def test_the_openapi_document_validates_and_has_the_cohort_endpoints(spec):
    assert set(spec["paths"]["/api/v1/cohorts"]) == {"get"}
    assert set(spec["paths"]["/api/v1/cohorts/{cohort_id}/trainees"]) == {"get"}
    assert {"403", "401"} <= set(spec["paths"]["/api/v1/cohorts"]["get"]["responses"])
    assert {"404", "422"} <= set(spec["paths"]["/api/v1/cohorts/{cohort_id}/trainees"]["get"]["responses"])
    assert {p["name"] for p in spec["paths"]["/api/v1/cohorts/{cohort_id}/trainees"]["get"]["parameters"]} >= {
        "cohort_id", "page", "per_page"}


def test_a_mentor_lists_her_cohorts_with_their_active_trainees(client, spec, team):
    response = client.get("/api/v1/cohorts", headers=api_headers(team["mentor"]))
    assert response.status_code == 200
    conforms(spec, "CohortSummary", response.json[0])
    assert response.json == [{"id": team["mine"].id, "name": "Spring cohort", "start_date": "2026-05-10",
                              "timezone": "Asia/Shanghai", "trainee_count": 2,   # not the closed account
                              "mentors": [{"id": team["mentor"].id, "name": "王老师"}]}]


def test_an_admin_lists_every_cohort_that_is_not_archived(client, team):
    cohorts = client.get("/api/v1/cohorts", headers=api_headers(team["admin"])).json
    assert [(c["name"], c["trainee_count"]) for c in cohorts] == [("Autumn cohort", 1), ("Spring cohort", 2)]


def test_a_trainee_gets_403_on_the_list_and_404_on_any_cohort(client, team):
    headers = api_headers(team["mei"])
    response = client.get("/api/v1/cohorts", headers=headers)
    assert response.status_code == 403 and response.json["error"]
    for cohort in (team["mine"], team["other"]):
        response = client.get(f"/api/v1/cohorts/{cohort.id}/trainees", headers=headers)
        assert response.status_code == 404 and response.json == {"error": "no such cohort"}


def test_without_a_token_both_answer_401(client, team):
    assert client.get("/api/v1/cohorts").status_code == 401
    assert client.get(f"/api/v1/cohorts/{team['mine'].id}/trainees").status_code == 401
    assert client.get("/api/v1/cohorts", headers={"Authorization": "Bearer xa_nope"}).status_code == 401


def test_another_cohort_answers_exactly_like_a_missing_one(client, team):
    headers = api_headers(team["mentor"])
    other = client.get(f"/api/v1/cohorts/{team['other'].id}/trainees", headers=headers)
    missing = client.get("/api/v1/cohorts/424242/trainees", headers=headers)
    assert other.status_code == missing.status_code == 404 and other.json == missing.json


def test_a_trainee_row_has_her_figures_in_the_documented_shape(client, spec, team):
    response = client.get(f"/api/v1/cohorts/{team['mine'].id}/trainees", headers=api_headers(team["mentor"]))
    assert response.status_code == 200
    conforms(spec, "TraineePage", response.json)
    page = response.json
    assert (page["page"], page["per_page"], page["total"], page["pages"]) == (1, 50, 2, 1)
    assert [row["name"] for row in page["trainees"]] == ["Ana", "美美"]  # by name unless asked otherwise
    mei = page["trainees"][1]
    assert {k: mei[k] for k in ("id", "name", "mobile", "programme_day", "earnings", "earnings_fen", "status",
                                "last_checkin", "weakest", "reasons")} == {
        "id": team["mei"].id, "name": "美美", "mobile": "13800000001", "programme_day": 11, "earnings": "62.50",
        "earnings_fen": 6250, "status": "behind", "last_checkin": "2026-05-14",
        "weakest": None,   # 65 members is above the day-8 stage's reference (50) and nothing else is known
        "reasons": ["behind", "quiet"]}
    assert mei["milestones"] == [{"key": "first-week", "status": "missed", "earned": "62.50"},
                                 {"key": "first-month", "status": "behind", "earned": "62.50"},
                                 {"key": "first-100-members", "status": "on_track", "earned": "65"}]
    assert mei["lessons_done"] == 0 and mei["lessons_total"] > 0 and mei["next_lesson"].count("/") == 1
    assert datetime.fromisoformat(mei["last_active"]) == NOW - timedelta(hours=1)
    assert mei["attention"] == 5 and mei["contacted_at"] is None


def test_rows_page_and_filter(client, spec, team):
    for n in range(7):
        make_trainee(f"t{n}@example.com", team["mine"], name=f"T{n}", last_active=ACTIVE)
    headers, path = api_headers(team["mentor"]), f"/api/v1/cohorts/{team['mine'].id}/trainees"

    def names(query: str) -> list[str]:
        response = client.get(f"{path}?{query}", headers=headers)
        assert response.status_code == 200, query
        conforms(spec, "TraineePage", response.json)
        return [row["name"] for row in response.json["trainees"]]

    everyone = ["Ana", "T0", "T1", "T2", "T3", "T4", "T5", "T6", "美美"]
    assert names("per_page=4") == everyone[:4]
    assert names("per_page=4&page=3") == everyone[8:]
    assert names("per_page=4&page=4") == []
    page = client.get(f"{path}?per_page=4&page=2", headers=headers).json
    assert (page["total"], page["pages"], page["page"], page["per_page"]) == (9, 3, 2, 4)
    assert client.get(f"{path}?per_page=5000", headers=headers).json["per_page"] == 200
    assert names("q=t1") == ["T1"] and names("q=13800000001") == ["美美"] and names("q=MEI@") == ["美美"]
    assert names("status=behind&sort=earnings")[0] == "美美" and names("status=achieved") == []


@pytest.mark.parametrize("query", ["page=0", "page=-1", "page=abc", "page=²", "per_page=0", "per_page=1.5",
                                   "sort=__class__", "status=sleeping"])
def test_bad_paging_or_filters_answer_422(client, team, query):
    response = client.get(f"/api/v1/cohorts/{team['mine'].id}/trainees?{query}", headers=api_headers(team["mentor"]))
    assert response.status_code == 422 and response.json["error"]


def test_contacted_shows_in_the_row_and_clears_her_reasons(client, team):
    note = MentorNote(trainee_id=team["mei"].id, author_id=team["mentor"].id, kind=MentorNote.CONTACTED,
                      body="", created_at=NOW - timedelta(hours=2))
    db.session.add(note)
    db.session.commit()
    rows = client.get(f"/api/v1/cohorts/{team['mine'].id}/trainees", headers=api_headers(team["mentor"])).json
    mei = next(row for row in rows["trainees"] if row["name"] == "美美")
    assert mei["reasons"] == [] and mei["attention"] == 0
    assert datetime.fromisoformat(mei["contacted_at"]) == NOW - timedelta(hours=2)
