"""Admin pages: cohorts and invites, moving and closing accounts, reset links, the audit log."""
import hashlib
import re
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from app.accounts import service as accounts
from app.accounts.models import User
from app.core.access import Role
from app.cohorts import admin
from app.core import audit
from app.cohorts.models import Cohort
from app.core.audit import AuditEntry
from app.accounts.models import PasswordReset
from app.database import utcnow
from app.extensions import db
from app.core.errors import DomainError
from tests.conftest import count_queries, english, login, make_cohort, make_user

REGISTRATION = {"name": "王芳", "mobile": "138 0013 8000", "email": "", "password": "paper lantern 47",
                "confirm": "paper lantern 47", "timezone": "Asia/Shanghai"}
XSS = "<script>alert(1)</script>"


@pytest.fixture
def coach(cohort):
    return make_user("coach@example.com", role=Role.MENTOR, cohort=cohort, name="Coach Li")


def entries(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def cohort_form(**change) -> dict:
    return {"name": "Summer cohort", "start_date": "2026-07-01", "timezone": "Asia/Shanghai", "invite_code": "SUMMER26",
            "invite_expires_at": "", "seat_limit": "", "robot_kind": "", "robot_webhook": "", "robot_secret": "",
            **change}


# --- admins only -------------------------------------------------------------------------------------

def admin_urls(cohort, user) -> list[tuple[str, str]]:
    return [("GET", "/admin/cohorts"), ("GET", "/admin/cohorts/new"), ("POST", "/admin/cohorts/new"),
            ("GET", f"/admin/cohorts/{cohort.id}/edit"), ("POST", f"/admin/cohorts/{cohort.id}/edit"),
            ("GET", "/admin/users"), ("GET", "/admin/users?q=mei"), ("GET", f"/admin/users/{user.id}"),
            ("POST", f"/admin/users/{user.id}/move"), ("POST", f"/admin/users/{user.id}/deactivate"),
            ("POST", f"/admin/users/{user.id}/reactivate"), ("POST", f"/admin/users/{user.id}/reset-link"),
            ("GET", "/admin/audit")]


def test_every_admin_page_is_for_admins_only(make_app, cohort, trainee, coach, boss):
    app = make_app()
    anonymous = app.test_client()
    for method, url in admin_urls(cohort, trainee):
        response = anonymous.open(url, method=method, data=cohort_form())
        assert response.status_code == 302 and "/login" in response.location, (method, url)
    for person in (trainee, coach):
        client = app.test_client()
        assert login(client, person.email).status_code == 302
        for method, url in admin_urls(cohort, trainee):
            assert client.open(url, method=method, data=cohort_form()).status_code == 404, (person.role, method, url)
    # Nothing the refused requests sent was done.
    assert db.session.scalar(sa.select(sa.func.count(Cohort.id))) == 1
    assert db.session.get(User, trainee.id).is_active
    assert db.session.scalar(sa.select(sa.func.count(AuditEntry.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(PasswordReset.id))) == 0
    admin_client = app.test_client()
    login(admin_client, boss.email)
    for method, url in admin_urls(cohort, trainee):
        if method == "GET":
            assert admin_client.get(url).status_code == 200, url


# --- cohorts -------------------------------------------------------------------------------------

def test_the_cohort_list_shows_trainees_and_mentors_in_a_constant_number_of_queries(admin_client, cohort, coach):
    make_user("a@example.com", cohort=cohort)
    make_user("b@example.com", cohort=cohort)
    gone = make_user("c@example.com", cohort=cohort)
    gone.is_active = False
    db.session.commit()
    with count_queries() as one:
        page = admin_client.get("/admin/cohorts")
    assert page.status_code == 200
    assert "Spring cohort" in page.text and "Trainees: 2" in page.text and "Coach Li" in page.text
    for n in range(5):
        other = make_cohort(f"Cohort {n}", f"CODE{n}")
        make_user(f"t{n}@example.com", cohort=other)
    with count_queries() as six:
        page = admin_client.get("/admin/cohorts")
    assert "Cohort 4" in page.text and six() == one()
    assert f'/admin/cohorts/{cohort.id}/edit' in page.text


def test_an_admin_creates_a_cohort_and_sees_its_invite_link(admin_client, boss, coach):
    page = admin_client.get("/admin/cohorts/new")
    code = re.search(r'name="invite_code"[^>]*value="([A-Z0-9]+)"', page.text).group(1)
    assert len(code) == 8  # one is proposed
    response = admin_client.post("/admin/cohorts/new", data=cohort_form(
        invite_code="summer26", mentors=[str(coach.id)], invite_expires_at="2026-07-10T20:00", seat_limit="30",
        robot_kind="wecom", robot_webhook="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc",
        robot_secret="s3cret", timezone="Asia/Tokyo"))
    assert response.status_code == 302, response.text
    cohort = db.session.scalar(sa.select(Cohort).where(Cohort.name == "Summer cohort"))
    assert cohort.invite_code == "SUMMER26" and cohort.timezone == "Asia/Tokyo" and cohort.seat_limit == 30
    assert [m.id for m in cohort.mentors] == [coach.id]
    # Typed in the admin's zone (Beijing time), kept in UTC.
    assert cohort.invite_expires_at == datetime(2026, 7, 10, 12, 0, tzinfo=timezone.utc)
    assert (cohort.robot_kind, cohort.robot_secret) == ("wecom", "s3cret")
    assert cohort.rank_by_earnings is False                 # rankings show earnings only when allowed
    page = admin_client.get(response.location)
    assert "http://localhost/invite/SUMMER26" in page.text
    admin_client.post(f"/admin/cohorts/{cohort.id}/edit", data=cohort_form(
        invite_code="SUMMER26", mentors=[str(coach.id)], rank_by_earnings="y", timezone="Asia/Tokyo"))
    db.session.expire_all()
    assert cohort.rank_by_earnings is True
    assert 'value="2026-07-10T20:00"' in page.text  # shown back in her zone
    assert "s3cret" not in page.text  # the secret is never sent back
    [entry] = entries("cohort.create")
    assert entry.actor_id == boss.id and entry.target == f"cohort:{cohort.id}"
    assert entry.details["invite_code"] == "SUMMER26" and entry.details["mentors"] == [coach.id]
    assert "s3cret" not in str(entry.details) and "key=abc" not in str(entry.details)


def test_a_duplicate_invite_code_is_refused_whatever_its_case_and_the_form_keeps_what_was_typed(admin_client, cohort):
    response = admin_client.post("/admin/cohorts/new", data=cohort_form(invite_code=" spring1 ", seat_limit="12"))
    assert response.status_code == 422
    assert "Another cohort already uses this invite code" in response.text
    assert 'value="Summer cohort"' in response.text and 'value="12"' in response.text
    assert db.session.scalar(sa.select(sa.func.count(Cohort.id))) == 1
    assert entries("cohort.create") == []


@pytest.mark.parametrize("change, message", [
    ({"name": ""}, "This field is required"),
    ({"invite_code": "a b!"}, "letters, digits or dashes"),
    ({"seat_limit": "0"}, "Number must be"),
    ({"robot_kind": "dingtalk", "robot_webhook": "http://oapi.dingtalk.com/robot/send"}, "https://"),
    ({"robot_kind": "feishu", "robot_webhook": ""}, "https://"),
    ({"robot_webhook": "https://example.com/hook"}, "Choose which app"),
    ({"invite_expires_at": "next week"}, "Not a valid datetime"),
])
def test_a_bad_cohort_form_says_why(admin_client, change, message):
    response = admin_client.post("/admin/cohorts/new", data=cohort_form(**change))
    assert response.status_code == 422 and message in response.text
    assert db.session.scalar(sa.select(sa.func.count(Cohort.id))) == 0


def test_an_admin_edits_a_cohort(admin_client, cohort, coach, boss):
    other = make_user("other@example.com", role=Role.MENTOR, name="Coach Wu")
    cohort.robot_kind, cohort.robot_webhook, cohort.robot_secret = "dingtalk", "https://oapi.dingtalk.com/x", "old-secret"
    db.session.commit()
    page = admin_client.get(f"/admin/cohorts/{cohort.id}/edit")
    assert 'value="Spring cohort"' in page.text and "http://localhost/invite/SPRING1" in page.text
    assert "Coach Wu" in page.text and "old-secret" not in page.text and "A secret is saved" in page.text
    data = cohort_form(name="Spring cohort A", invite_code="SPRING1", mentors=[str(other.id)],
                       robot_kind="dingtalk", robot_webhook="https://oapi.dingtalk.com/x", robot_secret="")
    response = admin_client.post(f"/admin/cohorts/{cohort.id}/edit", data=data)
    assert response.status_code == 302, response.text
    db.session.refresh(cohort)
    assert cohort.name == "Spring cohort A" and [m.id for m in cohort.mentors] == [other.id]
    assert cohort.robot_secret == "old-secret"  # an empty secret field keeps it
    [entry] = entries("cohort.update")
    assert entry.actor_id == boss.id and entry.details["changes"]["name"] == ["Spring cohort", "Spring cohort A"]
    assert entry.details["changes"]["mentors"] == [[coach.id], [other.id]]
    # No robot: its address and secret go.
    admin_client.post(f"/admin/cohorts/{cohort.id}/edit", data={**data, "robot_kind": "", "robot_webhook": ""})
    db.session.refresh(cohort)
    assert (cohort.robot_kind, cohort.robot_webhook, cohort.robot_secret) == (None, None, None)
    assert entries("cohort.update")[1].details["changes"]["robot_secret"] == "changed"
    assert admin_client.get("/admin/cohorts/999/edit").status_code == 404


# --- the invite's expiry and seats ---------------------------------------------------------------

def test_an_expired_invite_refuses_to_register(client, cohort):
    cohort.invite_expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    english(client)
    page = client.get("/invite/SPRING1")
    assert page.status_code == 403 and "This invite link has expired" in page.text
    assert 'name="password"' not in page.text
    response = client.post("/invite/spring1", data=REGISTRATION)
    assert response.status_code == 403 and "expired" in response.text
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0
    cohort.invite_expires_at = utcnow() + timedelta(hours=1)
    db.session.commit()
    assert client.post("/invite/SPRING1", data=REGISTRATION).status_code == 302


def test_a_full_cohort_refuses_to_register(client, cohort, trainee):
    cohort.seat_limit = 2
    db.session.commit()
    english(client)
    assert client.post("/invite/SPRING1", data=REGISTRATION).status_code == 302  # the second seat
    client.post("/logout")
    page = client.get("/invite/SPRING1")
    assert page.status_code == 403 and "This cohort is full" in page.text
    response = client.post("/invite/SPRING1", data={**REGISTRATION, "mobile": "13900139000"})
    assert response.status_code == 403
    assert db.session.scalar(sa.select(sa.func.count(User.id)).where(User.cohort_id == cohort.id)) == 2
    # A deactivated trainee frees her seat.
    db.session.get(User, trainee.id).is_active = False
    db.session.commit()
    assert client.post("/invite/SPRING1", data={**REGISTRATION, "mobile": "13900139000"}).status_code == 302


def test_registration_itself_checks_the_invite(app, cohort):
    cohort.seat_limit = 0
    db.session.commit()
    with pytest.raises(DomainError):
        accounts.register_trainee(db.session, cohort, name="X", email="x@example.com", password="quiet harbour 52")
    cohort.seat_limit, cohort.invite_expires_at = None, datetime(2026, 1, 1, tzinfo=timezone.utc)
    with pytest.raises(DomainError):
        accounts.register_trainee(db.session, cohort, now=datetime(2026, 1, 1, tzinfo=timezone.utc),
                                  name="X", email="x@example.com", password="quiet harbour 52")
    assert accounts.register_trainee(db.session, cohort, now=datetime(2025, 12, 31, 23, 59, tzinfo=timezone.utc),
                                     name="X", email="x@example.com", password="quiet harbour 52").id


# --- users ----------------------------------------------------------------------------------

def test_users_are_found_by_name_email_or_mobile_fifty_a_page(admin_client, cohort, trainee):
    make_user("fang@example.com", cohort=cohort, name="王芳", mobile="13900139000")
    page = admin_client.get("/admin/users?q=王")
    assert "王芳" in page.text and "美美" not in page.text
    assert "王芳" in admin_client.get("/admin/users?q=FANG@").text
    assert "王芳" in admin_client.get("/admin/users?q=139 0013").text
    assert "1 found" in admin_client.get("/admin/users?q=mei").text
    assert "0 found" in admin_client.get("/admin/users?q=%25").text  # a wildcard is just a character
    db.session.add_all(User(name=f"Bulk {n:03d}", email=f"bulk{n}@example.com", password_hash="x", role=Role.TRAINEE)
                       for n in range(55))
    db.session.commit()
    first = admin_client.get("/admin/users?q=bulk")
    assert "55 found" in first.text and "Bulk 049" in first.text and "Bulk 050" not in first.text
    assert "page=2" in first.text and "q=bulk" in first.text
    second = admin_client.get("/admin/users?q=bulk&page=2")
    assert "Bulk 050" in second.text and "Bulk 054" in second.text and "Bulk 049" not in second.text
    assert admin_client.get("/admin/users?page=oops").status_code == 200


def test_the_user_page_shows_her_cohort_role_and_status(admin_client, trainee):
    page = admin_client.get(f"/admin/users/{trainee.id}")
    assert "美美" in page.text and "Spring cohort" in page.text and "Trainee" in page.text and "Active" in page.text
    assert admin_client.get("/admin/users/999").status_code == 404


def test_an_admin_moves_a_trainee_to_another_cohort(admin_client, boss, cohort, trainee, coach):
    autumn = make_cohort("Autumn cohort", "AUTUMN")
    response = admin_client.post(f"/admin/users/{trainee.id}/move", data={"cohort": str(autumn.id)})
    assert response.status_code == 302
    assert db.session.get(User, trainee.id).cohort_id == autumn.id
    assert "is now in Autumn cohort" in admin_client.get(response.location).text
    [entry] = entries("user.move")
    assert entry.actor_id == boss.id and entry.target == f"user:{trainee.id}"
    assert (entry.details["from_cohort"], entry.details["to_cohort"]) == (cohort.id, autumn.id)
    again = admin_client.post(f"/admin/users/{trainee.id}/move", data={"cohort": str(autumn.id)})
    assert again.status_code == 422 and "already in this cohort" in again.text
    assert admin_client.post(f"/admin/users/{trainee.id}/move", data={"cohort": "999"}).status_code == 422
    assert admin_client.post(f"/admin/users/{coach.id}/move", data={"cohort": str(autumn.id)}).status_code == 422
    assert len(entries("user.move")) == 1


def test_a_deactivated_trainee_cannot_log_in_and_her_open_sessions_end(make_app, admin_client, boss, trainee):
    app = make_app()
    phone, laptop = app.test_client(), app.test_client()
    login(phone, trainee.email)
    login(laptop, trainee.email, remember="y")
    assert phone.get("/courses").status_code == 200
    token = trainee.session_token
    response = admin_client.post(f"/admin/users/{trainee.id}/deactivate")
    assert response.status_code == 302
    user = db.session.get(User, trainee.id)
    assert not user.is_active and user.session_token != token
    assert phone.get("/courses").status_code == 302
    laptop.delete_cookie("session")  # only the remember-me cookie left: it is refused too
    assert laptop.get("/courses").status_code == 302
    again = english(app.test_client())
    response = login(again, trainee.email)
    assert response.status_code == 422 and "This account has been closed" in response.text
    assert "Deactivated" in admin_client.get(f"/admin/users/{trainee.id}").text
    assert [e.target for e in entries("user.deactivate")] == [f"user:{trainee.id}"]
    # Twice is refused; her own account an admin cannot close.
    assert admin_client.post(f"/admin/users/{trainee.id}/deactivate").status_code == 409
    assert admin_client.post(f"/admin/users/{boss.id}/deactivate").status_code == 409
    assert db.session.get(User, boss.id).is_active and len(entries("user.deactivate")) == 1


def test_a_reactivated_trainee_logs_in_again_with_her_history(admin_client, trainee):
    admin_client.post(f"/admin/users/{trainee.id}/deactivate")
    response = admin_client.post(f"/admin/users/{trainee.id}/reactivate")
    assert response.status_code == 302
    user = db.session.get(User, trainee.id)
    assert user.is_active and user.cohort_id is not None
    assert login(english(admin_client.application.test_client()), trainee.email).status_code == 302
    assert len(entries("user.reactivate")) == 1
    assert admin_client.post(f"/admin/users/{trainee.id}/reactivate").status_code == 409


# --- reset links ---------------------------------------------------------------------------------

def reset_link(admin_client, user) -> str:
    response = admin_client.post(f"/admin/users/{user.id}/reset-link")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    return re.search(r'value="(http://localhost/reset/[^"]+)"', response.text).group(1)


def test_a_reset_link_sets_a_new_password_once(make_app, admin_client, boss, trainee):
    other_device = make_app().test_client()
    login(other_device, trainee.email)
    link = reset_link(admin_client, trainee)
    token = link.rsplit("/", 1)[1]
    [reset] = db.session.scalars(sa.select(PasswordReset)).all()
    assert reset.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str([getattr(reset, c.key) for c in PasswordReset.__table__.columns])
    assert reset.expires_at - reset.created_at == timedelta(hours=72) and reset.created_by_id == boss.id
    assert token not in str([e.details for e in entries("user.reset_link")])
    assert "/reset/" not in admin_client.get(f"/admin/users/{trainee.id}").text  # shown once only

    her = english(make_app().test_client())
    page = her.get(link)
    assert page.status_code == 200 and 'name="new_password"' in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer"
    short = her.post(link, data={"new_password": "short", "confirm": "short"})
    assert short.status_code == 422 and "at least 8" in short.text.lower()
    assert her.post(link, data={"new_password": "brand new 9", "confirm": "brand new 9"}).status_code == 302
    assert login(her, trainee.email, "brand new 9").status_code == 302
    assert other_device.get("/courses").status_code == 302  # her other sessions ended
    used = english(make_app().test_client())
    assert used.get(link).status_code == 410 and "already been used" in used.get(link).text
    response = used.post(link, data={"new_password": "another river 99", "confirm": "another river 99"})
    assert response.status_code == 410
    assert login(used, trainee.email, "another river 99").status_code == 422


def test_an_expired_or_unknown_reset_link_is_refused(admin_client, client, trainee):
    link = reset_link(admin_client, trainee)
    reset = db.session.scalar(sa.select(PasswordReset))
    reset.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    english(client)
    page = client.get(link)
    assert page.status_code == 410 and "This link has expired" in page.text
    assert client.post(link, data={"new_password": "brand new 9", "confirm": "brand new 9"}).status_code == 410
    assert client.get("/reset/not-a-token").status_code == 404
    assert login(client, trainee.email).status_code == 302  # her password did not change


def test_a_new_reset_link_replaces_the_unused_one(admin_client, client, trainee):
    first = reset_link(admin_client, trainee)
    second = reset_link(admin_client, trainee)
    assert client.get(first).status_code == 410
    assert client.get(second).status_code == 200


def test_reset_links_are_for_active_accounts(admin_client, trainee):
    link = reset_link(admin_client, trainee)
    admin_client.post(f"/admin/users/{trainee.id}/deactivate")
    assert admin_client.application.test_client().get(link).status_code == 404
    assert admin_client.post(f"/admin/users/{trainee.id}/reset-link").status_code == 409


def test_the_service_claims_a_reset_once(app, boss, trainee):
    now = utcnow()
    token = admin.create_reset_link(db.session, boss, trainee, now)
    db.session.commit()
    accounts.reset_password(db.session, token, "brand new 9", now)
    with pytest.raises(DomainError) as error:
        accounts.reset_password(db.session, token, "brand new 10", now)
    assert error.value.code == "used"
    with pytest.raises(DomainError) as error:
        accounts.find_reset(db.session, admin.create_reset_link(db.session, boss, trainee, now),
                            now + timedelta(hours=72))
    assert error.value.code == "expired"


# --- the audit log -----------------------------------------------------------------------------

def test_every_admin_action_is_in_the_audit_log_newest_first(admin_client, boss, cohort, trainee):
    autumn = make_cohort("Autumn cohort", "AUTUMN")
    admin_client.post("/admin/cohorts/new", data=cohort_form())
    admin_client.post(f"/admin/cohorts/{cohort.id}/edit", data=cohort_form(name="Spring A", invite_code="SPRING1"))
    admin_client.post(f"/admin/users/{trainee.id}/move", data={"cohort": str(autumn.id)})
    admin_client.post(f"/admin/users/{trainee.id}/reset-link")
    admin_client.post(f"/admin/users/{trainee.id}/deactivate")
    admin_client.post(f"/admin/users/{trainee.id}/reactivate")
    logged = list(db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)))
    assert [e.action for e in logged] == ["cohort.create", "cohort.update", "user.move", "user.reset_link",
                                         "user.deactivate", "user.reactivate"]
    assert {e.actor_id for e in logged} == {boss.id}
    page = admin_client.get("/admin/audit").text
    shown = [page.index(f'id="audit-{e.id}"') for e in logged]
    assert shown == sorted(shown, reverse=True)  # newest first
    for label in ("Cohort created", "Cohort changed", "Trainee moved", "Password reset link created",
                  "Account deactivated", "Account reactivated"):
        assert label in page
    assert "Boss" in page and "美美" in page and "Autumn cohort" in page and "Spring A" in page


def test_the_audit_log_is_paged(admin_client, boss):
    for n in range(51):
        audit.record(db.session, boss, "test.action", f"thing:{n}", n=n)
    audit.record(db.session, None, "system.action", "")
    db.session.commit()
    first = admin_client.get("/admin/audit").text
    assert len(re.findall(r'id="audit-\d+"', first)) == 50 and "system.action" in first and "System" in first
    assert "thing:0" not in first
    second = admin_client.get("/admin/audit?page=2").text
    assert len(re.findall(r'id="audit-\d+"', second)) == 2 and "thing:0" in second


def test_audit_record_keeps_details_as_json(app, boss, cohort):
    entry = audit.record(db.session, boss, "cohort.note", cohort, on=datetime(2026, 1, 2, tzinfo=timezone.utc),
                         ids={3, 1}, who=boss, session="x", target="y")
    db.session.commit()
    db.session.expire_all()
    entry = db.session.get(AuditEntry, entry.id)
    assert entry.target == f"cohort:{cohort.id}" and entry.actor_id == boss.id
    assert entry.details == {"on": "2026-01-02T00:00:00+00:00", "ids": [1, 3], "who": f"user:{boss.id}",
                             "session": "x", "target": "y"}


def test_names_are_escaped_on_the_admin_pages(admin_client, trainee):
    response = admin_client.post("/admin/cohorts/new", data=cohort_form(name=XSS, invite_code="XSS1"))
    assert response.status_code == 302
    cohort = db.session.scalar(sa.select(Cohort).where(Cohort.invite_code == "XSS1"))
    user = db.session.get(User, trainee.id)
    user.name = XSS
    db.session.commit()
    admin_client.post(f"/admin/users/{trainee.id}/move", data={"cohort": str(cohort.id)})
    bad = admin_client.post("/admin/cohorts/new", data=cohort_form(name=XSS, invite_code="XSS1"))
    for page in (admin_client.get("/admin/cohorts"), admin_client.get(f"/admin/cohorts/{cohort.id}/edit"),
                 admin_client.get("/admin/users"), admin_client.get(f"/admin/users/{trainee.id}"),
                 admin_client.get("/admin/audit"), bad):
        assert XSS not in page.text, page.request.path
        assert "&lt;script&gt;" in page.text, page.request.path
