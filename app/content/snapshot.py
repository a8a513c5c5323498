"""The content as pages read it, built once per content version and shared by the requests of a process.

Courses, lessons (their rendered bodies included), quizzes (without their questions), the programme,
the milestones and the camp plan change only when `content sync` changes something; it then stores a
new version token (`ContentVersion`). A process keeps one `Snapshot` per database and checks the token
at most every `CONTENT_CHECK_SECONDS` (one tiny query), so a sync reaches every worker of every
machine within that time, and no request rebuilds the catalogue.

The snapshot holds plain read-only copies (`Row`), never ORM objects: they cannot lazy-load, expire
with a commit or be added to a session by mistake. Code that writes (a quiz attempt, a 打卡) loads the
row it writes against from the database as before.
"""
import secrets
import threading
import time
from dataclasses import dataclass
from functools import cached_property
from datetime import datetime
from weakref import WeakKeyDictionary

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from app.camp.models import CampTask
from app.checkins.models import Milestone, Programme
from app.content.models import ContentVersion
from app.database import Bilingual, read
from app.learning.models import Course, Lesson
from app.quizzes.models import Quiz

DEFAULT_CHECK_SECONDS = 2.0
_VERSION = sa.select(ContentVersion.version).where(ContentVersion.id == 1)


class Row(Bilingual):
    """A read-only copy of a content row's columns, plus the links given (`course`, `lessons`...)."""

    def __init__(self, row, skip: tuple[str, ...] = (), **links):
        self.__dict__.update({attr.key: getattr(row, attr.key) for attr in row.__mapper__.column_attrs
                              if attr.key not in skip}, **links)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {getattr(self, 'slug', None) or getattr(self, 'key', None) or self.id}>"


@dataclass(frozen=True)
class Snapshot:
    version: str
    courses: tuple[Row, ...]      # active, in order; each with .lessons (active, in order), each with .course
    quizzes: tuple[Row, ...]      # active, in order; with .course and .question_count, not the questions
    programme: Row | None
    milestones: tuple[Row, ...]   # active, in order
    camp_tasks: tuple[Row, ...]   # active, by day

    def course(self, slug: str) -> Row | None:
        return next((c for c in self.courses if c.slug == slug), None)

    def lesson(self, course_slug: str, lesson_slug: str) -> Row | None:
        course = self.course(course_slug)
        return next((lesson for lesson in course.lessons if lesson.slug == lesson_slug), None) if course else None

    def lesson_titles(self, keys, lang: str) -> dict[str, str]:
        """{"course/lesson": title} for the given keys, in her language."""
        return {key: lesson.text("title", lang) for key in keys if (lesson := self.lessons_by_key.get(key))}

    @cached_property
    def lessons_by_key(self) -> dict[str, Row]:
        """{"course/lesson": lesson}: home asks for a few on every request."""
        return {f"{c.slug}/{lesson.slug}": lesson for c in self.courses for lesson in c.lessons}


def build(session: Session, version: str) -> Snapshot:
    """Six queries, once per content version."""
    courses = []
    lessons: dict[int, list] = {}
    for lesson in session.scalars(sa.select(Lesson).join(Lesson.course).where(
            Lesson.is_archived.is_(False), Course.is_archived.is_(False)).order_by(Lesson.position)):
        lessons.setdefault(lesson.course_id, []).append(lesson)
    by_id = {}
    for course in session.scalars(sa.select(Course).where(Course.is_archived.is_(False)).order_by(Course.position)):
        copy = by_id[course.id] = Row(course)
        copy.lessons = tuple(Row(lesson, course=copy) for lesson in lessons.get(course.id, []))
        courses.append(copy)
    quizzes = tuple(Row(quiz, skip=("questions",), course=by_id.get(quiz.course_id),
                        question_count=quiz.question_count)
                    for quiz in session.scalars(sa.select(Quiz).where(Quiz.is_archived.is_(False))
                                                .order_by(Quiz.position)))
    programme = session.scalar(sa.select(Programme).where(Programme.key == "default"))
    milestones = session.scalars(sa.select(Milestone).where(Milestone.is_archived.is_(False))
                                 .order_by(Milestone.position))
    tasks = session.scalars(sa.select(CampTask).where(CampTask.is_archived.is_(False)).order_by(CampTask.day))
    return Snapshot(version, tuple(courses), quizzes, Row(programme) if programme else None,
                        tuple(Row(m) for m in milestones), tuple(Row(t) for t in tasks))


class _Holder:
    def __init__(self):
        self.snapshot: Snapshot | None = None
        self.checked_at = float("-inf")
        self.lock = threading.Lock()


_holders: "WeakKeyDictionary[sa.Engine, _Holder]" = WeakKeyDictionary()
_holders_lock = threading.Lock()


def _check_seconds() -> float:
    return current_app.config.get("CONTENT_CHECK_SECONDS", DEFAULT_CHECK_SECONDS) if has_app_context() \
        else DEFAULT_CHECK_SECONDS


def current(session: Session, *, fresh: bool = False) -> Snapshot:
    """This database's content snapshot, rebuilt when the stored version has changed. `fresh`: check the
    stored version now, not only every CONTENT_CHECK_SECONDS (for what is stored from the content, such
    as the mentor's table, that must never be built from an older version than the database's)."""
    engine = session.get_bind()
    holder = _holders.get(engine)
    if holder is None:
        with _holders_lock:
            holder = _holders.setdefault(engine, _Holder())
    now = time.monotonic()
    snapshot = holder.snapshot
    if snapshot is not None and not fresh and now - holder.checked_at < _check_seconds():
        return snapshot
    version = read(session, _VERSION).scalar() or ""
    if snapshot is None or snapshot.version != version:
        with holder.lock:
            snapshot = build(session, version)
            holder.snapshot = snapshot
    holder.checked_at = now
    return snapshot


def content_changed(session: Session, now: datetime) -> str:
    """Store a new content version (in the caller's transaction): every process rebuilds its snapshot."""
    version = secrets.token_hex(8)
    row = session.get(ContentVersion, 1)
    if row is None:
        session.add(ContentVersion(id=1, version=version, changed_at=now))
    else:
        row.version, row.changed_at = version, now
    session.flush()
    return version
