"""The mentor's view of a trainee, worked out from scratch: her row of the dashboard, and why she needs
attention today. These are the rules; `summaries.py` stores their results (the read model the pages read)
and works them out again only for the rows that changed.

Everything is computed from one fetch per table for the trainees asked for, plus each one's latest times
grouped in SQL (a constant number of queries whatever their number), then in Python; checks are in
`tests/test_dashboard.py` and `tests/test_summaries.py`, timings in `bench/` (`python -m bench`).
"""
from collections import namedtuple
from dataclasses import dataclass, field
from functools import cached_property
from datetime import datetime, time, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.camp.models import CampTask, TaskCheckin
from app.checkins import service as checkins
from app.checkins.models import Checkin, Milestone
from app.cohorts.models import Cohort, MentorNote
from app.learning import service as learning
from app.learning.models import LessonProgress
from app.quizzes.models import Quiz, QuizAttempt
from app.core import calendar
from app.core.members import active_trainee_ids

INACTIVE_DAYS = 3          # no activity for this long: "inactive"
QUIET_CHECKIN_DAYS = 3     # no check-in for this long (from day 3 on): "missed check-ins"
CONTACT_CLEARS_DAYS = 7    # "contacted" hides her for this long, unless she does something new
TASK_DUE_AT = time(18, 0)  # her local time: today's camp task not done by then is "task missing"
STATUS_ORDER = {"missed": 0, "behind": 1, "on_track": 2, "achieved": 3, None: 4}


@dataclass
class Reason:
    code: str        # behind, quiet, inactive, failed_quiz, essay_waiting, task_missing
    weight: int
    detail: dict = field(default_factory=dict)


@dataclass
class TraineeRow:
    user: User
    today: object                       # her local date
    programme_day: int
    lessons_done: int
    lessons_total: int
    next_lesson: object | None          # the lesson she is on (stuck on, when inactive)
    quizzes_passed: int
    quizzes_total: int
    best_percent: dict[int, float]      # quiz id -> best graded percent
    failed_twice: list[Quiz]
    essays_waiting: int
    milestones: list                    # checkins.MilestoneProgress
    total_earnings_fen: int
    last_checkin: object | None         # date
    last_active_at: datetime | None
    contacted_at: datetime | None
    last_event_at: datetime | None = None   # her latest check-in or quiz submission
    task_done: bool | None = None           # today's camp task done; None when her day has no task
    reasons: list[Reason] = field(default_factory=list)
    checkins: list = field(default_factory=list, repr=False)   # hers, by day
    programme: object = field(default=None, repr=False)

    @cached_property
    def weakest(self) -> str | None:
        """The weakest factor of her last week: worked out only for the rows shown (a page, an export)."""
        diagnosis = checkins.diagnose(self.checkins, self.today, self.programme, self.programme_day)
        return diagnosis.weakest.name if diagnosis.weakest else None

    @property
    def status(self) -> str | None:
        """Her worst earnings milestone still counting, for sorting and filtering."""
        statuses = [m.status for m in self.milestones if m.milestone.metric == "earnings"]
        open_ = [s for s in statuses if s in ("behind", "on_track")] or statuses
        return min(open_, key=STATUS_ORDER.get) if open_ else None

    @property
    def attention(self) -> int:
        return sum(r.weight for r in self.reasons)

    def inactive_days(self, now: datetime) -> int | None:
        return None if self.last_active_at is None else (now - self.last_active_at).days


class _Rule:
    """A milestone whose rule's fields are plain attributes: milestone_status() reads them once per
    check-in, and an ORM attribute costs as much as a Row's. Everything else (key, text()) is the row's."""

    def __init__(self, milestone: Milestone):
        self._row = milestone
        self.metric, self.target, self.by_day = milestone.metric, milestone.target, milestone.by_day

    def __getattr__(self, name):
        return getattr(self._row, name)


# What the rows need of a check-in and of a quiz attempt.
_Day = namedtuple("_Day", "user_id day earnings_fen orders posts group_members active_members")
_Try = namedtuple("_Try", "user_id quiz_id state percent is_passed")


def _latest(*values):
    present = [v for v in values if v is not None]
    return max(present) if present else None


def cohort_rows(session: Session, cohort: Cohort, now: datetime) -> list[TraineeRow]:
    """Every active trainee of the cohort with her figures and reasons for attention, by name."""
    return trainee_rows(session, active_trainee_ids(cohort.id), now)


def trainee_rows(session: Session, members, now: datetime) -> list[TraineeRow]:
    """The rows of the trainees whose ids `members` (a SELECT of user ids) gives, by name."""
    trainees = list(session.scalars(sa.select(User).where(User.id.in_(members)).order_by(User.name, User.id)))
    catalogue = learning.catalogue(session, None)
    lessons = [item.lesson for course in catalogue.courses for item in course.lessons]
    lesson_order = [(lesson.id, lesson) for lesson in lessons]
    lesson_ids = {lesson_id for lesson_id, _ in lesson_order}
    quizzes = [status.quiz for course in catalogue.courses for status in course.quizzes]
    quiz_order = [(quiz.id, quiz) for quiz in quizzes]
    quiz_ids = {quiz_id for quiz_id, _ in quiz_order}
    programme = checkins.get_programme(session)
    margin = programme.behind_margin_percent
    milestones = [_Rule(m) for m in session.scalars(sa.select(Milestone).where(Milestone.is_archived.is_(False))
                                                    .order_by(Milestone.position))]

    # Rows as plain tuples, and only the latest time per trainee from SQL: reading a field of a
    # SQLAlchemy Row costs ~10x a tuple's, and milestone_status() and diagnose() read every check-in
    # many times; converting each timestamp (UTCDateTime) costs more than the rest of its row.
    done: dict[int, set] = {}
    for user_id, lesson_id in session.execute(sa.select(LessonProgress.user_id, LessonProgress.lesson_id).where(
            LessonProgress.user_id.in_(members), LessonProgress.completed_at.is_not(None))):
        if lesson_id in lesson_ids:
            done.setdefault(user_id, set()).add(lesson_id)
    lesson_activity = {user_id: _latest(started, completed) for user_id, started, completed in session.execute(
        sa.select(LessonProgress.user_id, sa.func.max(LessonProgress.started_at),
                  sa.func.max(LessonProgress.completed_at))
        .where(LessonProgress.user_id.in_(members)).group_by(LessonProgress.user_id))}

    attempts: dict[int, list] = {}
    for row in session.execute(sa.select(QuizAttempt.user_id, QuizAttempt.quiz_id, QuizAttempt.state,
                                         QuizAttempt.percent, QuizAttempt.is_passed)
                               .where(QuizAttempt.user_id.in_(members))):
        attempts.setdefault(row[0], []).append(_Try._make(row))
    attempt_times = {user_id: (active, submitted) for user_id, active, submitted in session.execute(
        sa.select(QuizAttempt.user_id, sa.func.max(sa.func.coalesce(QuizAttempt.submitted_at, QuizAttempt.started_at)),
                  sa.func.max(QuizAttempt.submitted_at))
        .where(QuizAttempt.user_id.in_(members)).group_by(QuizAttempt.user_id))}

    days: dict[int, list] = {}
    for row in session.execute(sa.select(Checkin.user_id, Checkin.day, Checkin.earnings_fen, Checkin.orders,
                                         Checkin.posts, Checkin.group_members, Checkin.active_members)
                               .where(Checkin.user_id.in_(members)).order_by(Checkin.day)):
        days.setdefault(row[0], []).append(_Day._make(row))
    checkin_times = dict(session.execute(sa.select(Checkin.user_id, sa.func.max(Checkin.updated_at))
                                         .where(Checkin.user_id.in_(members)).group_by(Checkin.user_id)).all())

    contacted = dict(session.execute(
        sa.select(MentorNote.trainee_id, sa.func.max(MentorNote.created_at))
        .where(MentorNote.trainee_id.in_(members), MentorNote.kind == MentorNote.CONTACTED)
        .group_by(MentorNote.trainee_id)).all())

    rows, todays = [], {}
    for user in trainees:
        user_id = user.id
        mine = days.get(user_id, [])
        tries = attempts.get(user_id, [])
        tried_at, submitted_at = attempt_times.get(user_id, (None, None))
        checked_in_at = checkin_times.get(user_id)
        today = todays.get(user.timezone) or todays.setdefault(user.timezone, calendar.local_today(user, now))
        start = calendar.programme_start(user)
        graded = [a for a in tries if a.state == QuizAttempt.GRADED]
        best = {}
        for a in graded:
            best[a.quiz_id] = max(best.get(a.quiz_id, 0), a.percent or 0)
        passed = {a.quiz_id for a in graded if a.is_passed}
        failed_counts: dict[int, int] = {}
        for a in graded:
            if not a.is_passed:
                failed_counts[a.quiz_id] = failed_counts.get(a.quiz_id, 0) + 1
        user_done = done.get(user_id, set())
        row = TraineeRow(
            user=user, today=today, programme_day=calendar.day_number(start, today),
            lessons_done=len(user_done), lessons_total=len(lessons),
            next_lesson=next((lesson for lesson_id, lesson in lesson_order if lesson_id not in user_done), None),
            quizzes_passed=len(passed & quiz_ids), quizzes_total=len(quizzes), best_percent=best,
            failed_twice=[q for q_id, q in quiz_order if failed_counts.get(q_id, 0) >= 2 and q_id not in passed],
            essays_waiting=sum(a.state == QuizAttempt.AWAITING_REVIEW for a in tries),
            milestones=[checkins.milestone_status(m, mine, start, today, margin) for m in milestones],
            total_earnings_fen=sum(c.earnings_fen for c in mine),
            last_checkin=mine[-1].day if mine else None,
            last_active_at=_latest(user.last_login_at, lesson_activity.get(user_id), tried_at, checked_in_at),
            last_event_at=_latest(checked_in_at, submitted_at),
            contacted_at=contacted.get(user_id), checkins=mine, programme=programme)
        rows.append(row)

    _camp_tasks_done(session, rows, members)
    for row in rows:
        row.reasons = reasons_for(row, now)
    return rows


def _camp_tasks_done(session: Session, rows: list[TraineeRow], members) -> None:
    """Set each row's `task_done` for her programme day: one grouped query for the whole cohort, the
    camp tasks of the days the cohort is on, each with who of the cohort has done it (NULL: nobody)."""
    days = {row.programme_day for row in rows if row.programme_day >= 1}
    if not days:
        return
    done: dict[int, set] = {}
    for task_day, user_id in session.execute(
            sa.select(CampTask.day, TaskCheckin.user_id).select_from(CampTask)
            .outerjoin(TaskCheckin, sa.and_(TaskCheckin.task_id == CampTask.id, TaskCheckin.user_id.in_(members)))
            .where(CampTask.day.in_(days), CampTask.is_archived.is_(False))
            .group_by(CampTask.day, TaskCheckin.user_id)):
        users = done.setdefault(task_day, set())
        if user_id is not None:
            users.add(user_id)
    for row in rows:
        if row.programme_day in done:
            row.task_done = row.user.id in done[row.programme_day]


def _local_time(user: User, now: datetime) -> time:
    return now.astimezone(calendar.zone(user.timezone)).time()


def reasons_for(row: TraineeRow, now: datetime) -> list[Reason]:
    """Why a mentor should look at her today, strongest first. "Contacted" clears them until
    she does something new, or for CONTACT_CLEARS_DAYS."""
    reasons = []
    behind = [m for m in row.milestones if m.status == "behind"]
    if behind:
        reasons.append(Reason("behind", 3, {"milestone": behind[0]}))
    if row.programme_day >= QUIET_CHECKIN_DAYS:
        since = (row.today - row.last_checkin).days if row.last_checkin else row.programme_day
        if since >= QUIET_CHECKIN_DAYS:
            reasons.append(Reason("quiet", 2, {"days": since}))
    idle = row.inactive_days(now)
    if row.programme_day > INACTIVE_DAYS and (idle is None or idle >= INACTIVE_DAYS):
        reasons.append(Reason("inactive", 2, {"days": idle}))
    for quiz in row.failed_twice:
        reasons.append(Reason("failed_quiz", 2, {"quiz": quiz}))
    if row.essays_waiting:
        reasons.append(Reason("essay_waiting", 1, {"count": row.essays_waiting}))
    if row.task_done is False and _local_time(row.user, now) >= TASK_DUE_AT:
        reasons.append(Reason("task_missing", 1, {"day": row.programme_day}))
    if reasons and row.contacted_at is not None:
        fresh = row.contacted_at > now - timedelta(days=CONTACT_CLEARS_DAYS)
        if fresh and (row.last_event_at is None or row.last_event_at <= row.contacted_at):
            return []
    return reasons


def needs_attention(rows: list[TraineeRow], now: datetime) -> list[TraineeRow]:
    """Trainees with a reason, the most urgent first."""
    flagged = [r for r in rows if r.reasons]
    return sorted(flagged, key=lambda r: (-r.attention, -(r.inactive_days(now) or 999), r.user.name))


def valid_until(row: TraineeRow, now: datetime) -> datetime:
    """The next moment her row changes with the clock alone (nothing she or a mentor does): her next midnight
    (a new programme day moves the milestones' lines, the quiet days, the day's task and the diagnosis' week),
    18:00 her time while today's task is not done, the next whole day without activity (from the third
    on: "inactive"), and the end of a mentor's "contacted". The rules above are the owners; keep this in step."""
    zone = calendar.zone(row.user.timezone)
    local = now.astimezone(zone)
    moments = [datetime.combine(local.date() + timedelta(days=1), time(0), zone)]
    if row.task_done is False:
        due = datetime.combine(local.date(), TASK_DUE_AT, zone)
        if due > now:
            moments.append(due)
    if row.last_active_at is not None:
        idle = (now - row.last_active_at).days
        moments.append(row.last_active_at + timedelta(days=max(INACTIVE_DAYS, idle + 1)))
    if row.contacted_at is not None and row.contacted_at + timedelta(days=CONTACT_CLEARS_DAYS) > now:
        moments.append(row.contacted_at + timedelta(days=CONTACT_CLEARS_DAYS))
    return min(moments).astimezone(timezone.utc)
