from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.checkins import service
from app.checkins.chart import earnings_chart
from app.checkins.forms import CheckinForm
from app.cohorts.mentoring import comments_on_checkins
from app.database import utcnow
from app.extensions import db
from app.i18n import safe_next
from app.i18n import content_lang
from app.learning import service as learning
from app.core import calendar
from app.core.money import format_yuan
from app.core.errors import DomainError, put_on_form
from app.shops.earnings import earnings_of

bp = Blueprint("checkins", __name__)


def chart_for(progress) -> str:
    """The chart as inline SVG with no script and no link anywhere (it is marked safe in the page)."""
    return earnings_chart(progress, content_lang(), {
        "day": _("Programme day"), "target": _("Target:"), "you": _("Your earnings so far"),
        "aria": _("Chart of your cumulative earnings against the target line; the table below has the numbers.")})


@bp.route("/checkin", methods=["GET", "POST"])
@login_required
def checkin():
    now = utcnow()
    today = calendar.local_today(current_user, now)
    form = CheckinForm()
    if request.method == "GET":
        day = request.args.get("date", "")
        try:
            day = service.parse_date(day)
        except ValueError:
            day = today
        existing = next((c for c in service.checkins_of(db.session, current_user.id) if c.day == day), None)
        form.date.data = day
        if existing and existing.reported_earnings_fen is not None:
            form.earnings.data = format_yuan(existing.reported_earnings_fen)
        if existing:
            for name in service.COUNTERS:
                value = getattr(existing, name)
                getattr(form, name).data = "" if value is None else str(value)
            form.note.data = existing.note
        return render_template("checkins/checkin.html", form=form, existing=existing, today=today)
    if form.validate_on_submit():
        try:
            checkin, created = service.record_checkin(db.session, current_user, form.raw(), now)
        except DomainError as e:
            put_on_form(form, e, {"day": "date"})
        else:
            db.session.commit()
            flash(_("Check-in saved for %(day)s.", day=checkin.day.isoformat()) if created
                  else _("Check-in for %(day)s updated; the earlier numbers are kept in its history.",
                         day=checkin.day.isoformat()), "success")
            # The Today page's short form comes back to Today; the full form goes on to her progress.
            return redirect(safe_next(request.form.get("next"),
                                      url_for("checkins.progress_page", saved=checkin.day.isoformat())))
    return render_template("checkins/checkin.html", form=form, existing=None, today=today), 422


@bp.get("/progress")
@login_required
def progress_page():
    now = utcnow()
    progress = service.progress(db.session, current_user, now)
    return render_template("checkins/progress.html", progress=progress, chart=chart_for(progress),
                           earnings=earnings_of(db.session, current_user, now),
                           saved=request.args.get("saved"), lesson_titles=lesson_titles(progress),
                           comments=comments_on_checkins(db.session, current_user))


def lesson_titles(progress) -> dict:
    """Titles of the lessons the diagnosis may recommend, in her language: one query."""
    return learning.lesson_titles(db.session, [f.lesson for f in progress.diagnosis.factors], content_lang())
