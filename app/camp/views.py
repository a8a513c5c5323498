"""Camp pages: today's task and its 打卡 (补卡 included), the calendar with streaks, the cohort's rankings."""
from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from babel.dates import format_skeleton
from flask_babel import get_locale, gettext as _
from flask_login import current_user, login_required

from app.camp import service
from app.cohorts.models import Cohort
from app.database import utcnow
from app.extensions import db
from app.i18n import content_lang
from app.learning import service as learning
from app.core import calendar
from app.core import access
from app.core.errors import DomainError
from app.cohorts import mentoring

bp = Blueprint("camp", __name__)


def _trainees_only():
    """The camp is the trainee's: mentors and admins go to their own home page."""
    return None if current_user.is_trainee else redirect(url_for("home.home"))


@bp.get("/today")
@login_required
def today_page():
    return _trainees_only() or render_today()


def render_today(typed: dict | None = None, errors: dict | None = None, message: str | None = None):
    """The page; after a refused 打卡, with what she typed (`typed`) and why (`message`, `errors` per field)."""
    now = utcnow()
    state = service.today(db.session, current_user, now)
    shown = [t for t in [state.task, *(m.task for m in state.makeups)] if t is not None]
    return render_template(
        "camp/today.html", state=state, typed=typed or {}, errors=errors or {}, message=message,
        checked_in=service.has_earnings_checkin(db.session, current_user, now),
        comments=mentoring.comments_on(db.session, [state.checkin.id]).get(state.checkin.id, [])
        if state.checkin else [],
        local_today=calendar.local_today(current_user, now),
        lesson_titles=learning.lesson_titles(db.session, [t.lesson_key for t in shown if t.lesson_key],
                                             content_lang()),
        max_photos=service.MAX_PHOTOS)


@bp.post("/today/<task_key>")
@login_required
def checkin_task(task_key: str):
    """The 打卡 (multipart form): today's task, or a missed day's as a make-up (补卡)."""
    if redirect_ := _trainees_only():
        return redirect_
    task = service.find_task(db.session, task_key)
    if task is None:
        abort(404)
    now = utcnow()
    typed = {"task_key": task.key, "text": request.form.get("text", ""), "number": request.form.get("number", ""),
             "share": bool(request.form.get("share"))}
    try:
        _checkin, is_makeup = service.submit_task_checkin(
            db.session, current_user, task, text=typed["text"], number=typed["number"], share=typed["share"],
            files=request.files.getlist("photos"), now=now)
    except DomainError as e:
        db.session.rollback()
        return render_today(typed, e.fields, str(e.message)), 422
    db.session.commit()
    flash(_("Day %(day)d made up. Your streak counts it.", day=task.day) if is_makeup
          else _("Day %(day)d done. Well done!", day=task.day), "success")
    return redirect(url_for("camp.today_page"))


@bp.get("/calendar")
@login_required
def calendar_page():
    if redirect_ := _trainees_only():
        return redirect_
    month = _month(request.args.get("month", ""))
    grid = service.calendar(db.session, current_user, utcnow(), month)
    return render_template("camp/calendar.html", grid=grid,
                           month_title=format_skeleton("yMMMM", grid.month, locale=get_locale()),
                           comments=mentoring.her_comments(db.session, current_user, grid.month, grid.following))


def _month(raw: str) -> date | None:
    """"2026-05" -> 1 May 2026; anything else: her current month."""
    try:
        return date.fromisoformat(f"{raw}-01") if len(raw) == 7 else None
    except ValueError:
        return None


@bp.get("/rankings")
@login_required
def rankings_page():
    period = request.args.get("period", "week")
    if period not in service.PERIODS:
        period = "week"
    cohort = _ranked_cohort()
    rows = service.rankings(db.session, cohort, utcnow(), period) if cohort else []
    return render_template("camp/rankings.html", cohort=cohort, rows=rows, period=period,
                           week=service.cohort_week(cohort, utcnow()) if cohort else None)


def _ranked_cohort() -> Cohort | None:
    """Her own cohort; for a mentor, the cohort asked for (?cohort=<id>) if she coaches it, else her first."""
    if current_user.is_trainee:
        return current_user.cohort
    coached = access.coached_cohorts(db.session, current_user)
    wanted = request.args.get("cohort", type=int)
    chosen = next((c for c in coached if c.id == wanted), None) if wanted else (coached[0] if coached else None)
    if wanted and chosen is None:
        abort(404)
    return chosen
