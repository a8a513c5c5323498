from datetime import datetime
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.database import Bilingual, UTCDateTime, utcnow
from app.extensions import db


class Quiz(Bilingual, db.Model):
    """A quiz as last synced from quizzes/; its questions, answer key included, stay server-side."""

    __tablename__ = "quizzes"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    slug: so.Mapped[str] = so.mapped_column(sa.String(80), unique=True)
    course_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("courses.id"), index=True)
    lesson_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("lessons.id"))
    position: so.Mapped[int] = so.mapped_column(default=0)
    title_zh: so.Mapped[str] = so.mapped_column(sa.String(200))
    title_en: so.Mapped[str] = so.mapped_column(sa.String(200))
    description_zh: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    description_en: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    feedback_zh: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    feedback_en: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    pass_mark: so.Mapped[int] = so.mapped_column(default=70)
    max_attempts: so.Mapped[int] = so.mapped_column(default=0)  # 0: unlimited
    time_limit_minutes: so.Mapped[Optional[int]] = so.mapped_column()
    shuffle_questions: so.Mapped[bool] = so.mapped_column(default=True)
    shuffle_options: so.Mapped[bool] = so.mapped_column(default=True)
    draw: so.Mapped[Optional[int]] = so.mapped_column()
    hide_answers_until_passed: so.Mapped[bool] = so.mapped_column(default=False)
    questions: so.Mapped[list] = so.mapped_column(sa.JSON, default=list)
    source_path: so.Mapped[str] = so.mapped_column(sa.String(300), default="")
    is_archived: so.Mapped[bool] = so.mapped_column(default=False)
    content_hash: so.Mapped[str] = so.mapped_column(sa.String(64), default="")
    updated_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    course = so.relationship("Course")


    @property
    def question_count(self) -> int:
        graded = [q for q in self.questions if q["type"] != "description"]
        return min(self.draw, len(graded)) if self.draw else len(graded)


class QuizAttempt(db.Model):
    """One try at a quiz. It keeps its own copy of the questions drawn for it, so a content
    change never alters an attempt already started, and it saves answers as she goes."""

    __tablename__ = "quiz_attempts"
    __table_args__ = (sa.UniqueConstraint("user_id", "quiz_id", "number", name="uq_quiz_attempts_user_quiz_number"),)

    IN_PROGRESS, AWAITING_REVIEW, GRADED = "in_progress", "awaiting_review", "graded"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    quiz_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("quizzes.id"), index=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    number: so.Mapped[int] = so.mapped_column()
    state: so.Mapped[str] = so.mapped_column(sa.String(20), default=IN_PROGRESS, index=True)
    questions: so.Mapped[list] = so.mapped_column(sa.JSON)
    answers: so.Mapped[dict] = so.mapped_column(sa.JSON, default=dict)
    results: so.Mapped[dict] = so.mapped_column(sa.JSON, default=dict)
    score: so.Mapped[Optional[float]] = so.mapped_column()
    max_score: so.Mapped[float] = so.mapped_column(default=0)
    percent: so.Mapped[Optional[float]] = so.mapped_column()
    is_passed: so.Mapped[Optional[bool]] = so.mapped_column()
    started_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    deadline_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    saved_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    submitted_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)

    quiz: so.Mapped[Quiz] = so.relationship()
    user = so.relationship("User")
    reviews: so.Mapped[list["EssayReview"]] = so.relationship(back_populates="attempt", lazy="selectin")

    @property
    def ran_out_of_time(self) -> bool:
        """Finished by its time limit rather than by her: graded as it stood at the deadline."""
        return self.deadline_at is not None and self.submitted_at == self.deadline_at


class EssayReview(db.Model):
    """A mentor's scores against the rubric, and comment, for one essay answer."""

    __tablename__ = "essay_reviews"
    __table_args__ = (sa.UniqueConstraint("attempt_id", "question_id", name="uq_essay_reviews_attempt_question"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    attempt_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("quiz_attempts.id", ondelete="CASCADE"), index=True)
    question_id: so.Mapped[str] = so.mapped_column(sa.String(80))
    reviewer_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    scores: so.Mapped[list] = so.mapped_column(sa.JSON, default=list)  # points per rubric criterion
    points: so.Mapped[float] = so.mapped_column(default=0)
    comment: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    reviewed_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    attempt: so.Mapped[QuizAttempt] = so.relationship(back_populates="reviews")
    reviewer = so.relationship("User")
