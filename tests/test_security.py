"""Security headers on every response, secure cookies, and sessions: renewed at login, cleared at logout,
ended (with the API tokens) by a new password, which she is told about."""
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from app.core.access import Role
from app.api.models import ApiToken, create_token
from app.cohorts import admin
from app.reminders.models import InboxMessage
from app.database import utcnow
from app.extensions import db
from app.reminders import outbox
from app.reminders.models import CATEGORIES, OutboxMessage, ReminderPreference
from app.security import CONTENT_SECURITY_POLICY, HSTS
from tests.factories import bearer
from tests.conftest import PASSWORD, login, make_user
from tests.servers import smtp_sink  # noqa: F401

TEMPLATES = Path(__file__).resolve().parent.parent / "app" / "templates"
NEW_PASSWORD = "new password 9"


def directives(csp: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in csp.split(";") if part.strip())}


def assert_security_headers(response, https: bool = False):
    headers = response.headers
    csp = directives(headers["Content-Security-Policy"])
    assert csp["default-src"] == ["'self'"] and csp["script-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"] and csp["form-action"] == ["'self'"]
    assert csp["img-src"] == ["'self'", "data:"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] in ("strict-origin-when-cross-origin", "same-origin", "no-referrer")
    policy = headers["Permissions-Policy"]
    for feature in ("camera", "microphone", "geolocation"):
        assert f"{feature}=()" in policy
    if https:
        assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    else:
        assert "Strict-Transport-Security" not in headers


# --- headers -----------------------------------------------------------------------------------

def test_every_kind_of_response_has_the_headers(client, trainee):
    page = client.get("/login")
    assert page.status_code == 200
    missing = client.get("/no/such/page")
    assert missing.status_code == 404
    static = client.get("/static/app.css")
    assert static.status_code == 200
    bootstrap_css = client.get("/bootstrap/static/css/bootstrap.min.css")
    assert bootstrap_css.status_code == 200
    refused_api = client.get("/api/v1/courses")
    assert refused_api.status_code == 401 and refused_api.is_json
    public_api = client.get("/api/v1/openapi.json")
    assert public_api.status_code == 200
    redirect = client.get("/courses")
    assert redirect.status_code == 302 and "/login" in redirect.location
    health = client.get("/healthz")
    assert health.status_code == 200
    for response in (page, missing, static, bootstrap_css, refused_api, public_api, redirect, health):
        assert_security_headers(response)
    static.close()
    bootstrap_css.close()


def test_an_api_answer_to_a_token_has_them_too(client, trainee):
    _, secret = create_token(db.session, trainee, "phone", utcnow())
    db.session.commit()
    response = client.get("/api/v1/courses", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    assert_security_headers(response)


def test_a_server_error_has_them_too(make_app):
    app = make_app(PROPAGATE_EXCEPTIONS=False)

    @app.get("/boom")
    def boom():
        raise RuntimeError("boom")

    with app.app_context():
        response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert_security_headers(response)


def test_a_view_may_keep_its_stricter_referrer_policy(client):
    # The reset page's address holds a token: it sends no referrer at all.
    response = client.get("/reset/not-a-token")
    assert response.status_code == 404
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "Content-Security-Policy" in response.headers


def test_hsts_only_over_https(make_app, trainee):
    app = make_app()
    secure = app.test_client()
    for url in ("/login", "/static/app.css", "/api/v1/openapi.json", "/no/such/page"):
        response = secure.get(url, base_url="https://localhost")
        assert_security_headers(response, https=True)
        response.close()
    assert "Strict-Transport-Security" not in app.test_client().get("/login").headers


def test_hsts_behind_a_proxy_that_says_https(app, make_app):
    proxied = make_app(PROXY_FIX=1).test_client()
    response = proxied.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert response.headers["Strict-Transport-Security"] == HSTS
    assert "Strict-Transport-Security" not in proxied.get("/login").headers
    # Without PROXY_FIX, a client's own X-Forwarded-Proto is not believed.
    direct = make_app().test_client()
    assert "Strict-Transport-Security" not in direct.get("/login", headers={"X-Forwarded-Proto": "https"}).headers


def test_scripts_are_never_inline():
    csp = directives(CONTENT_SECURITY_POLICY)
    for name in ("script-src", "default-src"):
        assert "'unsafe-inline'" not in csp[name] and "'unsafe-eval'" not in csp[name]
        assert not any(value.startswith(("'nonce-", "'sha", "data:", "http", "*")) for value in csp[name])
    # ...which the templates can live with: no inline <script>, no on*= handler, no javascript: link.
    problems = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", text, re.IGNORECASE):
            if not re.search(r"\bsrc\s*=", tag):
                problems.append(f"{path.name}: inline {tag}")
        for tag in re.findall(r"<[a-zA-Z][^>]*>", text):
            if re.search(r"\son[a-z]+\s*=", tag, re.IGNORECASE):
                problems.append(f"{path.name}: handler in {tag}")
        if "javascript:" in text.lower():
            problems.append(f"{path.name}: javascript: URL")
    assert not problems, problems


# --- cookies -----------------------------------------------------------------------------------

def cookies_set(response) -> dict[str, str]:
    return {c.split("=")[0]: c for c in response.headers.getlist("Set-Cookie")}


def test_cookies_are_secure_with_secure_cookies(make_app, trainee):
    app = make_app(SECURE_COOKIES=True)
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    response = app.test_client().post("/login", base_url="https://localhost", data={
        "identifier": trainee.email, "password": PASSWORD, "remember": "y"})
    assert response.status_code == 302
    cookies = cookies_set(response)
    for name in ("session", "remember_token"):
        assert "; Secure" in cookies[name] and "HttpOnly" in cookies[name] and "SameSite=Lax" in cookies[name]


def test_cookies_are_not_secure_by_default_so_http_works(make_app, trainee):
    app = make_app()
    assert app.config["SECURE_COOKIES"] is False
    cookies = cookies_set(login(app.test_client(), trainee.email, remember="y"))
    assert "Secure" not in cookies["session"] and "Secure" not in cookies["remember_token"]


@pytest.mark.parametrize("value, secure", [("1", True), ("true", True), ("0", False), ("no", False)])
def test_secure_cookies_from_the_environment(app, make_app, monkeypatch, value, secure):
    monkeypatch.setenv("SECURE_COOKIES", value)
    app = make_app()
    assert app.config["SECURE_COOKIES"] is secure
    assert bool(app.config.get("SESSION_COOKIE_SECURE")) is secure
    assert bool(app.config.get("REMEMBER_COOKIE_SECURE")) is secure


# --- sessions ----------------------------------------------------------------------------------

def test_login_starts_a_new_session(client, trainee):
    client.get("/login")
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
        session["_user_id"] = "not a real token"
    response = login(client, trainee.email)
    assert response.status_code == 302
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"] == trainee.session_token


def test_registering_starts_a_new_session(client, cohort):
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
    response = client.post(f"/invite/{cohort.invite_code}", data={
        "name": "王芳", "mobile": "138 0013 8000", "email": "", "password": "paper lantern 47", "confirm": "paper lantern 47",
        "timezone": "Asia/Shanghai"})
    assert response.status_code == 302, response.text
    with client.session_transaction() as session:
        assert "planted" not in session and session.get("_user_id")


def test_logout_clears_the_session(client, trainee):
    login(client, trainee.email, remember="y")
    with client.session_transaction() as session:
        session["left over"] = "something"
    response = client.post("/logout")
    assert response.status_code == 302
    with client.session_transaction() as session:
        assert "left over" not in session and "_user_id" not in session
    # The remember-me cookie is deleted too: she is really out.
    assert any(c.startswith("remember_token=;") for c in response.headers.getlist("Set-Cookie"))
    assert client.get("/courses").status_code == 302


def change_password(client, current: str = PASSWORD, new: str = NEW_PASSWORD):
    return client.post("/account/password", data={"current_password": current, "new_password": new,
                                                  "confirm": new})


@pytest.fixture
def mei(cohort):
    return make_user("mei@example.com", cohort=cohort, name="Mei", locale="en")


def noon_tomorrow() -> datetime:
    """A time outside anyone's quiet hours (Shanghai noon), after the notice was written."""
    tomorrow = datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, 12, tzinfo=ZoneInfo("Asia/Shanghai")) \
        .astimezone(timezone.utc)


def test_a_new_password_ends_other_sessions_and_api_tokens_and_she_is_told(make_app, mei, smtp_sink):
    app = make_app(**smtp_sink.config)
    other = make_user("lan@example.com", cohort=mei.cohort, name="Lan")
    _, her_secret = create_token(db.session, mei, "phone app", utcnow())
    _, other_secret = create_token(db.session, other, "her app", utcnow())
    # She muted every category and turned email off: a security notice comes all the same.
    db.session.add(ReminderPreference(user_id=mei.id, email_enabled=False, email_muted=list(CATEGORIES)))
    db.session.commit()
    phone, laptop = app.test_client(), app.test_client()
    assert login(phone, mei.email, remember="y").status_code == 302
    assert login(laptop, mei.email, remember="y").status_code == 302
    assert phone.get("/api/v1/courses", headers=bearer(her_secret)).status_code == 200

    response = change_password(phone)
    assert response.status_code == 302

    assert phone.get("/courses").status_code == 200                 # this device stays in
    assert laptop.get("/courses").status_code == 302                # the other is out (remember-me too)
    assert app.test_client().get("/api/v1/courses", headers=bearer(her_secret)).status_code == 401
    assert app.test_client().get("/api/v1/courses", headers=bearer(other_secret)).status_code == 200
    assert db.session.scalar(sa.select(ApiToken.revoked_at).where(ApiToken.user_id == mei.id)) is not None

    # In her inbox at once.
    inbox = phone.get("/inbox").text
    assert "Your password was changed" in inbox and "contact your mentor or an admin at once" in inbox
    message = db.session.scalar(sa.select(InboxMessage).where(InboxMessage.recipient_id == mei.id))
    assert message.category == "security" and message.sender_id is None
    # By email at the next dispatch, without an unsubscribe link.
    email = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.user_id == mei.id,
                                                             OutboxMessage.channel == "email"))
    assert email.rule == "password_changed" and email.state == OutboxMessage.PENDING
    with app.app_context():   # the app that sends to the sink
        assert outbox.dispatch(db.session, now=noon_tomorrow())["sent"] == 1
    assert len(smtp_sink.messages) == 1
    sent = smtp_sink.messages[0]
    assert sent["To"].addresses[0].addr_spec == "mei@example.com"
    assert sent["Subject"] == "Your password was changed"
    assert "contact your mentor or an admin at once" in sent.get_body(("plain",)).get_content()
    assert "List-Unsubscribe" not in sent and "unsubscribe" not in sent.as_string().lower()


def test_without_email_the_notice_is_in_her_inbox_only(client, mei):
    login(client, mei.email)
    assert change_password(client).status_code == 302   # SMTP is not configured in tests
    assert db.session.scalars(sa.select(OutboxMessage.channel).where(OutboxMessage.user_id == mei.id)).all() \
        == ["inapp"]
    assert "Your password was changed" in client.get("/inbox").text


def test_a_refused_change_changes_nothing(client, mei):
    login(client, mei.email)
    _, secret = create_token(db.session, mei, "phone app", utcnow())
    db.session.commit()
    assert change_password(client, current="wrong one").status_code == 422
    assert client.get("/api/v1/courses", headers=bearer(secret)).status_code == 200
    assert db.session.scalar(sa.select(sa.func.count(OutboxMessage.id))) == 0


def test_a_reset_link_ends_her_sessions_and_tokens_too(make_app, mei):
    app = make_app()
    boss = make_user("boss@example.com", role=Role.ADMIN)
    _, secret = create_token(db.session, mei, "phone app", utcnow())
    token = admin.create_reset_link(db.session, boss, mei, utcnow())
    db.session.commit()
    laptop = app.test_client()
    assert login(laptop, mei.email, remember="y").status_code == 302

    stranger = app.test_client()
    response = stranger.post(f"/reset/{token}", data={"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302 and "/login" in response.location

    assert laptop.get("/courses").status_code == 302
    assert stranger.get("/api/v1/courses", headers=bearer(secret)).status_code == 401
    assert login(stranger, mei.email, NEW_PASSWORD).status_code == 302
    assert "Your password was changed" in stranger.get("/inbox").text


def test_resetting_her_own_password_while_logged_in_logs_her_out(make_app, mei):
    app = make_app()
    boss = make_user("boss@example.com", role=Role.ADMIN)
    token = admin.create_reset_link(db.session, boss, mei, utcnow())
    db.session.commit()
    client = app.test_client()
    login(client, mei.email)
    with client.session_transaction() as session:
        session["left over"] = "something"
    response = client.post(f"/reset/{token}", data={"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    with client.session_transaction() as session:
        assert "left over" not in session and "_user_id" not in session


def test_her_own_remember_me_survives_her_password_change(make_app, mei):
    app = make_app()
    phone = app.test_client()
    login(phone, mei.email, remember="y")
    response = change_password(phone)
    assert response.status_code == 302
    remember = cookies_set(response).get("remember_token", "")
    assert remember and not remember.startswith("remember_token=;")
    # A new browser session on this phone (the session cookie gone) is still hers, by the new cookie.
    phone.delete_cookie("session")
    assert phone.get("/courses").status_code == 200


def test_a_nul_character_anywhere_is_refused_before_any_view(app, client):
    assert client.post("/login", data={"identifier": "a\x00b", "password": "x"}).status_code == 400
    assert client.get("/join?code=\x00").status_code == 400
    assert client.post("/preferences", data={"email_categories": ["checkin", "a\x00"]}).status_code == 400
    assert client.get("/healthz").status_code == 200
