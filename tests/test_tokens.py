"""Personal access tokens on the Account page: created with the secret shown once, listed, revoked."""
import re
from datetime import timedelta

import sqlalchemy as sa

from app.api.models import ApiToken, create_token, hash_token
from app.api.tokens import list_tokens, revoke_token
from app.database import utcnow
from app.extensions import db
from tests.factories import bearer
from tests.conftest import make_user

SECRET = re.compile(r"xa_[A-Za-z0-9_-]{40,}")


def create_via_page(client, name: str = "WeChat mini-program") -> str:
    response = client.post("/account/tokens", data={"name": name})
    assert response.status_code == 201, response.text
    secrets = set(SECRET.findall(response.text))
    assert len(secrets) == 1, secrets
    return secrets.pop()


def test_the_page_needs_a_login(client):
    response = client.get("/account/tokens")
    assert response.status_code == 302 and "/login" in response.location
    assert client.post("/account/tokens", data={"name": "x"}).status_code == 302
    assert db.session.scalar(sa.select(sa.func.count(ApiToken.id))) == 0


def test_the_account_page_links_to_the_tokens(logged_in):
    assert 'href="/account/tokens"' in logged_in.get("/account/password").text


def test_creating_shows_the_secret_once_and_stores_only_its_hash(logged_in, trainee):
    response = logged_in.post("/account/tokens", data={"name": "  WeChat mini-program  "})
    assert response.status_code == 201
    assert "no-store" in response.headers["Cache-Control"]
    secret = SECRET.search(response.text).group(0)
    assert response.text.count(secret) == 1 and 'id="new-token-secret"' in response.text

    token = db.session.scalar(sa.select(ApiToken))
    assert token.user_id == trainee.id and token.name == "WeChat mini-program"
    assert token.token_hash == hash_token(secret) and secret.startswith(token.hint)
    rows = db.session.execute(sa.select(ApiToken.__table__)).all()
    assert len(rows) == 1
    assert not any(secret in str(value) for value in rows[0])

    # Not in the session, a flash or a URL: the next page knows nothing of it.
    again = logged_in.get("/account/tokens")
    assert secret not in again.text and 'id="new-token-secret"' not in again.text
    assert token.hint in again.text and "WeChat mini-program" in again.text


def test_a_created_token_works_on_the_api_and_records_its_use(logged_in):
    secret = create_via_page(logged_in)
    assert logged_in.get("/api/v1/courses", headers=bearer(secret)).status_code == 200
    assert db.session.scalar(sa.select(ApiToken.last_used_at)) is not None


def test_a_bad_form_keeps_what_she_typed_and_answers_422(logged_in):
    too_long = "手机小程序" * 17  # 85 characters
    response = logged_in.post("/account/tokens", data={"name": too_long})
    assert response.status_code == 422 and f'value="{too_long}"' in response.text
    assert "is-invalid" in response.text and not SECRET.search(response.text)
    assert logged_in.post("/account/tokens", data={"name": "   "}).status_code == 422
    assert db.session.scalar(sa.select(sa.func.count(ApiToken.id))) == 0
    assert logged_in.post("/account/tokens", data={"name": "x" * 80}).status_code == 201


def test_the_list_never_shows_full_secrets(logged_in, trainee):
    secrets = [create_token(db.session, trainee, f"token {n}", utcnow())[1] for n in range(3)]
    db.session.commit()
    page = logged_in.get("/account/tokens")
    assert page.status_code == 200
    for secret in secrets:
        assert secret not in page.text and secret[:8] in page.text
    assert not SECRET.search(page.text)


def test_revoking_stops_the_token_at_once(logged_in):
    secret = create_via_page(logged_in)
    headers = bearer(secret)
    assert logged_in.get("/api/v1/courses", headers=headers).status_code == 200
    token_id = db.session.scalar(sa.select(ApiToken.id))

    response = logged_in.post(f"/account/tokens/{token_id}/revoke")
    assert response.status_code == 302 and response.location.endswith("/account/tokens")
    assert logged_in.get("/api/v1/courses", headers=headers).status_code == 401
    assert db.session.get(ApiToken, token_id).revoked_at is not None

    page = logged_in.get("/account/tokens").text
    assert f'action="/account/tokens/{token_id}/revoke"' not in page
    # Revoking again is harmless and keeps the first time.
    first = db.session.get(ApiToken, token_id).revoked_at
    assert logged_in.post(f"/account/tokens/{token_id}/revoke").status_code == 302
    assert db.session.get(ApiToken, token_id).revoked_at == first


def test_someone_elses_token_is_404_and_keeps_working(logged_in, cohort):
    other = make_user("lan@example.com", cohort=cohort)
    token, secret = create_token(db.session, other, "hers", utcnow())
    db.session.commit()

    assert logged_in.post(f"/account/tokens/{token.id}/revoke").status_code == 404
    assert logged_in.post(f"/account/tokens/{token.id + 1000}/revoke").status_code == 404
    assert db.session.get(ApiToken, token.id).revoked_at is None
    assert logged_in.get("/api/v1/courses", headers=bearer(secret)).status_code == 200
    page = logged_in.get("/account/tokens").text
    assert "hers" not in page and token.hint not in page


def test_list_and_revoke_functions_only_touch_her_own_tokens(app, trainee, cohort):
    other = make_user("lan@example.com", cohort=cohort)
    now = utcnow()
    old, _ = create_token(db.session, trainee, "old", now - timedelta(days=2))
    new, _ = create_token(db.session, trainee, "new", now)
    hers, _ = create_token(db.session, other, "hers", now)
    db.session.commit()

    assert [t.name for t in list_tokens(db.session, trainee)] == ["new", "old"]
    assert revoke_token(db.session, trainee, hers.id, now) is None and hers.revoked_at is None
    assert revoke_token(db.session, trainee, old.id, now) is old and old.revoked_at == now
    later = now + timedelta(hours=1)
    assert revoke_token(db.session, trainee, old.id, later).revoked_at == now
