"""The mentor's view of a cohort: one row per trainee, and who needs attention today.

Everything is computed from one fetch per table for the whole cohort (a constant number of
queries whatever its size), then in Python; checks are in `tests/test_dashboard.py`.
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.accounts.models import Role, User
from app.checkins import service as checkins
from app.checkins.models import Checkin, Milestone
from app.cohorts.models import Cohort, MentorNote
from app.learning import service as learning
from app.learning.models import LessonProgress
from app.quizzes.models import Quiz, QuizAttempt

INACTIVE_DAYS = 3          # no activity for this long: "inactive"
QUIET_CHECKIN_DAYS = 3     # no check-in for this long (from day 3 on): "missed check-ins"
CONTACT_CLEARS_DAYS = 7    # "contacted" hides her for this long, unless she does something new
STATUS_ORDER = {"missed": 0, "behind": 1, "on_track": 2, "achieved": 3, None: 4}


@dataclass
class Reason:
    code: str        # behind, quiet, inactive, failed_quiz, essay_waiting
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
    weakest: str | None
    contacted_at: datetime | None
    reasons: list[Reason] = field(default_factory=list)

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


def cohort_trainees(session: Session, cohort: Cohort) -> list[User]:
    return list(session.scalars(sa.select(User).where(
        User.cohort_id == cohort.id, User.role == Role.TRAINEE, User.is_active.is_(True)).order_by(User.name)))


def _latest(*values):
    present = [v for v in values if v is not None]
    return max(present) if present else None


def cohort_rows(session: Session, cohort: Cohort, now: datetime) -> list[TraineeRow]:
    """Every active trainee of the cohort with her figures and reasons for attention."""
    trainees = cohort_trainees(session, cohort)
    members = sa.select(User.id).where(User.cohort_id == cohort.id, User.role == Role.TRAINEE)
    catalogue = learning.catalogue(session, None)
    lessons = [item.lesson for course in catalogue.courses for item in course.lessons]
    lesson_ids = {lesson.id for lesson in lessons}
    quizzes = [status.quiz for course in catalogue.courses for status in course.quizzes]
    programme = checkins.get_programme(session)
    milestones = session.scalars(sa.select(Milestone).where(Milestone.is_archived.is_(False))
                                 .order_by(Milestone.position)).all()

    done, lesson_activity = {}, {}
    for user_id, lesson_id, started_at, completed_at in session.execute(
            sa.select(LessonProgress.user_id, LessonProgress.lesson_id, LessonProgress.started_at,
                      LessonProgress.completed_at).where(LessonProgress.user_id.in_(members))):
        if completed_at is not None and lesson_id in lesson_ids:
            done.setdefault(user_id, set()).add(lesson_id)
        lesson_activity[user_id] = _latest(lesson_activity.get(user_id), completed_at, started_at)

    attempts: dict[int, list] = {}
    for row in session.execute(sa.select(QuizAttempt.user_id, QuizAttempt.quiz_id, QuizAttempt.state,
                                         QuizAttempt.percent, QuizAttempt.is_passed, QuizAttempt.started_at,
                                         QuizAttempt.submitted_at).where(QuizAttempt.user_id.in_(members))):
        attempts.setdefault(row.user_id, []).append(row)

    days: dict[int, list] = {}
    for row in session.execute(sa.select(Checkin.user_id, Checkin.day, Checkin.earnings_fen, Checkin.orders,
                                         Checkin.posts, Checkin.group_members, Checkin.active_members,
                                         Checkin.updated_at)
                               .where(Checkin.user_id.in_(members)).order_by(Checkin.day)):
        days.setdefault(row.user_id, []).append(row)

    contacted = dict(session.execute(
        sa.select(MentorNote.trainee_id, sa.func.max(MentorNote.created_at))
        .where(MentorNote.trainee_id.in_(members), MentorNote.kind == MentorNote.CONTACTED)
        .group_by(MentorNote.trainee_id)).all())

    rows = []
    for user in trainees:
        mine = days.get(user.id, [])
        tries = attempts.get(user.id, [])
        today, start = checkins.local_today(user, now), learning.programme_start(user)
        graded = [a for a in tries if a.state == QuizAttempt.GRADED]
        best = {}
        for a in graded:
            best[a.quiz_id] = max(best.get(a.quiz_id, 0), a.percent or 0)
        passed = {a.quiz_id for a in graded if a.is_passed}
        failed_counts: dict[int, int] = {}
        for a in graded:
            if not a.is_passed:
                failed_counts[a.quiz_id] = failed_counts.get(a.quiz_id, 0) + 1
        user_done = done.get(user.id, set())
        row = TraineeRow(
            user=user, today=today, programme_day=(today - start).days + 1,
            lessons_done=len(user_done), lessons_total=len(lessons),
            next_lesson=next((lesson for lesson in lessons if lesson.id not in user_done), None),
            quizzes_passed=len(passed & {q.id for q in quizzes}), quizzes_total=len(quizzes), best_percent=best,
            failed_twice=[q for q in quizzes if failed_counts.get(q.id, 0) >= 2 and q.id not in passed],
            essays_waiting=sum(a.state == QuizAttempt.AWAITING_REVIEW for a in tries),
            milestones=[checkins.milestone_status(m, mine, start, today, programme.behind_margin_percent)
                        for m in milestones],
            total_earnings_fen=sum(c.earnings_fen for c in mine),
            last_checkin=mine[-1].day if mine else None,
            last_active_at=_latest(user.last_login_at, lesson_activity.get(user.id),
                                   *(a.submitted_at or a.started_at for a in tries), *(c.updated_at for c in mine)),
            weakest=(d.weakest.name if (d := checkins.diagnose(mine, today, programme)).weakest else None),
            contacted_at=contacted.get(user.id))
        row.reasons = reasons_for(row, mine, tries, now)
        rows.append(row)
    return rows


def reasons_for(row: TraineeRow, mine: list, tries: list, now: datetime) -> list[Reason]:
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
    if reasons and row.contacted_at is not None:
        latest_event = _latest(*(c.updated_at for c in mine), *(a.submitted_at for a in tries))
        fresh = row.contacted_at > now - timedelta(days=CONTACT_CLEARS_DAYS)
        if fresh and (latest_event is None or latest_event <= row.contacted_at):
            return []
    return reasons


def needs_attention(rows: list[TraineeRow], now: datetime) -> list[TraineeRow]:
    """Trainees with a reason, the most urgent first."""
    flagged = [r for r in rows if r.reasons]
    return sorted(flagged, key=lambda r: (-r.attention, -(r.inactive_days(now) or 999), r.user.name))


@dataclass
class DashboardQuery:
    status: str = ""
    inactive: int | None = None
    stuck: str = ""          # lesson id she is on
    q: str = ""
    sort: str = "attention"
    page: int = 1
    per_page: int = 50


SORTS = {
    "attention": lambda r: (-r.attention, r.user.name),
    "name": lambda r: r.user.name,
    "status": lambda r: (STATUS_ORDER.get(r.status, 4), r.user.name),
    "earnings": lambda r: (-r.total_earnings_fen, r.user.name),
    "lessons": lambda r: (-r.lessons_done, r.user.name),
    # The longest quiet first: never active, then the oldest activity.
    "last_active": lambda r: (r.last_active_at is not None, r.last_active_at.timestamp() if r.last_active_at else 0),
}


def filter_rows(rows: list[TraineeRow], query: DashboardQuery, now: datetime) -> list[TraineeRow]:
    out = rows
    if query.status:
        out = [r for r in out if r.status == query.status]
    if query.inactive:
        out = [r for r in out if (r.inactive_days(now) is None or r.inactive_days(now) >= query.inactive)]
    if query.stuck:
        out = [r for r in out if r.next_lesson is not None and str(r.next_lesson.id) == query.stuck]
    if query.q:
        needle = query.q.strip().lower()
        out = [r for r in out if needle in r.user.name.lower() or needle in (r.user.mobile or "")
               or needle in (r.user.email or "")]
    return sorted(out, key=SORTS.get(query.sort, SORTS["attention"]))
