"""A cohort's numbers, for its mentors and for admins. Plain functions over a session, `now` passed in.

Every figure takes a constant number of queries whatever the cohort's size: grouped counts in
SQL, or one fetch of the few columns needed for all the cohort's trainees at once, then Python.

Who counts: the cohort's active trainees. Each one's programme day is counted as on her own
progress page: day 1 is the cohort's start, or the day she registered if that was later, in her
own time zone. A day "is over" for her once her local date is past it.
"""
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.checkins.models import Checkin, Milestone
from app.checkins.service import ACHIEVED, BEHIND, ON_TRACK, diagnose, get_programme, milestone_status
from app.cohorts.models import Cohort
from app.learning.models import Course, Lesson, LessonProgress
from app.quizzes.models import Quiz, QuizAttempt
from app.core import calendar
from app.core.members import trainee_count
from app.core.members import active_trainee_ids, active_trainees_of

DAYS = 30                   # the median line covers days 1..DAYS
QUIET_DAYS = 3              # no check-in in her last QUIET_DAYS days (today included): quiet
FACTORS = ("traffic", "circulation", "monetization")
NO_WEAKEST, NO_DATA = "none", "no_data"
WEAKEST_KEYS = (*FACTORS, NO_WEAKEST, NO_DATA)


def rate(part: int, whole: int) -> int | None:
    """A whole percentage, or None when there is nobody to count."""
    return round(100 * part / whole) if whole else None


def median(values: list[int]) -> int | None:
    """The median of amounts in fen, rounded half up to the fen; None for no values."""
    if not values:
        return None
    ordered, middle = sorted(values), len(values) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle] + 1) // 2


# --- the cohort's trainees and their check-ins: two queries --------------------------------------

@dataclass
class Trainee:
    id: int
    name: str
    start: date              # her day 1
    today: date              # her local date now
    checkins: list = field(default_factory=list)  # rows with day, earnings_fen, orders, members..., by day

    @property
    def day(self) -> int:
        """Her programme day today (0 or less before she starts)."""
        return calendar.day_number(self.start, self.today)

    def is_over(self, day: int) -> bool:
        return self.day > day

    def earnings_through(self, day: int) -> int:
        last = self.start + timedelta(days=day - 1)
        return sum(c.earnings_fen for c in self.checkins if c.day <= last)


def _trainee_ids(cohort: Cohort):
    return active_trainee_ids(cohort.id).scalar_subquery()


def trainees(session: Session, cohort: Cohort, now: datetime) -> list[Trainee]:
    """The cohort's active trainees, each with her check-ins: two queries."""
    people = {}
    for user_id, name, created_at, tz in session.execute(
            sa.select(User.id, User.name, User.created_at, User.timezone)
            .where(*active_trainees_of(cohort.id)).order_by(User.id)):
        start = calendar.start_date(created_at, tz, cohort.start_date)
        people[user_id] = Trainee(user_id, name, start, calendar.today_in(tz, now))
    if people:
        rows = session.execute(
            sa.select(Checkin.user_id, Checkin.day, Checkin.earnings_fen, Checkin.orders, Checkin.group_members,
                      Checkin.active_members, Checkin.posts)
            .where(Checkin.user_id.in_(_trainee_ids(cohort))).order_by(Checkin.user_id, Checkin.day))
        for row in rows:
            people[row.user_id].checkins.append(row)
    return list(people.values())


# --- milestones ------------------------------------------------------------------------------------

@dataclass
class MilestoneFigure:
    milestone: Milestone
    eligible: int = 0        # trainees whose due day is over
    reached: int = 0         # of those, how many reached the target by their due day
    reached_early: int = 0   # due day not over yet, target already reached
    on_track: int = 0        # due day not over yet, on track
    behind: int = 0          # due day not over yet, behind

    @property
    def rate(self) -> int | None:
        return rate(self.reached, self.eligible)

    @property
    def not_over(self) -> int:
        return self.reached_early + self.on_track + self.behind


def active_milestones(session: Session) -> list[Milestone]:
    return list(session.scalars(sa.select(Milestone).where(Milestone.is_archived.is_(False))
                                .order_by(Milestone.position)))


def milestone_figures(session: Session, cohort: Cohort, now: datetime,
                      people: list[Trainee] | None = None) -> list[MilestoneFigure]:
    """Per milestone (¥100 by day 7, ¥1,000 by day 30...): how many reached it by their due day,
    among the trainees whose due day is over; and where the others stand. Two queries (+2 for people)."""
    people = trainees(session, cohort, now) if people is None else people
    margin = get_programme(session).behind_margin_percent
    figures = []
    for milestone in active_milestones(session):
        figure = MilestoneFigure(milestone)
        for person in people:
            status = milestone_status(milestone, person.checkins, person.start, person.today, margin).status
            if person.is_over(milestone.by_day):
                figure.eligible += 1
                figure.reached += status == ACHIEVED
            elif status == ACHIEVED:
                figure.reached_early += 1
            elif status == BEHIND:
                figure.behind += 1
            elif status == ON_TRACK:
                figure.on_track += 1
        figures.append(figure)
    return figures


# --- median cumulative earnings by programme day ----------------------------------------------------

@dataclass
class DayMedian:
    day: int
    trainees: int            # trainees whose day `day` is over
    median_fen: int | None   # the median of their earnings from day 1 to that day


def median_earnings(session: Session, cohort: Cohort, now: datetime, people: list[Trainee] | None = None,
                    days: int = DAYS) -> list[DayMedian]:
    """For days 1..days: the median cumulative earnings of the trainees whose that day is over."""
    people = trainees(session, cohort, now) if people is None else people
    totals: dict[int, list[int]] = defaultdict(list)
    for person in people:
        earned = [0] * (days + 1)  # by programme day; a day before her start counts on day 1
        for c in person.checkins:
            day = max(1, (c.day - person.start).days + 1)
            if day <= days:
                earned[day] += c.earnings_fen
        total = 0
        for day in range(1, min(days, person.day - 1) + 1):
            total += earned[day]
            totals[day].append(total)
    return [DayMedian(day, len(totals[day]), median(totals[day])) for day in range(1, days + 1)]


# --- lessons -----------------------------------------------------------------------------------------

@dataclass
class LessonFigure:
    lesson: Lesson
    course: Course
    completed: int           # trainees who completed it
    trainees: int            # trainees in the cohort

    @property
    def rate(self) -> int | None:
        return rate(self.completed, self.trainees)


def lesson_funnel(session: Session, cohort: Cohort, trainee_total: int | None = None) -> list[LessonFigure]:
    """Per active lesson, in catalogue order: how many of the cohort's trainees completed it. Two queries
    (+1 to count the trainees when not given)."""
    total = trainee_count(session, cohort.id) if trainee_total is None else trainee_total
    lessons = session.execute(
        sa.select(Lesson, Course).join(Lesson.course)
        .where(Course.is_archived.is_(False), Lesson.is_archived.is_(False))
        .order_by(Course.position, Course.id, Lesson.position, Lesson.id)).all()
    done = dict(session.execute(
        sa.select(LessonProgress.lesson_id, sa.func.count(LessonProgress.user_id))
        .where(LessonProgress.completed_at.is_not(None), LessonProgress.user_id.in_(_trainee_ids(cohort)))
        .group_by(LessonProgress.lesson_id)).all())
    return [LessonFigure(lesson, course, done.get(lesson.id, 0), total) for lesson, course in lessons]


# --- quizzes -----------------------------------------------------------------------------------------

@dataclass
class QuizFigure:
    quiz: Quiz
    attempted: int = 0           # trainees who submitted at least one attempt
    passed: int = 0              # trainees who passed it
    awaiting_review: int = 0     # trainees not passed, with an essay waiting for a mentor
    failed_twice: int = 0        # trainees not passed, who failed it two times or more

    @property
    def rate(self) -> int | None:
        return rate(self.passed, self.attempted)


def quiz_figures(session: Session, cohort: Cohort) -> list[QuizFigure]:
    """Per active quiz, in catalogue order: attempted, passed, rate... Two queries."""
    quizzes = session.scalars(
        sa.select(Quiz).join(Quiz.course)
        .where(Quiz.is_archived.is_(False), Course.is_archived.is_(False))
        .order_by(Course.position, Course.id, Quiz.position, Quiz.id)).all()

    def flag(*conditions):
        return sa.case((sa.and_(*conditions), 1), else_=0)

    graded = QuizAttempt.state == QuizAttempt.GRADED
    per_trainee = (
        sa.select(QuizAttempt.quiz_id.label("quiz_id"),
                  sa.func.max(flag(QuizAttempt.state != QuizAttempt.IN_PROGRESS)).label("submitted"),
                  sa.func.max(flag(graded, QuizAttempt.is_passed.is_(True))).label("passed"),
                  sa.func.max(flag(QuizAttempt.state == QuizAttempt.AWAITING_REVIEW)).label("awaiting"),
                  sa.func.sum(flag(graded, QuizAttempt.is_passed.is_(False))).label("failures"))
        .where(QuizAttempt.user_id.in_(_trainee_ids(cohort)))
        .group_by(QuizAttempt.quiz_id, QuizAttempt.user_id).subquery())
    t = per_trainee.c
    rows = session.execute(
        sa.select(t.quiz_id, sa.func.sum(t.submitted), sa.func.sum(t.passed),
                  sa.func.sum(flag(t.awaiting == 1, t.passed == 0)),
                  sa.func.sum(flag(t.failures >= 2, t.passed == 0)))
        .group_by(t.quiz_id))
    counts = {quiz_id: [int(v or 0) for v in values] for quiz_id, *values in rows}
    return [QuizFigure(quiz, *counts.get(quiz.id, [0, 0, 0, 0])) for quiz in quizzes]


# --- the weakest factor of the formula ----------------------------------------------------------------

def weakest_factors(session: Session, cohort: Cohort, now: datetime,
                    people: list[Trainee] | None = None) -> dict[str, int]:
    """How many trainees have each factor as the weakest this week (as on her progress page):
    traffic, circulation, monetization; "none" when all are at or above their reference;
    "no_data" when her last seven days say nothing about them. One query (+2 for people)."""
    people = trainees(session, cohort, now) if people is None else people
    programme = get_programme(session)
    counts = dict.fromkeys(WEAKEST_KEYS, 0)
    for person in people:
        diagnosis = diagnose(person.checkins, person.today, programme, person.day)
        if not diagnosis.has_data:
            counts[NO_DATA] += 1
        else:
            counts[diagnosis.weakest.name if diagnosis.weakest else NO_WEAKEST] += 1
    return counts


# --- quiet trainees -----------------------------------------------------------------------------------

def quiet_trainees(people: list[Trainee], days: int = QUIET_DAYS) -> list[Trainee]:
    """Trainees past their first `days` days with no check-in in their last `days` days, by name."""
    quiet = [p for p in people if p.day > days
             and not any(c.day > p.today - timedelta(days=days) for c in p.checkins)]
    return sorted(quiet, key=lambda p: (p.name, p.id))


# --- everything at once --------------------------------------------------------------------------------

@dataclass
class CohortNumbers:
    cohort: Cohort
    trainees: int
    milestones: list[MilestoneFigure]
    medians: list[DayMedian]
    lessons: list[LessonFigure]
    quizzes: list[QuizFigure]
    weakest: dict[str, int]
    quiet: list[Trainee]

    def median_on(self, day: int) -> DayMedian | None:
        return next((m for m in self.medians if m.day == day), None)

    @property
    def earnings_milestones(self) -> list[MilestoneFigure]:
        return [f for f in self.milestones if f.milestone.metric == "earnings"]

    @property
    def lessons_per_trainee(self) -> float | None:
        """Lessons completed per trainee, on average."""
        return sum(f.completed for f in self.lessons) / self.trainees if self.trainees else None

    @property
    def quiz_attempted(self) -> int:
        return sum(f.attempted for f in self.quizzes)

    @property
    def quiz_passed(self) -> int:
        return sum(f.passed for f in self.quizzes)

    @property
    def quiz_rate(self) -> int | None:
        """Passes per trainee who submitted, over every quiz."""
        return rate(self.quiz_passed, self.quiz_attempted)

    @property
    def awaiting_review(self) -> int:
        return sum(f.awaiting_review for f in self.quizzes)

    @property
    def most_common_weakness(self) -> str | None:
        """The factor most often the weakest (ties: in formula order), None if no factor is anyone's."""
        best = max(FACTORS, key=lambda name: self.weakest[name])
        return best if self.weakest[best] else None


def cohort_numbers(session: Session, cohort: Cohort, now: datetime) -> CohortNumbers:
    """Every figure of the numbers page: nine queries, whatever the cohort's size."""
    people = trainees(session, cohort, now)
    return CohortNumbers(
        cohort=cohort, trainees=len(people),
        milestones=milestone_figures(session, cohort, now, people),
        medians=median_earnings(session, cohort, now, people),
        lessons=lesson_funnel(session, cohort, len(people)),
        quizzes=quiz_figures(session, cohort),
        weakest=weakest_factors(session, cohort, now, people),
        quiet=quiet_trainees(people))
