"""CSRF is enforced on every state-changing route: this walks the URL map, so a new route is covered."""
import re

from app.core.access import Role
from tests.conftest import PASSWORD, make_user

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# Routes that take no CSRF token on purpose, and what they answer to this test's request instead.
CSRF_EXEMPT = {
    # RFC 8058 one-click unsubscribe: mail clients POST "List-Unsubscribe=One-Click" without our
    # token. The signed token in the URL is the authentication, so a made-up one is refused.
    "POST /unsubscribe/<token>": 404,
}
SAMPLE_VALUES = {"code": "SPRING1", "slug": "group-building", "lesson_slug": "warm-contacts", "cohort_id": "1",
                 "attempt_id": "1"}


def sample_url(rule) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: SAMPLE_VALUES.get(m.group(1), "1"), rule.rule)


def test_every_state_changing_route_refuses_a_request_without_a_csrf_token(make_app, cohort, synced):
    make_user("admin@example.com", role=Role.ADMIN)
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"identifier": "admin@example.com", "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302

    checked = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) & STATE_CHANGING):
            url = sample_url(rule)
            response = client.open(url, method=method, data={"lang": "en", "code": "SPRING1"})
            if f"{method} {rule.rule}" in CSRF_EXEMPT:
                expected = CSRF_EXEMPT[f"{method} {rule.rule}"]
                assert response.status_code == expected, f"{method} {url} answered {response.status_code}"
            elif rule.rule.startswith("/api/"):
                # The API takes bearer tokens only: the logged-in session cookie opens nothing there.
                assert response.status_code == 401, f"{method} {url} answered {response.status_code} to a cookie"
            else:
                assert response.status_code == 400, f"{method} {url} answered {response.status_code} without a token"
                assert "CSRF" in response.text or "请求" in response.text
            checked.append(f"{method} {rule.rule}")
    assert {"POST /login", "POST /logout", "POST /language", "POST /invite/<code>",
            "POST /courses/<slug>/<lesson_slug>/done",
            "POST /attempts/<int:attempt_id>", "POST /review/<int:attempt_id>", "POST /api/v1/quizzes/<slug>/attempts"} <= set(checked)


def test_forms_carry_the_token(make_app, cohort):
    client = make_app(WTF_CSRF_ENABLED=True).test_client()
    for url in ("/login", "/join", "/invite/SPRING1"):
        assert 'name="csrf_token"' in client.get(url).text, url
