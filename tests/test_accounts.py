from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.accounts import service
from app.accounts.models import LoginAttempt, User
from app.core.access import Role
from app.database import utcnow
from app.demo.seed import DEMO_CODE, DEMO_PASSWORD, seed_demo
from app.extensions import db
from tests.conftest import PASSWORD, login, make_user

REGISTRATION = {"name": "王芳", "mobile": "138 0013 8000", "email": "", "password": "paper lantern 47",
                "confirm": "paper lantern 47", "timezone": "Asia/Shanghai"}


def test_trainee_registers_through_her_cohort_invite(client, cohort):
    page = client.get(f"/invite/{cohort.invite_code}")
    assert page.status_code == 200 and "Spring cohort" in page.text
    response = client.post(f"/invite/{cohort.invite_code}", data=REGISTRATION)
    assert response.status_code == 302
    user = db.session.scalar(sa.select(User).where(User.mobile == "13800138000"))
    assert user.cohort_id == cohort.id and user.role == Role.TRAINEE and user.timezone == "Asia/Shanghai"
    assert user.password_hash.startswith("scrypt:") and "paper lantern 47" not in user.password_hash
    assert client.get("/").status_code == 200 and "王芳" in client.get("/").text  # logged in


def test_invite_code_is_found_from_the_join_form_whatever_its_case(client, cohort):
    response = client.post("/join", data={"code": " spring1 "})
    assert response.status_code == 302 and response.location.endswith("/invite/SPRING1")
    response = client.post("/join", data={"code": "NOPE"})
    assert response.status_code == 422 and "NOPE" in response.text  # what she typed stays
    assert client.get("/invite/NOPE").status_code == 404


@pytest.mark.parametrize("change, field_text", [
    ({"mobile": "12345"}, "13812345678"),
    ({"mobile": "", "email": ""}, "mobile number or an email"),
    ({"password": "short", "confirm": "short"}, "8"),
    ({"confirm": "different1"}, "passwords differ"),
])
def test_a_bad_registration_says_why_and_keeps_what_she_typed(client, cohort, change, field_text):
    response = client.post(f"/invite/{cohort.invite_code}", data={**REGISTRATION, **change},
                           headers={"Accept-Language": "en"})
    assert response.status_code == 422
    assert field_text in response.text
    assert 'value="王芳"' in response.text  # her name is still in the form
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def test_an_email_or_mobile_is_registered_only_once_without_saying_whose_it_is(client, cohort, trainee):
    # A taken email is left off the new account (she registers with her mobile): the answer is the
    # same as with a fresh address, so a stranger learns nothing about who has an account.
    response = client.post(f"/invite/{cohort.invite_code}",
                           data={**REGISTRATION, "email": trainee.email.upper()},
                           headers={"Accept-Language": "en"})
    assert response.status_code == 302
    fang = db.session.scalar(sa.select(User).where(User.mobile == "13800138000"))
    assert fang.email is None and db.session.get(User, trainee.id).email == trainee.email
    client.post("/logout")
    # Nothing left to register her with: refused, in words that do not say "already has an account".
    response = client.post(f"/invite/{cohort.invite_code}", data={**REGISTRATION, "email": trainee.email},
                           headers={"Accept-Language": "en"})
    assert response.status_code == 422 and "already has an account" not in response.text
    assert "We cannot register these details" in response.text


def test_login_with_email_or_mobile_in_any_spelling(client, cohort):
    make_user("fang@example.com", cohort=cohort, mobile="13900139000")
    for identifier in ("fang@example.com", "FANG@example.com ", "13900139000", "+86 139-0013-9000"):
        response = login(client, identifier)
        assert response.status_code == 302, identifier
        client.post("/logout")


def test_wrong_password_is_refused_with_a_message(client, trainee):
    response = login(client, trainee.email, "wrong password")
    assert response.status_code == 422
    assert client.get("/courses").status_code == 302  # still logged out


def test_logout_is_a_post_and_ends_the_session(logged_in):
    assert logged_in.get("/courses").status_code == 200
    assert logged_in.get("/logout").status_code == 405
    logged_in.post("/logout")
    assert logged_in.get("/courses").status_code == 302


def test_throttling_blocks_an_account_after_five_failures_even_with_the_right_password(app, trainee):
    now = utcnow()
    for _ in range(5):
        assert service.authenticate(db.session, trainee.email, "nope", "10.0.0.1", now, app.config).error == "invalid"
    result = service.authenticate(db.session, trainee.email, PASSWORD, "10.0.0.2", now, app.config)
    assert result.error == "throttled" and result.retry_minutes == 15
    later = now + timedelta(minutes=15, seconds=1)  # the window slides past the failures
    assert service.authenticate(db.session, trainee.email, PASSWORD, "10.0.0.2", later, app.config).user == trainee


def test_throttling_blocks_an_address_trying_many_accounts(app, trainee):
    now = utcnow()
    for i in range(20):
        service.authenticate(db.session, f"guess{i}@example.com", "nope", "10.9.9.9", now, app.config)
    assert service.authenticate(db.session, trainee.email, PASSWORD, "10.9.9.9", now, app.config).error == "throttled"
    assert service.authenticate(db.session, trainee.email, PASSWORD, "10.1.1.1", now, app.config).user == trainee


def test_throttling_is_counted_in_the_database_so_every_worker_sees_it(make_app, trainee):
    first, second = make_app(), make_app()  # two app instances stand for two worker processes
    for _ in range(5):
        login(first.test_client(), trainee.email, "nope")
    response = login(second.test_client(), trainee.email, PASSWORD)
    assert response.status_code == 422 and "分钟后再试" in response.text
    assert db.session.scalar(sa.select(sa.func.count(LoginAttempt.id))) == 5


def test_a_success_forgives_earlier_failures_of_the_account(app, trainee):
    now = utcnow()
    for _ in range(4):
        service.authenticate(db.session, trainee.email, "nope", "10.0.0.1", now, app.config)
    assert service.authenticate(db.session, trainee.email, PASSWORD, "10.0.0.1", now, app.config).user
    for _ in range(4):
        service.authenticate(db.session, trainee.email, "nope", "10.0.0.1", now, app.config)
    assert service.authenticate(db.session, trainee.email, PASSWORD, "10.0.0.1", now, app.config).user


def test_remember_me_cookie_lasts_30_days_http_only_and_same_site_lax(client, trainee):
    response = login(client, trainee.email, remember="y")
    cookies = {c.split("=")[0]: c for c in response.headers.getlist("Set-Cookie")}
    remember = cookies["remember_token"]
    assert "HttpOnly" in remember and "SameSite=Lax" in remember
    assert "Max-Age=2592000" in remember or "Expires=" in remember
    assert "HttpOnly" in cookies["session"] and "SameSite=Lax" in cookies["session"]


def test_changing_the_password_signs_out_other_devices(make_app, trainee):
    app = make_app()
    phone, laptop = app.test_client(), app.test_client()
    login(phone, trainee.email)
    login(laptop, trainee.email)
    response = phone.post("/account/password", data={
        "current_password": PASSWORD, "new_password": "new password 9", "confirm": "new password 9"})
    assert response.status_code == 302
    assert phone.get("/courses").status_code == 200  # this device stays in
    assert laptop.get("/courses").status_code == 302  # the other one is out
    assert login(app.test_client(), trainee.email, "new password 9").status_code == 302


def test_changing_the_password_needs_the_current_one(logged_in):
    response = logged_in.post("/account/password", data={
        "current_password": "wrong one", "new_password": "new password 9", "confirm": "new password 9"},
        headers={"Accept-Language": "en"})
    assert response.status_code == 422 and "not your current password" in response.text


def test_users_create_command(app, cohort):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "--email", "coach@example.com", "--password", "quiet harbour 52",
                                 "--role", "mentor", "--cohort", cohort.invite_code, "--name", "教练"])
    assert result.exit_code == 0, result.output
    mentor = db.session.scalar(sa.select(User).where(User.email == "coach@example.com"))
    assert mentor.role == "mentor" and mentor in cohort.mentors
    result = runner.invoke(args=["users", "create", "--email", "x@example.com", "--password", "short"])
    assert result.exit_code != 0 and "password: " in result.output and "8" in result.output


def test_demo_is_idempotent(app):
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["demo"])
        assert result.exit_code == 0 and "trainee@demo.local" in result.output
    users = db.session.scalars(sa.select(User)).all()
    assert sorted(u.email for u in users) == ["admin@demo.local", "mentor@demo.local", "trainee@demo.local"]
    cohort = seed_demo(db.session, utcnow())
    assert cohort.invite_code == DEMO_CODE and [m.email for m in cohort.mentors] == ["mentor@demo.local"]
    assert all(u.check_password(DEMO_PASSWORD) for u in users)
