"""The admins' page of which reminders work (app/reminders/effect.py)."""
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, render_template, request

from app.core.access import require_admin
from app.database import utcnow
from app.extensions import db
from app.reminders import effect

bp = Blueprint("effect_views", __name__, url_prefix="/admin")
bp.before_request(require_admin)


def _day(text: str | None, fallback: date) -> tuple[date, bool]:
    """The date typed, or the fallback; False when what was typed is not a date."""
    if not text:
        return fallback, True
    try:
        return date.fromisoformat(text), True
    except ValueError:
        return fallback, False


@bp.get("/reminders/effect")
def reminder_effect():
    zone = ZoneInfo(current_app.config["ACADEMY_TIMEZONE"])
    today = utcnow().astimezone(zone).date()
    first, first_ok = _day(request.args.get("from"), today - timedelta(days=29))
    last, last_ok = _day(request.args.get("to"), today)
    problem = not (first_ok and last_ok) or first > last
    if problem:
        first, last = today - timedelta(days=29), today
    start = datetime.combine(first, time(0), zone)
    end = datetime.combine(last + timedelta(days=1), time(0), zone)
    lines = effect.report(db.session, start, end)
    return render_template("reminders/effect.html", lines=lines, first=first, last=last, problem=problem), \
        422 if problem else 200
