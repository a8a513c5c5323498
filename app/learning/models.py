from datetime import datetime
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.database import Bilingual, Synced, SyncedFromFile, UTCDateTime, utcnow
from app.extensions import db


class Course(Bilingual, Synced, db.Model):
    """A course as last synced from courses/<slug>/; archived when its folder goes away."""

    __tablename__ = "courses"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    slug: so.Mapped[str] = so.mapped_column(sa.String(80), unique=True)
    position: so.Mapped[int] = so.mapped_column(default=0)
    title_zh: so.Mapped[str] = so.mapped_column(sa.String(200))
    title_en: so.Mapped[str] = so.mapped_column(sa.String(200))
    summary_zh: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    summary_en: so.Mapped[str] = so.mapped_column(sa.Text, default="")

    lessons: so.Mapped[list["Lesson"]] = so.relationship(
        back_populates="course", order_by="Lesson.position")


class Lesson(Bilingual, SyncedFromFile, db.Model):
    __tablename__ = "lessons"
    __table_args__ = (sa.UniqueConstraint("course_id", "slug", name="uq_lessons_course_slug"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    course_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("courses.id"), index=True)
    slug: so.Mapped[str] = so.mapped_column(sa.String(80))
    position: so.Mapped[int] = so.mapped_column(default=0)
    minutes: so.Mapped[int] = so.mapped_column(default=5)
    title_zh: so.Mapped[str] = so.mapped_column(sa.String(200))
    title_en: so.Mapped[str] = so.mapped_column(sa.String(200))
    summary_zh: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    summary_en: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    objectives_zh: so.Mapped[list] = so.mapped_column(sa.JSON, default=list)
    objectives_en: so.Mapped[list] = so.mapped_column(sa.JSON, default=list)
    # Markdown is rendered and sanitised once, at sync, and served from here.
    body_html_zh: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    body_html_en: so.Mapped[str] = so.mapped_column(sa.Text, default="")

    course: so.Mapped[Course] = so.relationship(back_populates="lessons")


class LessonProgress(db.Model):
    """A trainee's progress on one lesson; kept even when the lesson is archived."""

    __tablename__ = "lesson_progress"
    __table_args__ = (sa.UniqueConstraint("user_id", "lesson_id", name="uq_lesson_progress_user_lesson"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    lesson_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("lessons.id"), index=True)
    started_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    completed_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
