"""Shop order events over real HTTP (signed, idempotent, refused without a trace), her earnings from them,
the shop command, the admin pages and the CSV import under the same rule."""
import json
import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from app.core.access import Role
from app.api.models import create_token
from app.checkins import imports
from app.checkins.models import Checkin
from app.checkins.service import record_checkin
from app.core.calendar import local_today
from app.database import utcnow
from app.extensions import db
from app.shops import service
from app.shops.earnings import earnings_of
from app.shops.models import Shop, ShopMember, ShopOrder, ShopOrderEvent
from tests.conftest import english, login, make_cohort, make_user
from tests.live import serving

DOCS = Path(__file__).resolve().parent.parent / "docs" / "integrations.md"


@pytest.fixture
def world(app):
    now = utcnow()
    cohort = make_cohort("Shop cohort", "SHOP1", (now - timedelta(days=10)).date())
    mei = make_user("mei@example.com", cohort=cohort, name="Mei", mobile="13800000001", locale="en")
    mei.created_at = now - timedelta(days=20)
    mentor = make_user("mentor@example.com", Role.MENTOR, cohort)
    shop = service.create_shop(db.session, "Youzan store", now)
    db.session.commit()
    return {"mei": mei, "mentor": mentor, "shop": shop, "cohort": cohort}


@pytest.fixture
def http(app):
    with serving(app) as session:
        yield session


def post_event(http, shop, event: dict | bytes, *, timestamp: int | None = None, secret: str | None = None,
         signature: str | None = None, shop_key: str | None = None):
    body = event if isinstance(event, bytes) else json.dumps(event, separators=(",", ":")).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    headers = {"Content-Type": "application/json", "X-Shop-Id": shop.key if shop_key is None else shop_key,
               "X-Timestamp": stamp,
               "X-Signature": signature or service.sign(secret or shop.secret, stamp, body)}
    return http.post("/api/v1/hooks/orders", data=body, headers=headers)


def event(**fields) -> dict:
    return {"order_id": "A1001", "event": "paid", "mobile": "13800000001", "commission": "12.50", "amount": "99.00",
            "occurred_at": utcnow().isoformat(), **fields}


def stored() -> tuple[int, int, int]:
    db.session.expire_all()
    return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(model))
                 for model in (ShopOrder, ShopOrderEvent, Checkin))


def day_row(user, day=None) -> Checkin | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(Checkin).where(Checkin.user_id == user.id,
                                                      Checkin.day == (day or local_today(user, utcnow()))))


# --- the test vector of docs/integrations.md -------------------------------------------------------

def test_the_documented_test_vector_is_what_the_server_computes():
    text = DOCS.read_text(encoding="utf-8")
    secret = re.search(r"The secret `([^`]+)`", text).group(1)
    timestamp = re.search(r"X-Timestamp: (\d+)`", text).group(1)
    body = re.search(r"```\n(\{\"order_id\".*\})\n```", text).group(1).encode()
    documented = re.search(r"X-Signature: (sha256=[0-9a-f]{64})", text).group(1)
    assert service.sign(secret, timestamp, body) == documented
    assert json.loads(body)["commission"] == "12.50"


# --- over HTTP --------------------------------------------------------------------------------------

def test_a_paid_order_becomes_her_earnings_for_the_day_pending(http, world):
    response = post_event(http, world["shop"], event())
    assert response.status_code == 200, response.text
    assert response.json()["result"] == "applied"
    assert response.json()["order"] == {"order_id": "A1001", "state": "pending", "commission": "12.50",
                                        "day": local_today(world["mei"], utcnow()).isoformat()}
    row = day_row(world["mei"])
    assert (row.earnings_fen, row.shop_earnings_fen, row.reported_earnings_fen, row.source) == (1250, 1250, None, "shop")
    earned = earnings_of(db.session, world["mei"], utcnow())
    assert (earned.today, earned.total, earned.pending, earned.settled, earned.orders) == (1250, 1250, 1250, 0, 1)


def test_a_replay_is_answered_as_a_duplicate_and_changes_nothing(http, world):
    body = json.dumps(event()).encode()
    stamp = int(time.time())
    assert post_event(http, world["shop"], body, timestamp=stamp).json()["result"] == "applied"
    before = stored()
    again = post_event(http, world["shop"], body, timestamp=stamp)  # the very same request
    assert again.status_code == 200 and again.json()["result"] == "duplicate"
    other_body = post_event(http, world["shop"], event(commission="99.00"))  # same shop + order + event, new body
    assert other_body.json()["result"] == "duplicate"
    assert stored() == before and day_row(world["mei"]).earnings_fen == 1250


@pytest.mark.parametrize("case", ["stale", "future", "bad signature", "other secret", "unknown shop",
                                  "no timestamp", "body changed"])
def test_a_refused_request_answers_401_and_stores_nothing(http, world, case):
    now = int(time.time())
    shop = world["shop"]
    kwargs = {"stale": {"timestamp": now - 400}, "future": {"timestamp": now + 400},
              "bad signature": {"signature": "sha256=" + "0" * 64}, "other secret": {"secret": "whsec_wrong"},
              "unknown shop": {"shop_key": "shop_nope"}, "no timestamp": {"timestamp": -1},
              "body changed": {"signature": service.sign(shop.secret, str(now), b"{}"), "timestamp": now}}[case]
    if case == "no timestamp":
        response = http.post("/api/v1/hooks/orders", data=json.dumps(event()),
                             headers={"X-Shop-Id": shop.key, "X-Signature": "sha256=" + "0" * 64})
    else:
        response = post_event(http, shop, event(), **kwargs)
    assert response.status_code == 401, response.text
    assert "error" in response.json()
    assert stored() == (0, 0, 0)


@pytest.mark.parametrize("fields, bad", [
    ({"commission": 12.5}, "commission"),
    ({"commission": "12.505"}, "commission"),
    ({"commission": "-1"}, "commission"),
    ({"event": "shipped"}, "event"),
    ({"occurred_at": "2026-05-10T12:00:00"}, "occurred_at"),       # no offset
    ({"occurred_at": "yesterday"}, "occurred_at"),
    ({"order_id": ""}, "order_id"),
    ({"order_id": ["A1"]}, "order_id"),
    ({"order_id": "x" * 65}, "order_id"),
    ({"mobile": "12"}, "mobile"),
    ({"mobile": None}, "mobile"),
    ({"mobile": "13999999999"}, "mobile"),                           # no such trainee
    ({"mobile": None, "external_id": "ext-unknown"}, "external_id"),  # not mapped
    ({"colour": "red"}, "colour"),
])
def test_wrong_fields_and_unknown_trainees_answer_422_and_store_nothing(http, world, fields, bad):
    response = post_event(http, world["shop"], event(**fields))
    assert response.status_code == 422, response.text
    assert bad in response.json()["fields"]
    assert stored() == (0, 0, 0)


def test_a_body_that_is_not_an_object_is_refused(http, world):
    for body in (b"[1]", b"not json", b'{"order_id": "\\ud800"}'):
        assert post_event(http, world["shop"], body).status_code == 422
    assert stored() == (0, 0, 0)


def test_a_refund_takes_the_order_out_and_a_settlement_moves_it_to_settled(http, world):
    mei = world["mei"]
    post_event(http, world["shop"], event())
    post_event(http, world["shop"], event(order_id="A1002", commission="20.00"))
    assert day_row(mei).earnings_fen == 3250
    assert post_event(http, world["shop"], event(event="refunded")).json()["order"]["state"] == "refunded"
    assert post_event(http, world["shop"], event(order_id="A1002", event="settled", commission="19.00")).status_code == 200
    assert day_row(mei).earnings_fen == 1900
    earned = earnings_of(db.session, mei, utcnow())
    assert (earned.pending, earned.settled, earned.orders, earned.refunds, earned.total) == (0, 1900, 1, 1, 1900)


def test_an_order_id_of_another_trainee_is_a_conflict(http, world):
    make_user("lan@example.com", cohort=world["cohort"], mobile="13800000002")
    post_event(http, world["shop"], event())
    before = stored()
    response = post_event(http, world["shop"], event(event="settled", mobile="13800000002"))
    assert response.status_code == 409 and stored() == before


def test_her_check_in_and_the_shop_are_never_counted_twice_for_a_day(http, world):
    mei, now = world["mei"], utcnow()
    today = local_today(mei, now)
    yesterday = today - timedelta(days=1)
    record_checkin(db.session, mei, {"date": today.isoformat(), "earnings": "30", "group_members": 50}, now)
    record_checkin(db.session, mei, {"date": yesterday.isoformat(), "earnings": "8"}, now)
    db.session.commit()
    post_event(http, world["shop"], event())   # the shop reports ¥12.50 for today
    row = day_row(mei)
    assert (row.earnings_fen, row.reported_earnings_fen, row.group_members, row.source) == (1250, 3000, 50, "web")
    assert row.earnings_source == "shop"
    # She corrects her own figure for the day: the shop's still counts, hers is kept beside it.
    record_checkin(db.session, mei, {"date": today.isoformat(), "earnings": "40"}, now)
    db.session.commit()
    assert (day_row(mei).earnings_fen, day_row(mei).reported_earnings_fen) == (1250, 4000)
    earned = earnings_of(db.session, mei, now)
    assert (earned.total, earned.from_shop, earned.reported) == (1250 + 800, 1250, 800)


def test_the_progress_api_and_page_show_her_earnings(http, world, app):
    mei, now = world["mei"], utcnow()
    record_checkin(db.session, mei, {"date": (local_today(mei, now) - timedelta(days=1)).isoformat(),
                                     "earnings": "8"}, now)
    _, token = create_token(db.session, mei, "phone", now)
    db.session.commit()
    post_event(http, world["shop"], event())
    progress = http.get("/api/v1/progress", headers={"Authorization": f"Bearer {token}"})
    assert progress.status_code == 200
    earnings = progress.json()["earnings"]
    assert {k: earnings[k] for k in ("today", "total", "pending", "settled")} == {
        "today": "12.50", "total": "20.50", "pending": "12.50", "settled": "0.00"}
    assert earnings["orders"] == 1 and earnings["refunds"] == 0
    assert not progress.json()["checked_in_today"]  # the shop's orders are not her check-in
    web = english(app.test_client())
    login(web, mei.email)
    page = web.get("/progress").text
    assert 'id="earnings-today"' in page and "¥12.50" in page and "A day the shop reported" in page


def test_an_external_id_mapped_by_an_admin_finds_her(http, world, app):
    admin = make_user("boss@example.com", Role.ADMIN)
    web = english(app.test_client())
    login(web, admin.email)
    cohort_id, shop, mei = world["cohort"].id, world["shop"], world["mei"]
    assert web.get(f"/admin/cohorts/{cohort_id}/shop-ids").status_code == 200
    mapped = web.post(f"/admin/cohorts/{cohort_id}/shop-ids",
                      data={"shop": shop.id, "trainee": mei.id, "external_id": "yz-778"})
    assert mapped.status_code == 302
    again = web.post(f"/admin/cohorts/{cohort_id}/shop-ids",
                     data={"shop": shop.id, "trainee": mei.id, "external_id": "yz-778"})
    assert again.status_code == 422 and "already mapped" in again.text
    response = post_event(http, shop, event(mobile=None, external_id="yz-778"))
    assert response.status_code == 200 and day_row(mei).earnings_fen == 1250
    member = db.session.scalar(sa.select(ShopMember))
    assert web.post(f"/admin/shop-ids/{member.id}/delete").status_code == 302
    assert post_event(http, shop, event(order_id="B2", mobile=None, external_id="yz-778")).status_code == 422


def test_an_admin_creates_a_shop_and_rotates_its_secret_the_old_one_signs_a_day_more(http, world, app):
    admin = make_user("boss@example.com", Role.ADMIN)
    web = english(app.test_client())
    login(web, admin.email)
    created = web.post("/admin/shops", data={"name": "Weidian"})
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    shop = db.session.scalar(sa.select(Shop).where(Shop.name == "Weidian"))
    assert shop.secret in created.text and shop.key in created.text
    old = shop.secret
    rotated = web.post(f"/admin/shops/{shop.id}/rotate")
    db.session.expire_all()
    assert rotated.status_code == 200 and shop.secret != old and shop.secret in rotated.text
    assert post_event(http, shop, event(), secret=old).status_code == 200
    assert post_event(http, shop, event(order_id="A2"), secret=shop.secret).status_code == 200
    shop.previous_valid_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert post_event(http, shop, event(order_id="A3"), secret=old).status_code == 401
    assert web.post("/admin/shops", data={"name": ""}).status_code == 422


def test_the_shops_command_prints_the_id_and_the_secret_on_the_last_two_lines(http, world, app):
    result = CliRunner().invoke(app.cli, ["shops", "create", "Doudian"], obj=None)
    assert result.exit_code == 0, result.output
    shop_id, secret = result.stdout.strip().splitlines()[-2:]
    shop = db.session.scalar(sa.select(Shop).where(Shop.key == shop_id))
    assert shop.name == "Doudian" and shop.secret == secret
    assert post_event(http, shop, event()).status_code == 200


def test_the_csv_import_keeps_the_shop_s_figure_for_a_day_the_shop_reported(http, world):
    mei, mentor, now = world["mei"], world["mentor"], utcnow()
    today, yesterday = local_today(mei, now), local_today(mei, now) - timedelta(days=1)
    post_event(http, world["shop"], event())
    csv_text = f"mobile,date,earnings\n13800000001,{today},30\n13800000001,{yesterday},8\n"
    result = imports.apply_import(db.session, mentor, csv_text, now)
    db.session.commit()
    assert result is not None
    assert (day_row(mei, today).earnings_fen, day_row(mei, today).reported_earnings_fen) == (1250, 3000)
    assert day_row(mei, yesterday).earnings_fen == 800 and day_row(mei, yesterday).earnings_source == "import"


def test_an_order_before_her_programme_is_listed_but_counts_for_no_day(http, world):
    mei = world["mei"]
    old = datetime.now(timezone.utc) - timedelta(days=15)
    response = post_event(http, world["shop"], event(occurred_at=old.isoformat()))
    assert response.status_code == 200
    assert stored()[2] == 0
    assert earnings_of(db.session, mei, utcnow()).pending == 1250


def test_a_body_over_16_kb_is_refused_before_it_is_read(http, world):
    body = json.dumps(event(order_id="A" * 10, padding="x" * 17_000)).encode()
    response = post_event(http, world["shop"], body)
    assert response.status_code == 413 and stored() == (0, 0, 0)
