import copy
from datetime import datetime
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects import postgresql, sqlite

from app.database import Bilingual, SyncedFromFile, UTCDateTime, utcnow
from app.extensions import db
from app.quizzes import versions


class Quiz(Bilingual, SyncedFromFile, db.Model):
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

    course = so.relationship("Course")


    @property
    def question_count(self) -> int:
        graded = [q for q in self.questions if q["type"] != "description"]
        return min(self.draw, len(graded)) if self.draw else len(graded)


class QuestionVersion(db.Model):
    """One version of a question, answer key included, stored once whichever attempts drew it: its
    options in a canonical order, keyed by the digest of its canonical JSON (app/quizzes/versions.py).
    Never changed, so an attempt reads the questions it was given whatever the quiz files say now."""

    __tablename__ = "question_versions"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    digest: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    question: so.Mapped[dict] = so.mapped_column(sa.JSON)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)


class QuizAttempt(db.Model):
    """One try at a quiz. It refers to the versions of the questions drawn for it, in order, with
    its shuffles (`layout`), so a content change never alters an attempt already started; it saves
    answers as she goes, and her points per question once graded (`marks`). `questions` and
    `results` read (and write) these as the full lists and dicts that grading and pages use."""

    __tablename__ = "quiz_attempts"
    __table_args__ = (sa.UniqueConstraint("user_id", "quiz_id", "number", name="uq_quiz_attempts_user_quiz_number"),)

    IN_PROGRESS, AWAITING_REVIEW, GRADED = "in_progress", "awaiting_review", "graded"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    quiz_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("quizzes.id"), index=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    number: so.Mapped[int] = so.mapped_column()
    state: so.Mapped[str] = so.mapped_column(sa.String(20), default=IN_PROGRESS, index=True)
    # [[question version id, the drawn order of its options or choices (when shuffled)], ...]
    layout: so.Mapped[list] = so.mapped_column(sa.JSON, default=list, server_default="[]")
    answers: so.Mapped[dict] = so.mapped_column(sa.JSON, default=dict)
    # [[points, right (1/0/null)], ...] in layout order; [] until submitted
    marks: so.Mapped[list] = so.mapped_column(sa.JSON, default=list, server_default="[]")
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

    # Built from the versions on first use (one query; load_questions() does many attempts at once) and
    # kept with the layout they were built from: versions never change, so that is all a copy depends on.
    _drawn = None   # (layout, questions)
    _graded = None  # (layout, marks, answers, results)

    @property
    def questions(self) -> list[dict]:
        """The questions as drawn for her, in order, options as shown to her (read-only)."""
        layout = self.layout or []
        if self._drawn is None or self._drawn[0] != layout:
            session = so.object_session(self)
            if layout and session is None:
                raise ValueError("a detached attempt cannot load its questions")
            load_questions(session, [self])
        return self._drawn[1]

    @questions.setter
    def questions(self, drawn: list[dict]) -> None:
        drawn = list(drawn)
        if drawn:
            session = so.object_session(self)
            if session is None:
                raise ValueError("add the attempt to a session before giving it questions")
            self.layout = intern_questions(session, drawn)
        else:
            self.layout = []
        self._drawn = (copy.deepcopy(self.layout), drawn)

    @property
    def results(self) -> dict:
        """Per question id: points, max_points, is_correct, feedback (read-only); {} until submitted."""
        marks, answers = self.marks or [], self.answers or {}
        if not marks:
            return {}
        questions = self.questions
        if self._graded is None or self._graded[:3] != (self.layout, marks, answers):
            self._graded = (copy.deepcopy(self.layout), copy.deepcopy(marks), copy.deepcopy(answers),
                            versions.unpack_marks(questions, marks, answers))
        return self._graded[3]

    @results.setter
    def results(self, results: dict) -> None:
        self.marks = versions.pack_marks(self.questions, results) if results else []


def intern_questions(session: so.Session, drawn: list[dict]) -> list:
    """The layout of drawn questions: each version found by its digest, stored when new (one SELECT,
    and one INSERT ... ON CONFLICT DO NOTHING when some are new, so two attempts racing agree)."""
    parts = [versions.split(question) for question in drawn]
    digests = [versions.digest(version) for version, _ in parts]
    with session.no_autoflush:
        ids = _version_ids(session, set(digests))
        new = {d: version for d, (version, _) in zip(digests, parts) if d not in ids}
        if new:
            insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
            now = utcnow()
            session.execute(insert(QuestionVersion.__table__).values(
                [{"digest": d, "question": version, "created_at": now} for d, version in new.items()])
                .on_conflict_do_nothing(index_elements=["digest"]))
            ids |= _version_ids(session, set(new))
    return [versions.layout_entry(ids[d], order) for d, (_, order) in zip(digests, parts)]


def _version_ids(session: so.Session, digests: set[str]) -> dict[str, int]:
    return dict(session.execute(sa.select(QuestionVersion.digest, QuestionVersion.id)
                                .where(QuestionVersion.digest.in_(digests))).all())


def load_questions(session: so.Session, attempts: list[QuizAttempt]) -> None:
    """Give each attempt its drawn questions, from one query for all their versions."""
    wanted = {vid for attempt in attempts for vid in versions.version_ids(attempt.layout or [])}
    found = dict(session.execute(sa.select(QuestionVersion.id, QuestionVersion.question)
                                 .where(QuestionVersion.id.in_(wanted))).all()) if wanted else {}
    for attempt in attempts:
        layout = attempt.layout or []
        attempt._drawn = (copy.deepcopy(layout), versions.questions_of(layout, found))


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
