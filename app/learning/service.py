"""Course catalogue and lesson progress, as plain functions over a session."""
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.content import snapshot
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
    def total(self) -> int:
        return len(self.lessons) + len(self.quizzes)

    @property
    def done(self) -> int:
        return sum(item.is_done for item in self.lessons) + sum(q.is_passed for q in self.quizzes)

    @property
    def is_complete(self) -> bool:
        return self.total > 0 and self.done == self.total

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0

    @property
    def next_lesson(self) -> Lesson | None:
        return next((item.lesson for item in self.lessons if not item.is_done), None)


@dataclass
class Catalogue:
    courses: list[CourseItem]

    @property
    def total(self) -> int:
        return sum(c.total for c in self.courses)

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
            open_quiz = next((q for q in item.quizzes if not q.is_passed and not q.is_awaiting_review
                              and q.attempts_left != 0), None)
            if open_quiz:
                return open_quiz
        return None

    def course(self, slug: str) -> CourseItem | None:
        return next((c for c in self.courses if c.course.slug == slug), None)


def completed_lesson_ids(session: Session, user_id: int) -> set[int]:
    return set(session.scalars(sa.select(LessonProgress.lesson_id).where(
        LessonProgress.user_id == user_id, LessonProgress.completed_at.is_not(None))))


def catalogue(session: Session, user_id: int | None) -> Catalogue:
    """Active courses, lessons and quizzes with the user's progress: the content from the shared
    snapshot (built once per content version), her progress in two queries."""
    content = snapshot.current(session)
    done = completed_lesson_ids(session, user_id) if user_id else set()
    quizzes = list(content.quizzes)
    status = quiz_service.statuses(session, user_id, quizzes) if user_id else {
        q.id: QuizStatus(q) for q in quizzes}
    return Catalogue([
        CourseItem(course, [LessonItem(lesson, lesson.id in done) for lesson in course.lessons],
                   [status[q.id] for q in quizzes if q.course_id == course.id])
        for course in content.courses])


def is_lesson_done(session: Session, user_id: int, lesson_id: int) -> bool:
    return session.scalar(sa.select(LessonProgress.completed_at.is_not(None)).where(
        LessonProgress.user_id == user_id, LessonProgress.lesson_id == lesson_id)) or False


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
