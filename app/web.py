"""The home page, error pages and the demo command."""
from flask import Blueprint, redirect, render_template, url_for
from markupsafe import Markup
from flask_login import current_user

from app.content.render import render_markdown
from app.database import utcnow
from app.extensions import db
from app.checkins import service as checkins
from app.checkins.views import lesson_titles
from app.learning import service as learning
from app.reminders import inbox

bp = Blueprint("web", __name__)

@bp.get("/")
def home():
    if not current_user.is_authenticated:
        return render_template("landing.html")
    if current_user.is_staff:
        return redirect(url_for("mentor.cohorts"))
    catalogue = learning.catalogue(db.session, current_user.id)
    progress = checkins.progress(db.session, current_user, utcnow())
    return render_template("home.html", catalogue=catalogue, progress=progress,
                           lesson_titles=lesson_titles(progress))


def _error(template: str, status: int):
    def handler(error):
        return render_template(template, status=status), status
    return handler


def init_app(app) -> None:
    from app.demo import demo_command
    app.register_blueprint(bp)
    app.register_error_handler(404, _error("error.html", 404))

    @app.context_processor
    def inbox_badge():
        """Unread messages for the header: one small query, for trainees only."""
        if current_user and current_user.is_authenticated and current_user.is_trainee:
            return {"unread_count": inbox.unread_count(db.session, current_user)}
        return {"unread_count": 0}
    app.register_error_handler(400, _error("error.html", 400))
    app.cli.add_command(demo_command)
    # For what users write (essays, comments): Markdown sanitised by nh3.
    app.jinja_env.filters["markdown"] = lambda text: Markup(render_markdown(text or ""))
