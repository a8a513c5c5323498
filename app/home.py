"""The home page: the landing page for visitors, her programme for a trainee, the cohorts for staff."""
from functools import cache
from pathlib import Path

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from flask_login import current_user

from app.camp import service as camp
from app.checkins import service as checkins
from app.checkins.views import lesson_titles
from app.database import utcnow
from app.extensions import db
from app.learning import service as learning

bp = Blueprint("home", __name__)


@bp.get("/")
def home():
    user = current_user._get_current_object()   # the proxy once: each use of it finds her again
    if not user.is_authenticated:
        return render_template("landing.html")
    if user.is_staff:
        return redirect(url_for("mentor.cohorts"))
    now = utcnow()
    catalogue = learning.catalogue(db.session, user.id)
    progress = checkins.progress(db.session, user, now)
    camp_today = camp.glance(db.session, user, now)
    return render_template("home.html", catalogue=catalogue, progress=progress, camp=camp_today,
                           primary=primary_action(camp_today, progress.checked_in_today, catalogue.next_step),
                           lesson_titles=lesson_titles(progress))


def primary_action(today: camp.Glance, checked_in: bool, next_step) -> str:
    """The one thing home leads with, by her state: today's task (打卡), then today's earnings
    (记收入, after the 打卡), then the next lesson or quiz; "done" when nothing is left."""
    if today.task is not None and today.is_unlocked and not today.is_done:
        return "task"
    if today.programme_day >= 1 and not checked_in and (today.task is None or today.is_done):
        return "earnings"
    if next_step is not None:
        return "quiz" if hasattr(next_step, "quiz") else "lesson"
    return "done"


@bp.get("/favicon.ico")
def favicon():
    """Browsers (and WeChat's) ask for it on their own: without it, every first page logs a 404. Served
    from memory: browsers often drop this request halfway, and an open file would be left behind."""
    response = Response(_favicon(current_app.static_folder), mimetype="image/x-icon",
                        headers={"Cache-Control": "public, max-age=86400"})
    response.add_etag()
    return response.make_conditional(request)


@cache
def _favicon(static_folder: str) -> bytes:
    return (Path(static_folder) / "favicon.ico").read_bytes()
