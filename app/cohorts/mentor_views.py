"""Mentor pages: cohort dashboard, needs-attention list, trainee page, CSV export, inbox."""
import csv
import io

import sqlalchemy.orm as so
from babel.dates import format_skeleton
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext as _, ngettext
from flask_login import current_user, login_required
from markupsafe import Markup

from app.camp import coaching
from app.camp import service as camp
from app.checkins import service as checkins
from app.checkins.chart import earnings_chart
from app.cohorts import mentoring, summaries
from app.cohorts.models import Cohort, MentorNote
from app.cohorts.table import Table
from app.database import utcnow
from app.extensions import db
from app.i18n import content_lang, safe_next
from app.learning import service as learning
from app.quizzes.models import QuizAttempt
from app.core.money import format_yuan
from app.core import access
from app.core.access import staff_required
from app.core.errors import commit_or_flash
from app.core import audit
from app.reminders import inbox

bp = Blueprint("mentor", __name__)
ATTENTION_SHOWN = 100


def coached_cohort_or_404(cohort_id: int) -> Cohort:
    """Another cohort answers exactly like a missing one. Whether she coaches it is one small query
    (access.coached_cohort_ids): loading the cohort's mentors, each with her own cohort, to look for her
    there cost a sixth of the dashboard. They are loaded if a page asks for them."""
    coached = access.coached_cohort_ids(db.session, current_user)
    cohort = (db.session.get(Cohort, cohort_id, options=[so.lazyload(Cohort.mentors)])
              if coached is None or cohort_id in coached else None)
    if cohort is None:
        abort(404)
    return cohort


def _query() -> summaries.DashboardQuery:
    args = request.args
    inactive = args.get("inactive", "")
    # isdecimal(), not isdigit(): "²" is a digit that int() refuses.
    return summaries.DashboardQuery(
        status=args.get("status", "") if args.get("status") in summaries.STATUSES else "",
        inactive=int(inactive) if inactive.isdecimal() else None, stuck=args.get("stuck", ""),
        q=args.get("q", "")[:80], sort=args.get("sort", "attention") if args.get("sort") in summaries.SORTS else "attention",
        page=max(1, int(args.get("page", "1"))) if args.get("page", "1").isdecimal() else 1)


FILTER_ARGS = ("q", "status", "inactive", "stuck", "sort")


def _filter_args() -> dict:
    """The dashboard's own arguments, for its links. Never **request.args: url_for() would obey an
    _external, _scheme or _anchor in the address (a javascript: link), and a cohort_id would clash."""
    return {name: request.args[name] for name in FILTER_ARGS if request.args.get(name)}


def current_table(cohort: Cohort):
    """Bring the cohort's stored rows up to date before reading them (and keep that work for the next page)."""
    now = utcnow()
    if summaries.refresh(db.session, cohort, now):
        db.session.commit()
    return now


@bp.get("/cohorts")
@staff_required
def cohorts():
    return render_template("cohorts/list.html", cohorts=access.coached_cohorts(db.session, current_user))


@bp.get("/cohorts/<int:cohort_id>/dashboard")
@login_required
def cohort_dashboard(cohort_id: int):
    cohort = coached_cohort_or_404(cohort_id)
    now, query = current_table(cohort), _query()
    lookup = summaries.Lookup(db.session)   # read once for the table, the top of the list and the filter
    table = summaries.page(db.session, cohort, query, now, lookup, milestones=False)
    attention, flagged = summaries.needs_attention(db.session, cohort, 3, lookup, count=table.flagged)
    return render_template("cohorts/dashboard.html", cohort=cohort, table=table, query=query,
                           filter_args=_filter_args(), attention=attention, flagged=flagged,
                           pick_all=request.args.get("all") == "1",
                           lessons=summaries.lessons_on(db.session, cohort, lookup), now=now,
                           words=Table(cohort, now))


@bp.get("/cohorts/<int:cohort_id>/attention")
@login_required
def attention(cohort_id: int):
    cohort = coached_cohort_or_404(cohort_id)
    now = current_table(cohort)
    # The most urgent first; a mentor works through a screenful, not 700 names at once.
    rows, flagged = summaries.needs_attention(db.session, cohort, ATTENTION_SHOWN)
    return render_template("cohorts/attention.html", cohort=cohort, now=now, rows=rows,
                           more=max(0, flagged - ATTENTION_SHOWN), words=Table(cohort, now))


@bp.get("/cohorts/<int:cohort_id>/export.csv")
@login_required
def export(cohort_id: int):
    cohort = coached_cohort_or_404(cohort_id)
    now = current_table(cohort)
    rows = summaries.rows(db.session, cohort, _query(), now)
    out = io.StringIO()
    writer = csv.writer(out)
    lang = content_lang()
    keys = [m["key"] for m in rows[0].milestones] if rows else []
    named = {m.key: m for m in checkins.milestones_by_key(db.session, keys)}
    titles = [Markup(named[k].text("title", lang)).striptags() if k in named else k for k in keys]
    # Headers and values in the interface's language: operators read this in a spreadsheet.
    writer.writerow([_("Name"), _("Mobile"), _("Email"), _("Programme day"), _("Lessons done"), _("Lessons in total"),
                     _("Quizzes passed"), _("Quizzes in total"), _("Earnings (yuan)"), _("Status"),
                     *[_("%(milestone)s: status", milestone=t) for t in titles], _("Last check-in"),
                     _("Last active"), _("Weakest factor"), _("Needs attention")])
    for r in rows:
        statuses = {m["key"]: m["status"] for m in r.milestones}
        writer.writerow([_cell(r.user.name), _cell(r.user.mobile or ""), _cell(r.user.email or ""), r.programme_day,
                         r.lessons_done, r.lessons_total, r.quizzes_passed, r.quizzes_total,
                         format_yuan(r.total_earnings_fen),
                         csv_label(r.status), *[csv_label(statuses.get(k)) for k in keys],
                         r.last_checkin.isoformat() if r.last_checkin else "",
                         r.last_active_at.isoformat() if r.last_active_at else "", csv_label(r.weakest),
                         "; ".join(csv_label(reason.code) for reason in r.reasons)])
    # A BOM so that Excel (what operators open it with) reads the Chinese names right.
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=cohort-{cohort.id}-{now.date().isoformat()}.csv"})


def csv_label(code: str | None) -> str:
    """A status, factor or attention code as the export shows it, in the interface's language."""
    labels = {"achieved": _("Achieved"), "on_track": _("On track"), "behind": _("Behind"), "missed": _("Missed"),
              "traffic": _("traffic pool"), "circulation": _("circulation"), "monetization": _("monetization"),
              "quiet": _("Quiet"), "inactive": _("Inactive"), "failed_quiz": _("Failed a quiz twice"),
              "essay_waiting": _("Writing waiting for your review"), "task_missing": _("Hasn't done today's task")}
    return labels.get(code, code or "")


def _cell(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (a mobile number may start with +, too)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@bp.get("/cohorts/<int:cohort_id>/trainees/<int:trainee_id>")
@login_required
def trainee(cohort_id: int, trainee_id: int):
    cohort = coached_cohort_or_404(cohort_id)
    person = mentoring.trainee_in(db.session, cohort, trainee_id) or abort(404)
    now = utcnow()
    progress = checkins.progress(db.session, person, now)
    catalogue = learning.catalogue(db.session, person.id)
    notes = db.session.scalars(db.select(MentorNote).where(MentorNote.trainee_id == person.id)
                               .order_by(MentorNote.created_at.desc())).all()
    attempts = db.session.scalars(db.select(QuizAttempt).where(QuizAttempt.user_id == person.id)
                                  .order_by(QuizAttempt.started_at.desc())).all()
    timeline = _timeline(person, progress, notes, attempts)
    chart = earnings_chart(progress, content_lang(), {
        "day": _("Programme day"), "target": _("Target:"), "you": _("Her earnings so far"),
        "aria": _("Chart of her cumulative earnings against the target line; the table below has the numbers.")})
    comments: dict[int, list] = {}  # every comment on each check-in, oldest first
    for note in sorted(notes, key=lambda n: (n.created_at, n.id)):
        if note.kind == MentorNote.CHECKIN_COMMENT:
            comments.setdefault(note.checkin_id, []).append(note)
    grid = camp.calendar(db.session, person, now)   # her current month, in her time zone
    return render_template("cohorts/trainee.html", cohort=cohort, person=person, progress=progress,
                           catalogue=catalogue, timeline=timeline, chart=chart, notes=notes, comments=comments,
                           grid=grid, month_title=format_skeleton("yMMMM", grid.month, locale=get_locale()),
                           task_checkins=coaching.task_checkins_of(db.session, person),
                           task_comments=mentoring.task_comments(notes))


def _timeline(person, progress, notes, attempts) -> list[tuple]:
    """(when, kind, object), newest first: lessons done, attempts, check-ins, notes, nudges, reminders."""
    events = [(c.updated_at, "checkin", c) for c in progress.checkins]
    events += [(a.submitted_at or a.started_at, "attempt", a) for a in attempts]
    events += [(n.created_at, n.kind, n) for n in notes]
    events += [(when, "lesson", lesson) for lesson, when in learning.completion_times(db.session, person.id)]
    events += [(m.created_at, "nudge" if m.category == "nudge" else "reminder", m)
               for m in inbox.messages(db.session, person)]
    return sorted(events, key=lambda e: e[0], reverse=True)


def _act(cohort_id: int, trainee_id: int, action, anchor: str = ""):
    """Run a mentor's action on her trainee; another cohort's trainee, or one that does not exist, is 404.
    Back to `next` (a page of this site), else to her page (at `anchor`)."""
    cohort = coached_cohort_or_404(cohort_id)
    person = mentoring.trainee_in(db.session, cohort, trainee_id) or abort(404)
    ok, done = commit_or_flash(action, person, utcnow())
    if ok:
        flash(done, "success")
    return redirect(safe_next(request.form.get("next"), url_for("mentor.trainee", cohort_id=cohort.id,
                                                                 trainee_id=person.id) + anchor))


def _audit(action: str, person, **details) -> None:
    audit.record(db.session, current_user, action, f"user:{person.id}", **details)


@bp.post("/cohorts/<int:cohort_id>/trainees/<int:trainee_id>/notes")
@login_required
def add_note(cohort_id: int, trainee_id: int):
    checkin_id, task_checkin_id = request.form.get("checkin_id", ""), request.form.get("task_checkin_id", "")

    def action(person, now):
        note = mentoring.add_note(db.session, current_user, person, request.form.get("body", ""), now,
                                  int(checkin_id) if checkin_id.isdecimal() else None,
                                  int(task_checkin_id) if task_checkin_id.isdecimal() else None)
        if note.task_checkin_id is not None:
            _audit("task_checkin.comment", person, note=note.id, task_checkin=note.task_checkin_id)
        else:
            _audit("trainee.note" if note.checkin_id is None else "checkin.comment", person, note=note.id)
        return _("Saved.")
    return _act(cohort_id, trainee_id, action,
                f"#task-checkin-{task_checkin_id}" if task_checkin_id.isdecimal() else "")


@bp.post("/cohorts/<int:cohort_id>/trainees/<int:trainee_id>/task-checkins/<int:task_checkin_id>/pin")
@login_required
def pin_task_checkin(cohort_id: int, trainee_id: int, task_checkin_id: int):
    """Pin (on=1) or unpin (on=0) her 打卡; without `on`, the other way round. Her shared post goes with it."""
    wanted = request.form.get("on")

    def action(person, now):
        checkin = coaching.pin(db.session, current_user, person, task_checkin_id,
                               None if wanted not in ("0", "1") else wanted == "1")
        _audit("task_checkin.pin" if checkin.is_pinned else "task_checkin.unpin", person,
               task_checkin=checkin.id, day=checkin.day)
        return _("Pinned.") if checkin.is_pinned else _("Unpinned.")
    return _act(cohort_id, trainee_id, action, f"#task-checkin-{task_checkin_id}")


@bp.post("/cohorts/<int:cohort_id>/trainees/<int:trainee_id>/nudge")
@login_required
def nudge(cohort_id: int, trainee_id: int):
    def action(person, now):
        ids = mentoring.send_nudge(db.session, current_user, person, request.form.get("body", ""), now)
        _audit("trainee.nudge", person, outbox=ids)
        return _("Sent to %(name)s's inbox.", name=person.name)
    return _act(cohort_id, trainee_id, action)


@bp.post("/cohorts/<int:cohort_id>/trainees/<int:trainee_id>/contacted")
@login_required
def contacted(cohort_id: int, trainee_id: int):
    def action(person, now):
        note = mentoring.mark_contacted(db.session, current_user, person, request.form.get("body", ""), now)
        _audit("trainee.contacted", person, note=note.id)
        return _("Marked as contacted: %(name)s leaves the list until something new happens.", name=person.name)
    return _act(cohort_id, trainee_id, action)


@bp.post("/cohorts/<int:cohort_id>/bulk")
@login_required
def bulk(cohort_id: int):
    """One action for the trainees ticked on the table (mentoring.act_on_each): all or nothing."""
    cohort = coached_cohort_or_404(cohort_id)
    back = safe_next(request.form.get("next"), url_for("mentor.cohort_dashboard", cohort_id=cohort.id))
    action = request.form.get("action", "")
    picked = request.form.getlist("trainee")
    ids = sorted({int(raw) for raw in picked if raw.isascii() and raw.isdecimal() and len(raw) < 10})
    if len(ids) != len(set(picked)):
        abort(404)   # something that is no one's id
    ok, n = commit_or_flash(mentoring.act_on_each, db.session, current_user, cohort, action, ids,
                            request.form.get("body", ""), utcnow())
    if not ok:
        return redirect(back)
    done = {"nudge": ngettext("Nudge sent to %(num)d trainee.", "Nudge sent to %(num)d trainees.", n),
            "note": ngettext("Note added for %(num)d trainee.", "Note added for %(num)d trainees.", n),
            "contacted": ngettext("Marked %(num)d trainee as contacted.", "Marked %(num)d trainees as contacted.", n)}
    flash(done[action], "success")
    return redirect(back)
