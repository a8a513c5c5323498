"""Share posters: a cohort's invite, a trainee's milestone.

The images are PNGs drawn by app/camp/posters.py; the QR codes hold absolute URLs built from
BASE_URL, so they are right behind a proxy (unset, from the address the request came to). The trainee's page /share shows hers.
"""
import hashlib
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup

from app.accounts import service as accounts
from app.camp import photos, posters
from app.checkins import service as checkins
from app.config import base_url
from app.cohorts.models import Cohort, cohort_mentors
from app.database import utcnow
from app.extensions import db
from app.i18n import content_lang
from app.core.money import display_yuan

bp = Blueprint("poster", __name__)

YES = ("1", "true", "yes", "on")


def absolute(endpoint: str, **values) -> str:
    """This site's URL as users reach it (BASE_URL; unset, the address this request came to)."""
    return base_url() + url_for(endpoint, **values)


def invite_url(cohort: Cohort) -> str:
    return absolute("accounts.invite", code=cohort.invite_code)


def invite_is_open(cohort: Cohort | None) -> bool:
    """Whether a newcomer could register through this cohort's invite now."""
    return (cohort is not None and not cohort.is_archived
            and accounts.invite_problem(db.session, cohort, utcnow()) is None)


def first_mentor(cohort: Cohort):
    mentors = sorted((m for m in cohort.mentors if m.is_active), key=lambda m: m.id)
    return mentors[0] if mentors else None


def _png(data: bytes, cache_control: str, filename: str) -> Response:
    response = Response(data, mimetype="image/png")
    response.headers["Cache-Control"] = cache_control
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.vary.update(("Accept-Language", "Cookie"))  # the poster's language
    response.add_etag()
    return response.make_conditional(request)


# The drawing code's digest: when posters are drawn differently, they get new keys, never a stale one.
DRAWING = hashlib.sha256(Path(posters.__file__).read_bytes()).hexdigest()


def stored_invite_poster(cohort_name: str, mentor_name: str | None, url: str, lang: str) -> bytes:
    """The invite poster, drawn once and kept in the photo storage (in the bucket with
    UPLOAD_STORAGE=s3: shared by every web machine). A whole WeChat group scans one at once, and each
    drawing costs a fraction of a second of CPU. The key is a digest of every word on it, the URL and
    the drawing code: a renamed cohort, another mentor or a new translation is a new poster. A storage
    that is down only costs the drawing. (A milestone poster is hers alone and seldom fetched: drawn
    each time, never stored.)"""
    lines = posters.invite_lines(cohort_name, mentor_name, lang)
    key = hashlib.sha256(repr((lines, url, DRAWING)).encode()).hexdigest() + ".png"
    storage = photos.get_storage()
    try:
        return storage.open(key)
    except FileNotFoundError:
        pass
    except photos.StorageUnavailable as error:
        current_app.logger.warning("invite poster not read from storage: %s", error)
    png = posters.invite_poster(cohort_name, mentor_name, url, lang)
    try:
        storage.save(key, png)
    except (photos.StorageUnavailable, OSError) as error:
        current_app.logger.warning("invite poster not stored: %s", error)
    return png


@bp.get("/invite/<code>/poster.png")
def invite_poster(code: str):
    """The cohort's invite poster: public like the invite page, for open invites only."""
    cohort = accounts.find_cohort_by_code(db.session, code)
    if not invite_is_open(cohort):
        abort(404)
    mentor = first_mentor(cohort)
    png = stored_invite_poster(cohort.name, mentor.name if mentor else None, invite_url(cohort), content_lang())
    return _png(png, "public, max-age=300", f"invite-{cohort.invite_code}.png")


# --- her milestones -----------------------------------------------------------------------------

def reached_on(item: checkins.MilestoneProgress, her_checkins) -> date | None:
    """The day she reached an achieved milestone: from then on (to its due date) her number stayed
    at or above the target."""
    milestone, total, latest, reached = item.milestone, 0, None, None
    for checkin in her_checkins:  # by day
        if checkin.day > item.due:
            break
        if milestone.metric in checkins.CUMULATIVE:
            total += getattr(checkin, checkins.CUMULATIVE[milestone.metric]) or 0
            value = total
        else:
            reported = getattr(checkin, checkins.LATEST[milestone.metric])
            latest = reported if reported is not None else latest
            value = latest or 0
        reached = (reached or checkin.day) if value >= milestone.target else None
    return reached


def milestone_detail(user, progress: checkins.Progress, item: checkins.MilestoneProgress) -> str:
    """The lines under the milestone: the day she reached it, and her earnings if she shares them."""
    lines = []
    day = reached_on(item, progress.checkins)
    if day is not None:
        lines.append(_("Reached on day %(day)d · %(date)s", day=(day - progress.start).days + 1,
                       date=format_date(day, "long")))
    if user.shares_earnings:
        lines.append(_("Earned so far: %(amount)s", amount=display_yuan(progress.total_earnings_fen, whole=True)))
    return "\n".join(lines)


def achieved(progress: checkins.Progress) -> list[checkins.MilestoneProgress]:
    return [item for item in progress.milestones if item.status == checkins.ACHIEVED]


def growth_url(user) -> str:
    """Where her poster's QR code leads: her cohort's invite while it is open, else the home page."""
    return invite_url(user.cohort) if invite_is_open(user.cohort) else absolute("home.home")


@bp.get("/posters/milestone/<milestone_key>.png")
@login_required
def milestone_poster(milestone_key: str):
    """Her poster for a milestone she reached (always hers: there is no user in the URL)."""
    if not current_user.is_trainee:
        abort(404)
    progress = checkins.progress(db.session, current_user, utcnow())
    item = next((i for i in achieved(progress) if i.milestone.key == milestone_key), None)
    if item is None:
        abort(404)
    lang = content_lang()
    anonymous = request.args.get("anonymous", "").lower() in YES
    png = posters.milestone_poster(
        None if anonymous else current_user.name,
        Markup(item.milestone.text("title", lang)).striptags(),
        milestone_detail(current_user, progress, item),
        current_user.cohort.name if current_user.cohort else None,
        growth_url(current_user), lang)
    return _png(png, "private, no-cache", f"milestone-{item.milestone.key}.png")


# --- the page that shows them -------------------------------------------------------------------

@bp.get("/share")
@login_required
def share():
    """Her posters to long-press and save: her cohort's invite, one per milestone she reached.
    A mentor sees the invite posters of the cohorts she coaches."""
    anonymous = request.args.get("anonymous", "").lower() in YES
    lang = content_lang()
    cohorts, milestones = [], []
    if current_user.is_trainee:
        cohorts = [current_user.cohort] if invite_is_open(current_user.cohort) else []
        progress = checkins.progress(db.session, current_user, utcnow())
        milestones = [(item.milestone.key, Markup(item.milestone.text("title", lang)).striptags())
                      for item in achieved(progress)]
    else:
        coached = db.session.scalars(
            sa.select(Cohort).join(cohort_mentors, cohort_mentors.c.cohort_id == Cohort.id)
            .where(cohort_mentors.c.user_id == current_user.id, Cohort.is_archived.is_(False))
            .order_by(Cohort.start_date.desc(), Cohort.id)).all()
        cohorts = [c for c in coached if invite_is_open(c)]
    response = current_app.make_response(render_template(
        "camp/share.html", cohorts=cohorts, milestones=milestones, anonymous=anonymous))
    response.headers["Cache-Control"] = "private, no-cache"
    return response
