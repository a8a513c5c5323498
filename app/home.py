"""The home page: the landing page for visitors, her programme for a trainee, the cohorts for staff."""
from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from app.checkins import service as checkins
from app.checkins.views import lesson_titles
from app.database import utcnow
from app.extensions import db
from app.learning import service as learning

bp = Blueprint("home", __name__)


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
