"""Mentors import earnings from a shop's CSV: the preview changes nothing, the confirm applies all or nothing."""
import base64
import io
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from app.core.access import Role
from app.checkins import imports, service
from app.checkins.models import Checkin, CheckinRevision
from app.database import utcnow
from app.extensions import db
from app.core.errors import DomainError
from tests.conftest import login, make_cohort, make_user

NOW = utcnow()
TODAY = NOW.astimezone(ZoneInfo("Asia/Shanghai")).date()


def day(n: int) -> str:
    """n days ago, in Shanghai, as the shop writes it."""
    return (TODAY - timedelta(days=n)).isoformat()


@pytest.fixture
def people(app):
    """Cohort A (started 20 days ago) with its mentor and two trainees; cohort B with one trainee; an admin."""
    a = make_cohort("A", "COHORTA", start=TODAY - timedelta(days=20))
    b = make_cohort("B", "COHORTB", start=TODAY - timedelta(days=20))
    mentor = make_user("mentor@example.com", role=Role.MENTOR, cohort=a, locale="en")
    mei = make_user("mei@example.com", cohort=a, name="Mei", mobile="13812345678", locale="en")
    lan = make_user("lan@example.com", cohort=a, name="Lan")
    other = make_user("ying@example.com", cohort=b, name="Ying", mobile="13900000000")
    admin = make_user("admin@example.com", role=Role.ADMIN, locale="en")
    for trainee in (mei, lan, other):
        trainee.created_at = NOW - timedelta(days=40)
    db.session.commit()
    return {"mentor": mentor, "mei": mei, "lan": lan, "other": other, "admin": admin}


def rejections(preview) -> dict[int, str]:
    with force_locale("en"):
        return {row.line: row.reason for row in preview.rejected}


def checkins() -> list[Checkin]:
    return list(db.session.scalars(sa.select(Checkin).order_by(Checkin.user_id, Checkin.day)))


def test_preview_lists_every_rejected_row_with_its_reason_and_changes_nothing(people):
    service.record_checkin(db.session, people["mei"], {"date": day(3), "earnings": "5"}, NOW)
    db.session.commit()
    csv_text = "\n".join([
        "mobile,email,date,earnings,orders,nickname",
        f"13812345678,,{day(1)},12.50,3,Mei",             # 2 new
        f",mei@example.com,{day(3)},8,,Mei",              # 3 changes ¥5 -> ¥8
        f"13700000000,,{day(1)},1,1,?",                    # 4 unknown trainee
        f"13900000000,,{day(1)},1,1,Ying",                # 5 another cohort
        f"13812345678,,2024-13-45,1,1,Mei",               # 6 bad date
        f"13812345678,,{(TODAY + timedelta(days=1)).isoformat()},1,1,Mei",  # 7 future
        f"13812345678,,{day(30)},1,1,Mei",                # 8 before her start
        f",lan@example.com,{day(2)},-3,1,Lan",            # 9 negative
        f",lan@example.com,{day(4)},1.234,1,Lan",         # 10 three decimals
        f",lan@example.com,{day(5)},lots,1,Lan",          # 11 not a number
        f",lan@example.com,{day(6)},1,two,Lan",           # 12 bad orders
        f",lan@example.com,{day(7)},1,1,Lan",             # 13 duplicate of 14
        f",lan@example.com,{day(7)},2,1,Lan",             # 14
        f",lan@example.com,{day(8)}",                     # 15 short: no earnings
        f",lan@example.com,{day(9)},1,200.00,1,Lan",      # 16 an unquoted comma
        f",,{day(1)},1,1,nobody",                         # 17 nobody
        "",
        f',lan@example.com,{day(10)},"1,200.00",2,Lan',  # 19 a quoted comma is fine
    ])
    preview = imports.preview_import(db.session, people["mentor"], csv_text, NOW)
    assert not preview.errors
    assert [(r.line, r.trainee.name, r.day.isoformat(), r.earnings_fen, r.orders, r.creates) for r in preview.rows] == [
        (2, "Mei", day(1), 1250, 3, True), (3, "Mei", day(3), 800, None, False), (19, "Lan", day(10), 120000, 2, True)]
    assert preview.rows[1].old_earnings_fen == 500
    assert (preview.creates, preview.updates) == (2, 1)
    assert preview.ignored_columns == ["nickname"]
    found = rejections(preview)
    assert sorted(found) == [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]
    expected = {4: "Unknown trainee", 5: "not in a cohort you coach", 6: "Bad date", 7: "Future date",
                8: "Before her start", 9: "Bad earnings", 10: "Bad earnings", 11: "Bad earnings", 12: "Bad orders",
                13: "Duplicate: lines 13, 14", 14: "Duplicate: lines 13, 14", 15: "No earnings", 16: "7 cells",
                17: "No mobile number or email"}
    for line, words in expected.items():
        assert words in found[line], (line, found[line])
    assert "negative" in found[9] and "2 decimals" in found[10] and "Ying" not in found[5]
    assert next(r for r in preview.rejected if r.line == 4).raw == f"13700000000,,{day(1)},1,1,?"
    # Only read: the one check-in there was is as it was.
    assert [(c.day.isoformat(), c.earnings_fen) for c in checkins()] == [(day(3), 500)]


def test_a_file_without_the_columns_says_which_are_missing(people):
    preview = imports.preview_import(db.session, people["mentor"], "name,amount\nMei,12\n", NOW)
    with force_locale("en"):
        assert any("Missing column: mobile or email" in str(e) for e in preview.errors)
        assert any("Missing column: date" in str(e) for e in preview.errors)
    assert not preview.rows and not preview.rejected
    assert imports.preview_import(db.session, people["mentor"], "  \n", NOW).errors


def test_confirm_applies_every_valid_row_in_one_go_and_keeps_history_and_other_fields(people):
    mei = people["mei"]
    service.record_checkin(db.session, mei, {"date": day(2), "earnings": "5", "orders": "1", "group_members": "80",
                                             "active_members": "20", "posts": "4", "note": "good day"}, NOW)
    db.session.commit()
    csv_text = f"手机号,日期,收入,订单数\n13812345678,{day(2)},30.00,6\n13812345678,{day(1)},10,\nbad,{day(1)},1,1\n"
    preview = imports.preview_import(db.session, people["mentor"], csv_text, NOW)
    result = imports.apply_import(db.session, people["mentor"], csv_text, NOW, digest=preview.digest)
    db.session.commit()
    assert (result.created, result.updated, result.rejected) == (1, 1, 1)
    updated, created = sorted(checkins(), key=lambda c: c.day)
    assert (updated.earnings_fen, updated.orders, updated.group_members, updated.active_members, updated.posts,
            updated.note, updated.source) == (3000, 6, 80, 20, 4, "good day", "import")
    assert (created.earnings_fen, created.orders, created.source) == (1000, None, "import")
    revision = db.session.scalar(sa.select(CheckinRevision).where(CheckinRevision.checkin_id == updated.id))
    assert revision.values["earnings_fen"] == 500 and revision.values["orders"] == 1
    assert revision.values["source"] == "web" and revision.changed_by_id == people["mentor"].id

    # The same file again: every row is already up to date, and nothing gets a new revision.
    again = imports.preview_import(db.session, people["mentor"], csv_text, NOW)
    assert not again.rows and len(again.unchanged) == 2
    assert db.session.scalar(sa.select(sa.func.count(CheckinRevision.id))) == 1


def test_a_row_failing_at_apply_time_applies_nothing(people, monkeypatch):
    csv_text = "email,date,earnings\n" + "".join(
        f"{who}@example.com,{day(n)},{n}\n" for who, n in (("mei", 1), ("lan", 1), ("mei", 2), ("lan", 2)))
    real, calls = service.record_checkin, []

    def failing_on_the_third(*args, **kwargs):
        calls.append(args)
        if len(calls) == 3:
            raise DomainError(fields={"date": "the database said no"})
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "record_checkin", failing_on_the_third)
    with pytest.raises(imports.ImportFailed) as failure:
        imports.apply_import(db.session, people["mentor"], csv_text, NOW)
    assert failure.value.line == 4 and len(calls) == 3
    db.session.commit()  # what a careless caller would do: still nothing to store
    assert checkins() == []


def test_a_change_between_preview_and_confirm_applies_nothing(people, client):
    """Her start moved later after the preview: the confirm sees a different plan and stores nothing."""
    login(client, "mentor@example.com")
    csv_text = f"email,date,earnings\nmei@example.com,{day(10)},1\nlan@example.com,{day(1)},2\n"
    page = client.post("/import/preview", data={"text": csv_text})
    assert page.status_code == 200 and "Save these 2 check-ins" in page.text
    form = hidden_fields(page.text)
    people["mei"].cohort.start_date = TODAY - timedelta(days=5)
    db.session.commit()
    response = client.post("/import/confirm", data=form)
    assert response.status_code == 409
    assert "nothing was imported" in response.text and "Before her start" in response.text
    assert checkins() == []
    # A tampered text does not match its digest either.
    other = dict(form, csv=base64.b64encode(csv_text.replace(",2\n", ",200\n").encode()).decode())
    assert client.post("/import/confirm", data=other).status_code == 409
    assert checkins() == []


def hidden_fields(page: str) -> dict:
    form = page[page.index('id="confirm-import"'):]
    return {name: value for name, value in re.findall(r'name="(csv|digest)" type="hidden" value="([^"]*)"', form)}


def test_a_mentor_cannot_import_for_another_cohort_but_an_admin_can(people):
    csv_text = f"mobile,date,earnings\n13900000000,{day(1)},9\n13812345678,{day(1)},9\n"
    preview = imports.preview_import(db.session, people["mentor"], csv_text, NOW)
    assert [r.trainee.name for r in preview.rows] == ["Mei"]
    assert "not in a cohort you coach" in rejections(preview)[2]
    imports.apply_import(db.session, people["mentor"], csv_text, NOW)
    db.session.commit()
    assert [c.user_id for c in checkins()] == [people["mei"].id]
    assert [r.trainee.name for r in imports.preview_import(db.session, people["admin"], csv_text, NOW).rows] == ["Ying"]


def test_a_trainee_cannot_open_the_import(people, client):
    login(client, "mei@example.com")
    assert client.get("/import").status_code == 404
    assert client.post("/import/preview", data={"text": "email,date,earnings\n"}).status_code == 404
    assert client.post("/import/confirm", data={"csv": "eA==", "digest": "x"}).status_code == 404
    client.post("/logout")
    assert client.get("/import").status_code == 302  # to the login page


def test_bom_chinese_headers_tabs_and_gbk(people):
    rows = f"手机号\t日期\t佣金（元）\t订单数\n13812345678\t{day(1).replace('-', '/')}\t￥12.50\t2\n"
    for data in ("\ufeff" + rows, ("\ufeff" + rows).encode("utf-8"), rows.encode("gbk"), rows.encode("utf-16")):
        preview = imports.preview_import(db.session, people["mentor"], data, NOW)
        assert not preview.errors and not preview.rejected, data
        assert [(r.trainee.name, r.day.isoformat(), r.earnings_fen, r.orders) for r in preview.rows] == [
            ("Mei", day(1), 1250, 2)]


def test_upload_preview_and_confirm_in_the_browser(people, client):
    mei = people["mei"]
    service.record_checkin(db.session, mei, {"date": day(2), "earnings": "5", "group_members": "50"}, NOW)
    db.session.commit()
    login(client, "mentor@example.com")
    assert "Import earnings" in client.get("/import").text
    data = f"\ufeff邮箱,日期,收入,订单数\r\nmei@example.com,{day(2)},7.5,1\r\nlan@example.com,{day(1)},3,\r\n" \
           f"nobody@example.com,{day(1)},3,\r\n".encode()
    page = client.post("/import/preview", data={"file": (io.BytesIO(data), "shop.csv")},
                       content_type="multipart/form-data")
    assert page.status_code == 200
    assert "¥5.00</span> → ¥7.50" in page.text and "Line 4" in page.text and "Unknown trainee" in page.text
    assert checkins()[0].earnings_fen == 500  # the preview stored nothing
    response = client.post("/import/confirm", data=hidden_fields(page.text))
    assert response.status_code == 302 and response.location.endswith("/import")
    assert "Check-ins created: 1; updated: 1." in client.get("/import").text
    stored = {(c.user_id, c.day.isoformat()): c for c in checkins()}
    assert stored[(mei.id, day(2))].earnings_fen == 750 and stored[(mei.id, day(2))].group_members == 50
    assert stored[(people["lan"].id, day(1))].earnings_fen == 300


def test_a_bad_upload_keeps_what_was_pasted(people, client):
    login(client, "mentor@example.com")
    response = client.post("/import/preview", data={"text": "who,when,how much\nmei,today,12\n"})
    assert response.status_code == 422
    assert "Missing column" in response.text and "who,when,how much\nmei,today,12" in response.text
    assert client.post("/import/preview", data={"text": "  "}).status_code == 422
