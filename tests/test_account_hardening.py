"""Sessions end on the server at logout; logins are throttled by person, not by spelling; passwords
that are common, guessable or built on her own details are refused wherever a password is set."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.accounts import service
from app.accounts.models import User
from app.api.models import create_token
from app.core.errors import DomainError
from app.database import utcnow
from app.extensions import db
from tests.factories import PASSWORD, bearer, english, login, make_user
from tests.test_cohort_admin import reset_link


# --- sessions --------------------------------------------------------------------------------------

def test_a_copy_of_the_session_or_remember_me_cookie_is_refused_after_logout(make_app, trainee):
    app = make_app()
    phone = app.test_client()
    assert login(phone, trainee.email, remember="y").status_code == 302
    stolen = {cookie.key: cookie.value for cookie in phone._cookies.values()}
    assert {"session", "remember_token"} <= set(stolen)
    phone.post("/logout")

    thief = app.test_client()
    for name, value in stolen.items():
        thief.set_cookie(name, value)
    assert thief.get("/progress").status_code == 302          # the old session cookie is dead
    thief.delete_cookie("session")
    assert thief.get("/progress").status_code == 302          # and so is the remember-me cookie
    # She logs in again as usual.
    assert login(phone, trainee.email).status_code == 302 and phone.get("/progress").status_code == 200


def test_logout_ends_her_sessions_on_every_device(make_app, trainee):
    app = make_app()
    phone, laptop = app.test_client(), app.test_client()
    login(phone, trainee.email)
    login(laptop, trainee.email)
    laptop.post("/logout")
    assert phone.get("/progress").status_code == 302


def test_reactivating_an_account_does_not_bring_back_her_api_tokens(admin_client, trainee):
    _, secret = create_token(db.session, trainee, "phone", utcnow())
    db.session.commit()
    api = admin_client.application.test_client()
    assert api.get("/api/v1/checkins", headers=bearer(secret)).status_code == 200
    admin_client.post(f"/admin/users/{trainee.id}/deactivate")
    assert api.get("/api/v1/checkins", headers=bearer(secret)).status_code == 401
    admin_client.post(f"/admin/users/{trainee.id}/reactivate")
    assert db.session.get(User, trainee.id).is_active
    assert api.get("/api/v1/checkins", headers=bearer(secret)).status_code == 401


# --- throttling ------------------------------------------------------------------------------------

SPELLINGS = ["13812345678", "138 1234 5678", "+8613812345678", "008613812345678", "+86 138-1234-5678",
             "8613812345678", "１３８１２３４５６７８", "(138) 1234.5678", " 13812345678 ", "0086 138 1234 5678"]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_one_function_normalises_every_spelling_of_a_mobile(spelling):
    assert service.normalize_mobile(spelling) == "13812345678"
    assert service.login_key(spelling) == "13812345678"


def test_ten_spellings_from_ten_addresses_get_five_guesses_not_fifty(app, cohort):
    fang = make_user("fang@example.com", cohort=cohort, mobile="13812345678")
    now = utcnow()
    results = [service.authenticate(db.session, spelling, "not it", f"10.0.0.{i}", now, app.config).error
               for i, spelling in enumerate(SPELLINGS)]
    assert results[:5] == ["invalid"] * 5 and results[5:] == ["throttled"] * 5
    # Even the right password waits now, whatever the spelling or the address.
    result = service.authenticate(db.session, "+86 138 1234 5678", PASSWORD, "10.9.9.9", now, app.config)
    assert result.error == "throttled" and result.user is None
    later = now + timedelta(minutes=16)
    assert service.authenticate(db.session, "138-1234-5678", PASSWORD, "10.9.9.9", later, app.config).user == fang


def test_many_people_behind_one_carrier_address_are_not_locked_out(app, cohort):
    """Only failures count per address, and a success takes its account's failures back: people on one
    NAT address who each mistype once and then log in never reach the address limit."""
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 5    # (20 in production; fewer people to hash here)
    now = utcnow()
    people = [make_user(f"p{i}@example.com", cohort=cohort) for i in range(8)]
    for person in people:
        assert service.authenticate(db.session, person.email, "typo", "100.64.0.1", now, app.config).error == "invalid"
        assert service.authenticate(db.session, person.email, PASSWORD, "100.64.0.1", now, app.config).user == person
    # Guessing from that address is still limited.
    for i in range(5):
        service.authenticate(db.session, f"guess{i}@example.com", "nope", "100.64.0.1", now, app.config)
    assert service.authenticate(db.session, people[0].email, PASSWORD, "100.64.0.1", now,
                                app.config).error == "throttled"


def test_her_email_and_her_mobile_share_one_limit(app, cohort):
    make_user("fang@example.com", cohort=cohort, mobile="13812345678")
    now = utcnow()
    for i, identifier in enumerate(["fang@example.com", "FANG@example.com ", "13812345678", "+8613812345678",
                                    "fang@example.com"]):
        assert service.authenticate(db.session, identifier, "guess", f"10.0.3.{i}", now, app.config).error == "invalid"
    assert service.authenticate(db.session, "138 1234 5678", PASSWORD, "10.0.3.9", now, app.config).error == "throttled"


def test_her_logging_in_does_not_give_a_guesser_elsewhere_new_tries(app, cohort):
    fang = make_user("fang@example.com", cohort=cohort, mobile="13812345678")
    now = utcnow()
    for _ in range(4):
        assert service.authenticate(db.session, "+86 138 1234 5678", "guess", "198.51.100.7", now,
                                    app.config).error == "invalid"
    assert service.authenticate(db.session, fang.email, PASSWORD, "10.0.0.1", now, app.config).user == fang
    assert service.authenticate(db.session, "13812345678", "guess", "198.51.100.7", now, app.config).error == "invalid"
    assert service.authenticate(db.session, "13812345678", "guess", "198.51.100.8", now, app.config).error == "throttled"


# --- passwords -------------------------------------------------------------------------------------

WEAK = ["password1", "12345678", "qwertyuiop", "iloveyou1", "abcd1234", "11111111", "woaini1314"]
PERSONAL = ["13812345678a", "fang2026fang", "Fang Wang 99!", "王芳王芳love"]


def test_the_test_password_is_strong_enough():
    service.check_password_rules(PASSWORD)   # every other test logs in with it


@pytest.mark.parametrize("password", WEAK)
def test_common_and_guessable_passwords_are_refused(password):
    with pytest.raises(DomainError, match="too easy to guess"):
        service.check_password_rules(password)


@pytest.mark.parametrize("password", PERSONAL)
def test_her_own_name_mobile_and_email_are_refused(password):
    with pytest.raises(DomainError, match="Leave your name, mobile number and email out"):
        service.check_password_rules(password, name="Fang Wang" if "Fang" in password else "王芳",
                                     mobile="13812345678", email="fang2026@example.com")


def test_a_very_long_password_is_refused_before_it_costs_anything():
    with pytest.raises(DomainError, match="at most 72"):
        service.check_password_rules("x" * 73)


REGISTRATION = {"name": "王芳", "mobile": "139 0013 9000", "email": "fang@example.com",
                "timezone": "Asia/Shanghai"}


@pytest.mark.parametrize("lang, words", [("en", "too easy to guess"), ("zh", "太容易被猜到")])
def test_registration_refuses_a_weak_password_in_her_language(client, cohort, lang, words):
    response = client.post(f"/invite/{cohort.invite_code}", headers={"Accept-Language": lang},
                           data={**REGISTRATION, "password": "password123", "confirm": "password123"})
    assert response.status_code == 422 and words in response.text
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def test_registration_refuses_her_mobile_as_password(client, cohort):
    response = english(client).post(f"/invite/{cohort.invite_code}",
                                    data={**REGISTRATION, "password": "13900139000!", "confirm": "13900139000!"})
    assert response.status_code == 422 and "Leave your name, mobile number and email out" in response.text


def test_a_password_change_refuses_a_weak_or_personal_password(logged_in, trainee):
    english(logged_in)
    for new, words in (("iloveyou123", "too easy to guess"), ("mei@example.com1", "Leave your name")):
        response = logged_in.post("/account/password", data={"current_password": PASSWORD, "new_password": new,
                                                             "confirm": new})
        assert response.status_code == 422 and words in response.text, new
    assert db.session.get(User, trainee.id).check_password(PASSWORD)


def test_a_reset_link_refuses_a_weak_password(admin_client, client, trainee):
    url = reset_link(admin_client, trainee)
    response = english(client).post(url, data={"new_password": "qwerty123", "confirm": "qwerty123"})
    assert response.status_code == 422 and "too easy to guess" in response.text
    response = client.post(url, data={"new_password": "tulip meadow 83", "confirm": "tulip meadow 83"})
    assert response.status_code == 302


def test_users_create_refuses_a_weak_password(app):
    result = app.test_cli_runner().invoke(args=["users", "create", "--email", "coach@example.com",
                                                "--password", "password1", "--role", "mentor"])
    assert result.exit_code != 0 and "password:" in result.output
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def test_an_account_without_a_password_she_typed_is_not_judged(app, cohort):
    """A WeChat newcomer sets no password: a random one no one is told, never refused as "her name"."""
    her = service.register_trainee(db.session, cohort, name="Ann", mobile="13912345678", password=None)
    assert her.password_hash.startswith("scrypt:") and not her.check_password("")
