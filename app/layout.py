"""What every page shares: the error pages, the header's inbox badge, the Markdown filter, and the
templates' url_for (remembered)."""
from flask import has_request_context, render_template, request
from flask_login import current_user
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from app.api.views import http_error
from app.content.render import render_markdown
from app.extensions import db
from app.reminders import inbox
from app.reminders.views import dead_letter_alert


def _error(template: str, status: int):
    def handler(error):
        if request.path.startswith("/api/"):   # the API answers in JSON, whatever the error
            return http_error(error)
        return render_template(template, status=status), status
    return handler


def inbox_badge() -> dict:
    """Unread messages for the header: one small query, for trainees only."""
    user = current_user._get_current_object()   # once: each use of the proxy finds her again
    if user is not None and user.is_authenticated and user.is_trainee:
        return {"unread_count": inbox.unread_count(db.session, user)}
    return {"unread_count": 0}


URLS_REMEMBERED = 20_000   # a few MB at most: lessons, quizzes, cohorts, trainees' pages...


def remembered_url_for(app):
    """url_for for templates: each internal URL built once per process, then looked up.

    A page's links (the header's navigation, the footer, lesson and course links) are the same on
    every request; werkzeug builds each in about 7 µs (found here: 2 to 3 µs), and a page has a dozen
    or more. Only what cannot differ between requests is remembered: a link in a request (not
    an email's absolute one), by endpoint name and arguments, under the request's script root;
    anything else (relative endpoints, `_external` and the other options, unhashable arguments,
    an app with url_defaults functions) is built every time by Flask's own url_for."""
    build = app.url_for
    remembered: dict = {}

    def url_for(endpoint: str, **values):
        if endpoint[:1] == "." or not has_request_context() or any(app.url_default_functions.values()):
            return build(endpoint, **values)
        try:
            key = (request.script_root, endpoint, *sorted(values.items()))
            url = remembered.get(key)
        except TypeError:  # an unhashable argument
            return build(endpoint, **values)
        if url is None:
            url = build(endpoint, **values)
            if not any(name[:1] == "_" for name in values) and len(remembered) < URLS_REMEMBERED:
                remembered[key] = url
        return url

    return url_for


def init_app(app) -> None:
    app.jinja_env.globals["url_for"] = remembered_url_for(app)
    app.register_error_handler(400, _error("error.html", 400))
    app.register_error_handler(404, _error("error.html", 404))
    app.context_processor(inbox_badge)
    app.context_processor(dead_letter_alert)
    # Every other HTTP error (405, 413, a crash's 500): JSON under /api/, Flask's own page elsewhere.
    app.register_error_handler(HTTPException, http_error)
    # For what users write (essays, comments): Markdown sanitised by nh3.
    app.jinja_env.filters["markdown"] = lambda text: Markup(render_markdown(text or ""))
