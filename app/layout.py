"""What every page shares: the error pages, the header's inbox badge, the Markdown filter."""
from flask import render_template, request
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
    if current_user and current_user.is_authenticated and current_user.is_trainee:
        return {"unread_count": inbox.unread_count(db.session, current_user)}
    return {"unread_count": 0}


def init_app(app) -> None:
    app.register_error_handler(400, _error("error.html", 400))
    app.register_error_handler(404, _error("error.html", 404))
    app.context_processor(inbox_badge)
    app.context_processor(dead_letter_alert)
    # Every other HTTP error (405, 413, a crash's 500): JSON under /api/, Flask's own page elsewhere.
    app.register_error_handler(HTTPException, http_error)
    # For what users write (essays, comments): Markdown sanitised by nh3.
    app.jinja_env.filters["markdown"] = lambda text: Markup(render_markdown(text or ""))
