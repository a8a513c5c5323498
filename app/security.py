"""Security headers on every response, and the production cookie flags.

Every response gets them: pages, error pages, static files, API answers, redirects. A view that
sets one of these headers itself keeps its own (the password reset page sends a stricter
Referrer-Policy, as its token is in its address).

- Content-Security-Policy: scripts only from this site, never inline (no <script> without src, no
  on*= attributes in the templates: tests/test_security.py checks that); inline styles are allowed,
  as some templates use style attributes and the charts are inline SVG. Images from this site and
  data: URIs (Bootstrap's CSS draws its form icons with them). No plugins, no <base>, forms post
  here only, and no one may frame us.
- Strict-Transport-Security only on HTTPS requests (request.is_secure: right behind a proxy once
  PROXY_FIX is set, see app/ops), so `make run` over plain http is left alone.
- Permissions-Policy turns the camera, the microphone and geolocation off. The camp's photo
  upload is an <input type=file accept=image/*>: the phone's own camera app takes the photo, which
  needs no camera permission for the page.

- Cache-Control: no-store on every answer to someone logged in (a session, or an API token), unless
  the view chose its own caching (a photo she may see again, privately): her progress, inbox, a
  trainee's page, a CSV export must not stay in a shared computer's cache or a proxy. Static files
  are left to their own caching.

SECURE_COOKIES (env SECURE_COOKIES=1) marks the session and remember-me cookies Secure: on in
production behind HTTPS, off by default so the development server over http keeps working.

Templates' csrf_token() signs her session's token once per process, not on every page (see
remembered_csrf_token).
"""
from flask import abort, g, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import generate_csrf

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=()"
HSTS = "max-age=31536000; includeSubDomains"

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": PERMISSIONS_POLICY,
}


STATIC_ENDPOINTS = ("static", "bootstrap.static")
_LOWER = {name: name.lower() for name in HEADERS}


def add_headers(response):
    req, headers = request._get_current_object(), response.headers   # the proxy once
    # One pass over the response's headers, then one extend: werkzeug's setdefault searches and
    # validates them once for each of ours.
    present = {name.lower() for name, _ in headers.items()}
    headers.extend([(name, value) for name, value in HEADERS.items() if _LOWER[name] not in present])
    # The user this request already loaded (none loaded: no database query here, even after an error).
    personal = "Authorization" in req.headers or getattr(g.get("_login_user"), "is_authenticated", False)
    if personal and req.endpoint not in STATIC_ENDPOINTS and "private" not in response.cache_control:
        headers["Cache-Control"] = "no-store"   # (send_file's "no-cache" still lets a cache keep it)
    if req.is_secure and "strict-transport-security" not in present:
        headers["Strict-Transport-Security"] = HSTS
    return response


def refuse_nul_characters():
    """A NUL character in a URL or a form is never something a person typed, and PostgreSQL cannot
    store it in text: refuse the request (400) before any view sees it, whatever the field."""
    req = request._get_current_object()   # the proxy once
    values = [req.path, *(v for vs in req.args.listvalues() for v in vs)]
    if req.method == "POST" and req.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        values += [v for vs in req.form.listvalues() for v in vs]   # every value of a repeated field
    if any("\x00" in value for value in values):
        abort(400)


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, unchanged, with the signing serializer made once per secret key
    (and fallbacks) instead of twice a request (opening the session, saving it)."""

    def __init__(self):
        self._serializers: dict = {}

    def get_signing_serializer(self, app):
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        serializer = self._serializers.get(keys)
        if serializer is None:
            serializer = self._serializers[keys] = super().get_signing_serializer(app)
        return serializer


TOKENS_REMEMBERED = 10_000


def remembered_csrf_token(app):
    """csrf_token() for templates: Flask-WTF's token, signed once per session's token and process.

    Every page has a form (the footer's language switch), and Flask-WTF signs the session's token
    anew for each request (an itsdangerous serializer, two HMACs, JSON, base64: a twentieth of a
    page's time). The signature only carries a timestamp, which is not checked when
    WTF_CSRF_TIME_LIMIT is None (ours: a phone form left open overnight must still submit), so a
    token signed earlier for the same session token is exactly as valid: it is reused. With a time
    limit set, every request signs again as before."""
    signed: dict[str, str] = {}

    def csrf_token() -> str:
        field = app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
        token = g.get(field)
        if token is not None:   # this request's, as generate_csrf would return it
            return token
        if app.config.get("WTF_CSRF_TIME_LIMIT", 3600) is not None:
            return generate_csrf()
        raw = session.get(field)
        if isinstance(raw, str) and field not in g and raw in signed:
            setattr(g, field, signed[raw])   # where generate_csrf keeps the request's token
        token = generate_csrf()
        raw = session.get(field)
        if isinstance(raw, str) and raw not in signed:
            if len(signed) >= TOKENS_REMEMBERED:
                signed.clear()
            signed[raw] = token
        return token

    return csrf_token


def init_app(app) -> None:
    app.session_interface = SessionCookies()
    # In place of Flask-WTF's, both where it puts it: the globals (macros) and a context processor (pages).
    csrf_token = app.jinja_env.globals["csrf_token"] = remembered_csrf_token(app)
    app.context_processor(lambda: {"csrf_token": csrf_token})
    app.before_request(refuse_nul_characters)
    if app.config.get("SECURE_COOKIES"):
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
    app.after_request(add_headers)
