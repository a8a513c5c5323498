"""The check-in and progress API, as in its contract (the OpenAPI document)."""
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from openapi_spec_validator import validate

from app.api.models import ApiToken
from app.checkins.models import Checkin, CheckinRevision
from app.database import utcnow
from app.extensions import db
from tests.factories import api_headers, count, frozen_clock, make_trainee

NOW = datetime(2026, 5, 10, 4, 0, tzinfo=timezone.utc)  # noon on 10 May in Shanghai: day 7 of a 4 May cohort
TODAY = "2026-05-10"
BODY = {"date": TODAY, "earnings": "12.50", "orders": 3, "group_members": 120, "active_members": 30, "posts": 2,
        "note": "first 接龙"}


clock = frozen_clock(NOW, autouse=True)


@pytest.fixture
def mei(synced):
    return make_trainee("mei@example.com")


@pytest.fixture
def api(client, mei):
    """POST or GET as Mei: api("get", "/checkins")."""
    headers = api_headers(mei)
    return lambda method, path, **kw: getattr(client, method)(f"/api/v1{path}", headers=headers, **kw)


def test_a_check_in_posted_as_in_the_contract_is_stored_in_fen(api):
    response = api("post", "/checkins", json=BODY)
    assert response.status_code == 201
    assert {k: v for k, v in response.json.items() if k not in ("id", "updated_at")} == {
        **BODY, "earnings": "12.50", "earnings_fen": 1250, "source": "api", "earnings_source": "checkin",
        "reported_earnings": "12.50"}
    assert count(Checkin) == 1


def test_earnings_may_be_a_number_and_omitted_counters_are_null(api):
    response = api("post", "/checkins", json={"date": TODAY, "earnings": 12.5})
    assert response.status_code == 201
    assert response.json["earnings_fen"] == 1250 and response.json["note"] == ""
    assert [response.json[k] for k in ("orders", "group_members", "active_members", "posts")] == [None] * 4


def test_a_second_post_for_the_same_day_answers_200_and_updates_it(api):
    first = api("post", "/checkins", json=BODY).json
    second = api("post", "/checkins", json={**BODY, "earnings": "20", "orders": 4})
    assert second.status_code == 200 and second.json["id"] == first["id"]
    assert (second.json["earnings_fen"], second.json["orders"]) == (2000, 4) and count(Checkin) == 1
    [revision] = db.session.scalars(sa.select(CheckinRevision)).all()
    assert (revision.values["earnings_fen"], revision.values["orders"]) == (1250, 3)


@pytest.mark.parametrize("body, fields", [
    ({**BODY, "earnings": "-1"}, {"earnings"}),
    ({**BODY, "earnings": "twelve"}, {"earnings"}),
    ({**BODY, "earnings": "1.234"}, {"earnings"}),
    ({**BODY, "earnings": 100000.01}, {"earnings"}),
    ({**BODY, "earnings": 1e30}, {"earnings"}),
    ({**BODY, "earnings": None}, {"earnings"}),
    ({**BODY, "date": "2026-05-11"}, {"date"}),   # tomorrow for her
    ({**BODY, "date": "2026-05-03"}, {"date"}),   # before her start
    ({**BODY, "date": "10/05/2026"}, {"date"}),
    ({**BODY, "active_members": 121}, {"active_members"}),
    ({**BODY, "orders": 2.5}, {"orders"}),
    ({**BODY, "posts": -1}, {"posts"}),
    ({**BODY, "note": 5}, {"note"}),
    ({**BODY, "bonus": 1}, {"bonus"}),            # a field the contract does not know
    ({"date": "2026-05-11", "earnings": "-1", "orders": "3.5", "posts": "many", "extra": True},
     {"date", "earnings", "orders", "posts", "extra"}),
], ids=lambda v: "+".join(sorted(v)) if isinstance(v, set) else None)
def test_bad_input_answers_422_naming_each_bad_field_and_stores_nothing(api, body, fields):
    response = api("post", "/checkins", json=body)
    assert response.status_code == 422
    assert set(response.json["fields"]) == fields and all(response.json["fields"].values())
    assert count(Checkin) == 0


@pytest.mark.parametrize("body", [[BODY], "12.50", None])
def test_a_body_that_is_not_a_json_object_is_refused(api, body):
    assert api("post", "/checkins", json=body).status_code == 422 and count(Checkin) == 0


def test_each_token_only_ever_reads_and_writes_its_own_user_s_check_ins(client, api, mei):
    ana = make_trainee("ana@example.com")
    hers = api_headers(ana)
    api("post", "/checkins", json=BODY)
    assert client.post("/api/v1/checkins", json={"date": TODAY, "earnings": "1"}, headers=hers).status_code == 201
    assert [c["earnings"] for c in api("get", "/checkins").json] == ["12.50"]
    assert [c["earnings"] for c in client.get("/api/v1/checkins", headers=hers).json] == ["1.00"]
    earned = [m["earned"] for m in client.get("/api/v1/progress", headers=hers).json["milestones"]]
    assert earned == ["1.00", "1.00", "0"]
    assert {c.user_id for c in db.session.scalars(sa.select(Checkin))} == {mei.id, ana.id}


def test_progress_has_the_programme_day_milestones_courses_and_diagnosis(api):
    api("post", "/checkins", json={"date": "2026-05-05", "earnings": "25"})
    api("post", "/checkins", json={"date": "2026-05-06", "earnings": 12, "group_members": 20,
                                   "active_members": 10, "orders": 5})
    state = api("get", "/progress").json
    assert (state["program_day"], state["start"], state["today"]) == (7, "2026-05-04", TODAY)
    milestones = [{k: m[k] for k in ("key", "target", "earned", "due", "status")} for m in state["milestones"]]
    assert milestones == [
        {"key": "first-week", "target": "100.00", "earned": "37.00", "due": "2026-05-10", "status": "behind"},
        {"key": "first-month", "target": "1000.00", "earned": "37.00", "due": "2026-06-02", "status": "behind"},
        {"key": "first-100-members", "target": "100", "earned": "20", "due": "2026-06-02", "status": "on_track"}]
    assert {"slug", "title", "done", "total", "is_complete"} <= set(state["courses"][0])
    assert "group-building" in {c["slug"] for c in state["courses"]}
    diagnosis = state["diagnosis"]
    assert (diagnosis["has_data"], diagnosis["weakest"], diagnosis["lesson"]) == (
        True, "traffic", "group-building/warm-contacts")
    assert [f["name"] for f in diagnosis["factors"]] == ["traffic", "circulation", "monetization"]


def test_a_revoked_token_stops_working_at_once(client, mei):
    headers = api_headers(mei)
    assert client.get("/api/v1/progress", headers=headers).status_code == 200
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.user_id == mei.id))
    token.revoked_at = utcnow()
    db.session.commit()
    for method, path in (("get", "/progress"), ("get", "/checkins"), ("post", "/checkins")):
        response = getattr(client, method)(f"/api/v1{path}", headers=headers, json=BODY if method == "post" else None)
        assert response.status_code == 401, path
    assert count(Checkin) == 0


def test_the_openapi_document_validates_and_documents_every_endpoint(client):
    spec = client.get("/api/v1/openapi.json").json
    validate(spec)
    for path, methods in {"/checkins": {"get", "post"}, "/progress": {"get"}, "/courses": {"get"},
                          "/quizzes/{slug}": {"get"}, "/quizzes/{slug}/attempts": {"post"}}.items():
        assert methods <= set(spec["paths"]["/api/v1" + path]), path
    checkin_in = spec["components"]["schemas"]["CheckinIn"]
    assert checkin_in["additionalProperties"] is False and set(checkin_in["properties"]) == {
        "date", "earnings", "orders", "group_members", "active_members", "posts", "note"}
