"""Load checked content into the database: upsert by slug, archive what disappeared."""
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.camp.models import CampTask
from app.content.camp import CampTaskSpec
from app.content.loader import CourseSpec, LessonSpec
from app.content.snapshot import content_changed
from app.content.quizzes import QuizSpec
from app.learning.models import Course, Lesson
from app.checkins.models import Milestone, Programme
from app.quizzes.models import Quiz


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.archived)

    def __str__(self) -> str:
        return (f"{len(self.created)} created, {len(self.updated)} updated, "
                f"{len(self.archived)} archived")


def _course_fields(spec: CourseSpec) -> dict:
    return dict(position=spec.order, title_zh=spec.title["zh"], title_en=spec.title["en"],
                summary_zh=spec.summary["zh"], summary_en=spec.summary["en"],
                content_hash=spec.content_hash, is_archived=False)


def _lesson_fields(spec: LessonSpec) -> dict:
    return dict(position=spec.order, minutes=spec.minutes,
                title_zh=spec.title["zh"], title_en=spec.title["en"],
                summary_zh=spec.summary["zh"], summary_en=spec.summary["en"],
                objectives_zh=spec.objectives["zh"], objectives_en=spec.objectives["en"],
                body_html_zh=spec.body_html["zh"], body_html_en=spec.body_html["en"],
                source_path=spec.source_path, content_hash=spec.content_hash, is_archived=False)


def _upsert(session: Session, row, model, fields: dict, label: str, now: datetime, report: SyncReport, **key):
    """Create the row, or update it when its content hash (or archived flag) changed."""
    if row is None:
        row = model(**key, **fields, updated_at=now)
        session.add(row)
        report.created.append(label)
    elif row.content_hash != fields["content_hash"] or row.is_archived:
        for name, value in fields.items():
            setattr(row, name, value)
        row.updated_at = now
        report.updated.append(label)
    return row


def _version(session: Session, report: SyncReport, now: datetime) -> None:
    """A sync that changed anything gives the content a new version: every web worker rebuilds its snapshot."""
    if report.changed:
        content_changed(session, now)


def sync_courses(session: Session, specs: list[CourseSpec], now: datetime) -> SyncReport:
    """Make the database match the files. Learner progress is never touched."""
    report = SyncReport()
    courses = {c.slug: c for c in session.scalars(sa.select(Course))}
    lessons = {(l.course_id, l.slug): l for l in session.scalars(sa.select(Lesson))}
    seen_courses, seen_lessons = set(), set()

    for spec in specs:
        course = _upsert(session, courses.get(spec.slug), Course, _course_fields(spec),
                         spec.slug, now, report, slug=spec.slug)
        session.flush()  # a new course needs its id before its lessons
        seen_courses.add(course.id)
        for lesson_spec in spec.lessons:
            lesson = _upsert(session, lessons.get((course.id, lesson_spec.slug)), Lesson,
                             _lesson_fields(lesson_spec), f"{spec.slug}/{lesson_spec.slug}", now, report,
                             slug=lesson_spec.slug, course_id=course.id)
            session.flush()
            seen_lessons.add(lesson.id)

    _archive((c for c in courses.values() if c.id not in seen_courses), now, report, lambda c: c.slug)
    _archive((lesson for lesson in lessons.values() if lesson.id not in seen_lessons), now, report,
             lambda lesson: lesson.source_path or lesson.slug)
    session.flush()
    _version(session, report, now)
    return report


def _archive(gone, now: datetime, report: SyncReport, name) -> None:
    """Rows whose file went away: archived once (never deleted: progress and attempts point at them)."""
    for row in gone:
        if not row.is_archived:
            row.is_archived, row.updated_at = True, now
            report.archived.append(name(row))


def _quiz_fields(spec: QuizSpec, course_id: int, lesson_id: int | None) -> dict:
    return dict(course_id=course_id, lesson_id=lesson_id, position=spec.position,
                title_zh=spec.title["zh"], title_en=spec.title["en"],
                description_zh=spec.description["zh"], description_en=spec.description["en"],
                feedback_zh=spec.feedback["zh"], feedback_en=spec.feedback["en"],
                questions=spec.questions, source_path=spec.source_path, content_hash=spec.content_hash,
                is_archived=False, **spec.settings)


def sync_quizzes(session: Session, specs: list[QuizSpec], now: datetime, report: SyncReport) -> None:
    """Quizzes after their courses; attempts keep their own copy of the questions they drew."""
    courses = {c.slug: c for c in session.scalars(sa.select(Course))}
    lessons = {(l.course_id, l.slug): l.id for l in session.scalars(sa.select(Lesson))}
    quizzes = {q.slug: q for q in session.scalars(sa.select(Quiz))}
    for spec in specs:
        course = courses[spec.course]
        fields = _quiz_fields(spec, course.id, lessons.get((course.id, spec.lesson)))
        _upsert(session, quizzes.get(spec.slug), Quiz, fields, f"quiz {spec.slug}", now, report, slug=spec.slug)
    seen = {spec.slug for spec in specs}
    _archive((q for q in quizzes.values() if q.slug not in seen), now, report, lambda q: q.source_path or q.slug)
    session.flush()
    _version(session, report, now)


def sync_milestones(session: Session, programme, milestones, now: datetime, report: SyncReport) -> None:
    if programme is not None:
        fields = dict(checkin_days=programme.checkin_days, asks=programme.asks,
                      behind_margin_percent=programme.behind_margin_percent, correction_days=programme.correction_days,
                      diagnosis=programme.diagnosis, reminders=programme.reminders or {},
                      camp=programme.camp.settings if programme.camp else {},
                      source_path=programme.source_path,
                      content_hash=programme.content_hash, is_archived=False)
        row = session.scalar(sa.select(Programme).where(Programme.key == "default"))
        _upsert(session, row, Programme, fields, "programme", now, report, key="default")
    rows = {m.key: m for m in session.scalars(sa.select(Milestone))}
    for spec in milestones:
        fields = dict(position=spec.order, title_zh=spec.title["zh"], title_en=spec.title["en"], metric=spec.metric,
                      target=spec.target, by_day=spec.by_day, source_path=spec.source_path,
                      content_hash=spec.content_hash, is_archived=False)
        _upsert(session, rows.get(spec.key), Milestone, fields, f"milestone {spec.key}", now, report, key=spec.key)
    kept = {m.key for m in milestones}
    _archive((r for r in rows.values() if r.key not in kept), now, report, lambda r: r.source_path or r.key)
    sync_camp_tasks(session, programme.camp.tasks if programme and programme.camp else [], now, report)
    session.flush()
    _version(session, report, now)


def _camp_task_fields(spec: CampTaskSpec) -> dict:
    label = spec.number_label or {"zh": "", "en": ""}
    return dict(day=spec.day, title_zh=spec.title["zh"], title_en=spec.title["en"],
                body_html_zh=spec.body_html["zh"], body_html_en=spec.body_html["en"], lesson_key=spec.lesson,
                proof=spec.proof, number_label_zh=label["zh"], number_label_en=label["en"],
                source_path=spec.source_path, content_hash=spec.content_hash, is_archived=False)


def sync_camp_tasks(session: Session, specs: list[CampTaskSpec], now: datetime, report: SyncReport) -> None:
    """Upsert the camp's tasks by key; a task gone from camp.yml is archived, her 打卡 on it kept."""
    rows = {t.key: t for t in session.scalars(sa.select(CampTask))}
    seen = {spec.key for spec in specs}
    _archive((r for r in rows.values() if r.key not in seen), now, report, lambda r: f"camp task {r.key}")
    for spec in specs:
        _upsert(session, rows.get(spec.key), CampTask, _camp_task_fields(spec), f"camp task {spec.key}", now,
                report, key=spec.key)
    session.flush()


def sync_content(session: Session, content, now: datetime) -> SyncReport:
    report = sync_courses(session, content.courses, now)
    sync_quizzes(session, content.quizzes, now, report)
    sync_milestones(session, content.programme, content.milestones, now, report)
    return report
