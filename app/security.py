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
"""
from flask import abort, g, request

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


def add_headers(response):
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    # The user this request already loaded (none loaded: no database query here, even after an error).
    personal = "Authorization" in request.headers or getattr(g.get("_login_user"), "is_authenticated", False)
    if personal and request.endpoint not in STATIC_ENDPOINTS and "private" not in response.cache_control:
        response.headers["Cache-Control"] = "no-store"   # (send_file's "no-cache" still lets a cache keep it)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def refuse_nul_characters():
    """A NUL character in a URL or a form is never something a person typed, and PostgreSQL cannot
    store it in text: refuse the request (400) before any view sees it, whatever the field."""
    values = [request.path, *(v for vs in request.args.listvalues() for v in vs)]
    if request.method == "POST" and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        values += [v for vs in request.form.listvalues() for v in vs]   # every value of a repeated field
    if any("\x00" in value for value in values):
        abort(400)


def init_app(app) -> None:
    app.before_request(refuse_nul_characters)
    if app.config.get("SECURE_COOKIES"):
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
    app.after_request(add_headers)
