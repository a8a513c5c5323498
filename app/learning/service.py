"""Course catalogue and lesson progress, as plain functions over a session."""
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.content import snapshot
from app.database import read
from app.learning.models import Course, Lesson, LessonProgress
from app.quizzes import service as quiz_service
from app.quizzes.service import QuizStatus


@dataclass
class LessonItem:
    lesson: Lesson
    is_done: bool


@dataclass
class CourseItem:
    """A course with her progress: complete when every lesson is done and every quiz passed."""

    course: Course
    lessons: list[LessonItem] = field(default_factory=list)
    quizzes: list[QuizStatus] = field(default_factory=list)

    @property
    def lessons_total(self) -> int:
        return len(self.lessons)

    @property
    def lessons_done(self) -> int:
        return sum(item.is_done for item in self.lessons)

    @property
    def total(self) -> int:
        """Steps to complete the course: its lessons and its quizzes (a label saying "lessons" wants lessons_total)."""
        return self.lessons_total + len(self.quizzes)

    @property
    def done(self) -> int:
        return self.lessons_done + sum(q.is_passed for q in self.quizzes)

    @property
    def is_complete(self) -> bool:
        return self.total > 0 and self.done == self.total

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0

    @property
    def next_lesson(self) -> Lesson | None:
        return next((item.lesson for item in self.lessons if not item.is_done), None)

    @property
    def open_quiz(self) -> QuizStatus | None:
        """The first quiz she can still pass (not passed, not waiting for a mentor, tries left)."""
        return next((q for q in self.quizzes if not q.is_passed and not q.is_awaiting_review
                     and q.attempts_left != 0), None)


@dataclass
class Catalogue:
    courses: list[CourseItem]

    @property
    def total(self) -> int:
        return sum(c.total for c in self.courses)

    @property
    def lessons_total(self) -> int:
        return sum(c.lessons_total for c in self.courses)

    @property
    def lessons_done(self) -> int:
        return sum(c.lessons_done for c in self.courses)

    @property
    def done(self) -> int:
        return sum(c.done for c in self.courses)

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0

    @property
    def next_lesson(self) -> Lesson | None:
        """The first lesson not done, in catalogue order."""
        return next((c.next_lesson for c in self.courses if c.next_lesson), None)

    @property
    def next_step(self) -> Lesson | QuizStatus | None:
        """Course by course: the first lesson not done, else the first quiz she can still pass."""
        for item in self.courses:
            if item.next_lesson:
                return item.next_lesson
            if item.open_quiz:
                return item.open_quiz
        return None

    def step_after(self, item: CourseItem) -> Lesson | QuizStatus | None:
        """Where the end of a course's lessons leads: its own quiz still to pass, else the next step
        in the courses after it (after the orientation, the first course)."""
        if item.open_quiz:
            return item.open_quiz
        return Catalogue(self.courses[self.courses.index(item) + 1:]).next_step

    def course(self, slug: str) -> CourseItem | None:
        return next((c for c in self.courses if c.course.slug == slug), None)


# Her progress, asked by the lesson page, the course pages and the home on every request: built once
# with bind parameters, so SQLAlchemy reuses the compiled statements instead of building them and their
# cache keys again; run on the session's connection (database.read: rows of values, no ORM objects).
_COMPLETED_LESSON_IDS = sa.select(LessonProgress.lesson_id).where(
    LessonProgress.user_id == sa.bindparam("user_id"), LessonProgress.completed_at.is_not(None))
_IS_LESSON_DONE = sa.select(LessonProgress.completed_at.is_not(None)).where(
    LessonProgress.user_id == sa.bindparam("user_id"), LessonProgress.lesson_id == sa.bindparam("lesson_id"))
# The lessons she has done and her quiz attempts, joined by UNION ALL: a done lesson's row is `kind` 0
# with no attempt; her attempts follow (kind 1), in order. Parameters: user_id, quiz_ids.
_NO_ATTEMPT = [sa.cast(sa.null(), type_).label(name) for name, type_ in (
    ("id", sa.Integer), ("state", sa.String), ("percent", sa.Float), ("is_passed", sa.Boolean), ("number", sa.Integer))]
_HER_PROGRESS = sa.union_all(
    _COMPLETED_LESSON_IDS.add_columns(*_NO_ATTEMPT, sa.literal(0).label("kind")),
    quiz_service.ATTEMPT_ROWS.order_by(None).add_columns(sa.literal(1).label("kind")),
).order_by(sa.literal_column("kind"), sa.literal_column("number"))


def completed_lesson_ids(session: Session, user_id: int) -> set[int]:
    return set(read(session, _COMPLETED_LESSON_IDS, {"user_id": user_id}).scalars())


def her_progress(session: Session, user_id: int, quizzes) -> tuple[set[int], dict[int, QuizStatus]]:
    """The lessons she has done and her status in each quiz, in one query: the two reads joined by
    UNION ALL (a done lesson's row is `kind` 0 with no attempt; her attempts follow, in order)."""
    if not quizzes:
        return completed_lesson_ids(session, user_id), {}
    rows = read(session, _HER_PROGRESS, {"user_id": user_id, "quiz_ids": [quiz.id for quiz in quizzes]}).all()
    return ({row[0] for row in rows if row.kind == 0},
            quiz_service.statuses_from(quizzes, (row[:6] for row in rows if row.kind == 1)))


def catalogue(session: Session, user_id: int | None) -> Catalogue:
    """Active courses, lessons and quizzes with the user's progress: the content from the shared
    snapshot (built once per content version), her progress in one query."""
    content = snapshot.current(session)
    quizzes = list(content.quizzes)
    done, status = her_progress(session, user_id, quizzes) if user_id else (set(), {
        q.id: QuizStatus(q) for q in quizzes})
    return Catalogue([
        CourseItem(course, [LessonItem(lesson, lesson.id in done) for lesson in course.lessons],
                   [status[q.id] for q in quizzes if q.course_id == course.id])
        for course in content.courses])


def is_lesson_done(session: Session, user_id: int, lesson_id: int) -> bool:
    return read(session, _IS_LESSON_DONE, {"user_id": user_id, "lesson_id": lesson_id}).scalar() or False


def find_lesson(session: Session, course_slug: str, lesson_slug: str) -> Lesson | None:
    return session.scalar(
        sa.select(Lesson).join(Lesson.course)
        .where(Course.slug == course_slug, Lesson.slug == lesson_slug,
               Course.is_archived.is_(False), Lesson.is_archived.is_(False))
        .options(so.contains_eager(Lesson.course)))


def _progress(session: Session, user: User, lesson: Lesson, now: datetime) -> LessonProgress:
    progress = session.scalar(sa.select(LessonProgress).where(
        LessonProgress.user_id == user.id, LessonProgress.lesson_id == lesson.id))
    if progress is None:
        progress = LessonProgress(user_id=user.id, lesson_id=lesson.id, started_at=now)
        session.add(progress)
    return progress


def mark_lesson_done(session: Session, user: User, lesson: Lesson, now: datetime) -> LessonProgress:
    """Record the lesson as done; doing it again keeps the first completion time."""
    progress = _progress(session, user, lesson, now)
    if progress.completed_at is None:
        progress.completed_at = now
    session.flush()
    return progress


def mark_lesson_not_done(session: Session, user: User, lesson: Lesson, now: datetime) -> None:
    _progress(session, user, lesson, now).completed_at = None
    session.flush()


def neighbours(lessons, lesson) -> tuple:
    """The lessons before and after `lesson` in `lessons` (None at either end)."""
    ids = [candidate.id for candidate in lessons]
    index = ids.index(lesson.id)
    return (lessons[index - 1] if index > 0 else None,
            lessons[index + 1] if index + 1 < len(lessons) else None)


def lesson_titles(session: Session, keys: list[str], lang: str) -> dict[str, str]:
    """{"course/lesson": title} for the given keys, from the content snapshot."""
    return snapshot.current(session).lesson_titles(keys, lang) if keys else {}


def completion_times(session: Session, user_id: int) -> list[tuple[Lesson, datetime]]:
    """The lessons she has done, with when: one query."""
    return list(session.execute(
        sa.select(Lesson, LessonProgress.completed_at).join(LessonProgress, LessonProgress.lesson_id == Lesson.id)
        .where(LessonProgress.user_id == user_id, LessonProgress.completed_at.is_not(None))))
