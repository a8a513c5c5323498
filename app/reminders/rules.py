"""The reminder rules: what is due now, for every trainee at once.

Each table is read once for all trainees (a grouped query per fact: her last check-in day, her
last lesson, her recent check-ins for milestones), never once per trainee; the rules then run
over plain tuples and every due message is written to the outbox in bulk. Timing and words are
data (milestones/reminders.yml); docs/reminders.md describes each rule.
"""
import contextlib
import functools
import gc
from collections import Counter, namedtuple
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.core.access import Role
from app.camp.models import CampTask, TaskCheckin
from app.checkins import service as checkins
from app.checkins.models import Checkin, Milestone
from app.cohorts.models import Cohort, cohort_mentors
from app.learning.models import Course, Lesson, LessonProgress
from app.quizzes.models import EssayReview, QuizAttempt
from app.reminders import outbox, personal_channels, preferences
from app.reminders.models import ROBOT_CHANNELS, OutboxMessage, ReminderPreference
from app.core import calendar
from app.database import read
from app.core.members import active_trainees
from app.cohorts import dashboard

RECENT = timedelta(days=3)          # events (a check-in that reached a milestone, a review) this recent count
DIGEST_WINDOW = timedelta(hours=4)  # a morning digest later than this is stale: skip the day

_Day = namedtuple("_Day", "user_id day earnings_fen orders posts group_members active_members")
# A milestone's figures as plain values for checkins.milestone_status, which reads them for each of her
# check-ins: from the ORM object each read costs as much as the arithmetic.
_Goal = namedtuple("_Goal", "key by_day metric target")


@dataclass(slots=True)
class Trainee:
    id: int
    email: str | None
    local: datetime          # her time now
    today: date
    day: int                 # programme day, 1 = her start
    start: date
    window_open: bool        # past her daily reminder time, outside her quiet hours
    quiet_now: bool          # inside her quiet hours
    end_of_day: datetime     # UTC: her daily reminders expire then
    email_ok: bool
    email_muted: list


@functools.lru_cache(maxsize=256)
def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


class Pass:
    """One run of the rules at `now`: the trainees, the settings, and the rows to write."""

    def __init__(self, session: Session, now: datetime):
        self.session, self.now = session, now
        self.programme = checkins.get_programme(session)
        self.settings = self.programme.reminders or {}
        self.rules = self.settings.get("rules", {})
        self.email_configured = bool(current_app.config.get("SMTP_HOST"))
        self.length = max(self.programme.checkin_days or [30])
        self.milestones = list(session.scalars(sa.select(Milestone).where(Milestone.is_archived.is_(False))
                                               .order_by(Milestone.position)))
        self.reach = max([self.length] + [m.by_day for m in self.milestones]) + self.programme.correction_days
        self.rows: dict[str, list[dict]] = {}
        self.personal = personal_channels.Reach.nobody()
        self._ends: dict[tuple, datetime] = {}
        self._windows: dict[tuple, tuple[bool, bool]] = {}
        # Keys written in the last two days (as outbox.write skips them): a run every few minutes finds
        # most of its messages there, so it builds no row for them, and skips the reads that would
        # only decide a message already written (see written()).
        self.known = set(read(session, sa.select(OutboxMessage.key).where(
            OutboxMessage.created_at >= now - timedelta(days=2))).scalars().all())

    def zone(self, name: str | None) -> ZoneInfo:
        return calendar.zone(name)

    def end_of_day(self, zone: ZoneInfo, day: date) -> datetime:
        if (zone, day) not in self._ends:
            self._ends[zone, day] = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(timezone.utc)
        return self._ends[zone, day]

    def open_window(self, local: datetime, send_at: str, quiet_start: str, quiet_end: str) -> bool:
        now = local.time()
        return now >= _clock(send_at) and not preferences.in_quiet_hours(now, quiet_start, quiet_end)

    def window(self, local: datetime, send_at: str, quiet_start: str, quiet_end: str) -> tuple[bool, bool]:
        """(window open, quiet now) at this local time: the same for everyone of a zone with the same
        settings, so worked out once for them."""
        settings = (local.time(), send_at, quiet_start, quiet_end)   # not `local`: 20:30 Shanghai == 21:30 Tokyo
        if settings not in self._windows:
            self._windows[settings] = (self.open_window(local, send_at, quiet_start, quiet_end),
                                       preferences.in_quiet_hours(local.time(), quiet_start, quiet_end))
        return self._windows[settings]

    # --- who -----------------------------------------------------------------------------------

    def trainees(self) -> dict[int, Trainee]:
        """Active trainees of cohorts still in (or just past) the programme, with their preferences."""
        defaults = self.settings
        quiet = defaults.get("quiet_hours", {"start": "22:00", "end": "08:00"})
        earliest = (self.now - timedelta(days=self.reach + 1)).date()
        query = (sa.select(User.id, User.timezone, User.created_at, User.email, Cohort.start_date,
                           ReminderPreference.email_enabled, ReminderPreference.email_muted,
                           ReminderPreference.send_at, ReminderPreference.quiet_start, ReminderPreference.quiet_end)
                 .join(Cohort, User.cohort_id == Cohort.id)
                 .outerjoin(ReminderPreference, ReminderPreference.user_id == User.id)
                 .where(*active_trainees(), Cohort.is_archived.is_(False),
                        Cohort.start_date >= earliest, Cohort.start_date <= (self.now + timedelta(days=1)).date()))
        out, zones = {}, {}
        send_at_default = defaults.get("send_at", "20:00")
        for (user_id, zone_name, created, email, cohort_start, email_enabled, muted, send_at, quiet_start,
             quiet_end) in read(self.session, query).all():   # all(): one fetch, not one per row
            if zone_name not in zones:   # her time, today, its end and the default window: the same for her zone
                zone = self.zone(zone_name)
                local = self.now.astimezone(zone)
                zones[zone_name] = (local, local.date(), self.end_of_day(zone, local.date()),
                                    self.window(local, send_at_default, quiet["start"], quiet["end"]))
            local, today, end_of_day, window = zones[zone_name]
            if send_at or quiet_start or quiet_end:   # her own times
                window = self.window(local, send_at or send_at_default, quiet_start or quiet["start"],
                                     quiet_end or quiet["end"])
            start = calendar.start_date(created, zone_name, cohort_start)
            out[user_id] = Trainee(
                id=user_id, email=email, local=local, today=today, day=calendar.day_number(start, today), start=start,
                window_open=window[0], quiet_now=window[1], end_of_day=end_of_day,
                email_ok=bool(email) and email_enabled is not False and self.email_configured,
                email_muted=muted or [])
        return out

    # --- writing -------------------------------------------------------------------------------

    def channels(self, trainee: Trainee, rule: str, params: dict) -> list[str]:
        """Her channels for this message: the inbox always, email when she takes this category, the
        公众号 and SMS where she has them."""
        category = self.rules[rule]["category"]
        channels = ["inapp", "email"] if trainee.email_ok and category not in trainee.email_muted else ["inapp"]
        return channels + self.personal.channels(trainee.id, rule, params)

    def written(self, trainee: Trainee, rule: str, occasion: str, params: dict) -> bool:
        """Whether this message is already in the outbox on each of her channels (add() would add nothing)."""
        prefix = outbox.key_for(f"user:{trainee.id}", rule, occasion, "")
        for channel in self.channels(trainee, rule, params):
            if prefix + channel not in self.known:
                return False
        return True

    def add(self, trainee: Trainee, rule: str, occasion: str, params: dict, *, daily: bool) -> None:
        """Her message on each of her channels, but for those already written."""
        prefix = outbox.key_for(f"user:{trainee.id}", rule, occasion, "")   # + the channel
        for channel in self.channels(trainee, rule, params):
            if prefix + channel not in self.known:
                self.rows.setdefault(rule, []).append({
                    "key": prefix + channel, "rule": rule, "category": self.rules[rule]["category"],
                    "occasion": occasion, "channel": channel, "user_id": trainee.id, "params": params,
                    "due_at": self.now, "expires_at": trainee.end_of_day if daily else None})


@contextlib.contextmanager
def _no_cycle_collection():
    """A run builds a few hundred thousand small objects (rows, trainees, keys) that all live until
    its end: the cycle collector would walk them again and again (a third of the run at 100,000
    trainees) and free nothing. Reference counting still frees everything; the collector is back at
    the end (unless it was off before)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def run_rules(session: Session, now: datetime) -> Counter:
    """Write every message due at `now` to the outbox; returns the new ones per rule."""
    with _no_cycle_collection():
        return _run_rules(session, now)


def _run_rules(session: Session, now: datetime) -> Counter:
    run = Pass(session, now)
    if not run.rules:
        return Counter()  # no milestones/reminders.yml synced: nothing to remind of
    trainees = run.trainees()
    run.personal = personal_channels.Reach(session, run.settings, trainees)
    in_programme = {i: t for i, t in trainees.items() if 1 <= t.day <= run.reach}
    task_rule(run, in_programme)
    checkin_rules(run, in_programme)
    lesson_rule(run, in_programme)
    milestone_rules(run, in_programme)
    essay_rule(run, trainees)
    group_digests(run)
    mentor_digests(run)
    created = Counter()
    for rule, rows in run.rows.items():
        created[rule] = outbox.write(session, rows, now)
    return created


def _last_checkin_days(session: Session, ids) -> dict[int, date]:
    out = {}
    for chunk in _chunks(list(ids)):
        out.update(read(session, sa.select(Checkin.user_id, sa.func.max(Checkin.day))
                        .where(Checkin.user_id.in_(chunk), Checkin.source != "shop")  # hers only
                        .group_by(Checkin.user_id)).all())
    return out


def _chunks(ids: list, size: int = 900):
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def task_rule(run: Pass, trainees: dict[int, Trainee]) -> None:
    """task_unlocked: the camp's task of her day, from its unlock time (08:00) until done."""
    if "task_unlocked" not in run.rules:
        return
    tasks = dict(run.session.execute(sa.select(CampTask.day, CampTask.key).where(CampTask.is_archived.is_(False))).all())
    unlock = _clock((run.programme.camp or {}).get("unlock_at", "08:00"))
    wanted = [t for t in trainees.values() if t.day in tasks and t.local.time() >= unlock and not t.quiet_now
              and not run.written(t, "task_unlocked", tasks[t.day], {"day": t.day, "task": tasks[t.day]})]
    if not wanted:
        return
    done = set()
    for chunk in _chunks([t.id for t in wanted]):
        done.update(map(tuple, read(run.session, sa.select(TaskCheckin.user_id, CampTask.key)
                                    .join(CampTask, CampTask.id == TaskCheckin.task_id)
                                    .where(TaskCheckin.user_id.in_(chunk)))))
    for trainee in wanted:
        key = tasks[trainee.day]
        if (trainee.id, key) not in done:
            run.add(trainee, "task_unlocked", key, {"day": trainee.day, "task": key}, daily=True)


def checkin_rules(run: Pass, trainees: dict[int, Trainee]) -> None:
    """checkin_due on a check-in day not yet checked in; checkin_missed the day after an empty one."""
    days = sorted(run.programme.checkin_days or [])
    wanted = {i: t for i, t in trainees.items() if t.window_open and t.day <= run.length + 1
              and not (t.day in days and run.written(t, "checkin_due", t.today.isoformat(),
                                                     {"day": t.day, "date": t.today.isoformat()}))}
    last = _last_checkin_days(run.session, wanted)
    for trainee in wanted.values():
        last_day = last.get(trainee.id)
        if trainee.day in days:
            if last_day is None or last_day < trainee.today:
                run.add(trainee, "checkin_due", trainee.today.isoformat(),
                        {"day": trainee.day, "date": trainee.today.isoformat()}, daily=True)
        elif (trainee.day - 1) in days:
            missed = trainee.start + timedelta(days=trainee.day - 2)
            if last_day is None or last_day < missed:
                empty_days = (missed - last_day).days if last_day else (missed - trainee.start).days + 1
                run.add(trainee, "checkin_missed", missed.isoformat(), {"date": missed.isoformat(),
                                                                         "empty_days": empty_days}, daily=True)


def lesson_rule(run: Pass, trainees: dict[int, Trainee]) -> None:
    """no_lesson after N days without opening one (N from the data), while lessons are left."""
    thresholds = sorted(run.rules.get("no_lesson", {}).get("after_days") or [])
    wanted = {i: t for i, t in trainees.items() if t.window_open and t.day <= run.length}
    if not thresholds or not wanted:
        return
    total = run.session.scalar(sa.select(sa.func.count(Lesson.id)).join(Lesson.course).where(
        Lesson.is_archived.is_(False), Course.is_archived.is_(False)))
    activity = {}
    for chunk in _chunks(list(wanted)):
        for user_id, started, completed, done in read(run.session, sa.select(
                LessonProgress.user_id, sa.func.max(LessonProgress.started_at),
                sa.func.max(LessonProgress.completed_at), sa.func.count(LessonProgress.completed_at))
                .where(LessonProgress.user_id.in_(chunk)).group_by(LessonProgress.user_id)).all():
            activity[user_id] = (max(filter(None, (started, completed))), done)
    for trainee in wanted.values():
        seen, done = activity.get(trainee.id, (None, 0))
        if done >= total:
            continue
        since = seen.astimezone(trainee.local.tzinfo).date() if seen else trainee.start
        idle = (trainee.today - since).days
        reached = [n for n in thresholds if idle >= n]
        if reached:
            run.add(trainee, "no_lesson", f"{since.isoformat()}+{reached[-1]}", {"days": reached[-1]}, daily=True)


def milestone_rules(run: Pass, trainees: dict[int, Trainee]) -> None:
    """behind on the escalation days of each milestone; milestone_achieved once, soon after."""
    on_days = run.rules.get("behind", {}).get("on_days", {})
    correction = run.programme.correction_days
    recent = set()
    for chunk in _chunks(list(trainees)):
        recent.update(read(run.session, sa.select(Checkin.user_id).distinct().where(
            Checkin.user_id.in_(chunk), Checkin.updated_at >= run.now - RECENT)).scalars().all())

    # Each milestone's figures, last day of celebration and days of "behind", read once (not per trainee).
    goals = [(_Goal(m.key, m.by_day, m.metric, m.target), m.key, m.by_day + correction, set(on_days.get(m.key, ())))
             for m in run.milestones]

    def to_check(trainee: Trainee) -> list[tuple[_Goal, str]]:
        """The milestones whose status could send her something today, and which rule."""
        out = []
        for milestone, key, last_day, behind_days in goals:
            behind_today = trainee.window_open and trainee.day in behind_days
            if trainee.id in recent and trainee.day <= last_day:
                # Celebrated already, and no "behind" today: her status would change nothing.
                if behind_today or not run.written(trainee, "milestone_achieved", key, {"milestone": key}):
                    out.append((milestone, "milestone_achieved"))
            elif behind_today:
                out.append((milestone, "behind"))
        return out

    wanted = {i: checks for i, t in trainees.items() if (checks := to_check(t))}
    history: dict[int, list] = {}
    for chunk in _chunks(list(wanted)):
        for row in read(run.session, sa.select(Checkin.user_id, Checkin.day, Checkin.earnings_fen, Checkin.orders,
                                               Checkin.posts, Checkin.group_members, Checkin.active_members)
                        .where(Checkin.user_id.in_(chunk)).order_by(Checkin.user_id, Checkin.day)).all():
            history.setdefault(row[0], []).append(_Day._make(row))
    margin = run.programme.behind_margin_percent
    for user_id, checks in wanted.items():
        trainee, mine = trainees[user_id], history.get(user_id, [])
        for milestone, rule in checks:
            status = checkins.milestone_status(milestone, mine, trainee.start, trainee.today, margin)
            if rule == "milestone_achieved" and status.status == checkins.ACHIEVED:
                run.add(trainee, "milestone_achieved", milestone.key, {"milestone": milestone.key}, daily=False)
            elif status.status == checkins.BEHIND and trainee.window_open \
                    and trainee.day in on_days.get(milestone.key, ()):
                diagnosis = checkins.diagnose(mine, trainee.today, run.programme, trainee.day)
                lesson = diagnosis.weakest.lesson if diagnosis.weakest else None
                run.add(trainee, "behind", f"{milestone.key}:day{trainee.day}",
                        {"milestone": milestone.key, "current": status.current, "days_left": status.days_left,
                         "lesson": lesson}, daily=True)


def essay_rule(run: Pass, trainees: dict[int, Trainee]) -> None:
    """essay_reviewed when the last essay of an attempt has been scored (the attempt is graded)."""
    rows = run.session.execute(
        sa.select(QuizAttempt.id, QuizAttempt.user_id, QuizAttempt.quiz_id)
        .join(EssayReview, EssayReview.attempt_id == QuizAttempt.id)
        .where(QuizAttempt.state == QuizAttempt.GRADED, EssayReview.reviewed_at >= run.now - RECENT)
        .group_by(QuizAttempt.id, QuizAttempt.user_id, QuizAttempt.quiz_id))
    for attempt_id, user_id, quiz_id in rows:
        if user_id in trainees:
            run.add(trainees[user_id], "essay_reviewed", f"attempt{attempt_id}",
                    {"attempt_id": attempt_id, "quiz_id": quiz_id}, daily=False)


def group_digests(run: Pass) -> None:
    """One message per cohort group on a check-in day: how many have not checked in, @-mentioning
    them. One digest, not one message each: group robots take 20 messages a minute."""
    if "group_digest" not in run.rules:
        return
    quiet = run.settings.get("quiet_hours", {"start": "22:00", "end": "08:00"})
    cohorts = run.session.scalars(sa.select(Cohort).where(
        Cohort.is_archived.is_(False), Cohort.robot_kind.in_(ROBOT_CHANNELS), Cohort.robot_webhook.is_not(None)))
    for cohort in cohorts:
        zone = run.zone(cohort.timezone)
        local = run.now.astimezone(zone)
        day = calendar.day_number(cohort.start_date, local.date())
        if day not in (run.programme.checkin_days or []) or not run.open_window(
                local, run.settings.get("send_at", "20:00"), quiet["start"], quiet["end"]):
            continue
        today = local.date().isoformat()
        run.rows.setdefault("group_digest", []).append({
            "key": outbox.key_for(f"cohort:{cohort.id}", "group_digest", today, cohort.robot_kind),
            "rule": "group_digest", "category": run.rules["group_digest"]["category"], "occasion": today,
            "channel": cohort.robot_kind, "cohort_id": cohort.id, "params": {"day": day, "date": today},
            "due_at": run.now, "expires_at": run.end_of_day(zone, local.date())})


def mentor_digests(run: Pass) -> None:
    """Each morning, each mentor: who in her cohorts needs attention (the dashboard's own list)."""
    if "mentor_digest" not in run.rules:
        return
    digest_at = _clock(run.settings.get("digest_at", "09:00"))
    mentors = run.session.execute(
        sa.select(User, ReminderPreference).outerjoin(ReminderPreference, ReminderPreference.user_id == User.id)
        .where(User.role == Role.MENTOR, User.is_active.is_(True))).all()
    due = []
    for mentor, pref in mentors:
        local = run.now.astimezone(run.zone(mentor.timezone))
        opening = datetime.combine(local.date(), digest_at, local.tzinfo)
        effective = preferences.effective(run.settings, pref)
        if opening <= local < opening + DIGEST_WINDOW and not preferences.in_quiet_hours(
                local.time(), effective.quiet_start, effective.quiet_end):
            due.append((mentor, effective, local))
    if not due:
        return
    sent = set(run.session.scalars(sa.select(OutboxMessage.user_id).where(
        OutboxMessage.rule == "mentor_digest", OutboxMessage.user_id.in_([m.id for m, _, _ in due]),
        OutboxMessage.created_at >= run.now - DIGEST_WINDOW)))
    attention: dict[int, list[str]] = {}
    for mentor, effective, local in due:
        if mentor.id in sent:
            continue
        cohort_ids = run.session.scalars(sa.select(cohort_mentors.c.cohort_id).where(
            cohort_mentors.c.user_id == mentor.id)).all()
        names = []
        for cohort in run.session.scalars(sa.select(Cohort).where(Cohort.id.in_(cohort_ids),
                                                                  Cohort.is_archived.is_(False))):
            if cohort.id not in attention:
                rows = dashboard.cohort_rows(run.session, cohort, run.now)
                attention[cohort.id] = [row.user.name for row in dashboard.needs_attention(rows, run.now)]
            names += attention[cohort.id]
        if not names:
            continue
        category = run.rules["mentor_digest"]["category"]
        today = local.date()
        channels = ["inapp"] + (["email"] if mentor.email and effective.email_enabled and run.email_configured
                                and category not in effective.email_muted else [])
        for channel in channels:
            run.rows.setdefault("mentor_digest", []).append({
                "key": outbox.key_for(f"user:{mentor.id}", "mentor_digest", today.isoformat(), channel),
                "rule": "mentor_digest", "category": category, "occasion": today.isoformat(), "channel": channel,
                "user_id": mentor.id, "params": {"count": len(names), "names": names[:20]}, "due_at": run.now,
                "expires_at": run.end_of_day(run.zone(mentor.timezone), today)})
