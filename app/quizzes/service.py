"""Quiz attempts: start, save as she goes, submit, grade, review. Plain functions over a session."""
import copy
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.database import read
from app.quizzes import grading
from app.quizzes.models import EssayReview, Quiz, QuizAttempt
from app.core.access import coached_cohort_ids, is_staff, only_coached
from app.core.errors import DomainError

# A submission that arrives this long after the deadline still counts (a slow phone network).
GRACE = timedelta(seconds=30)


# --- status --------------------------------------------------------------------------------

@dataclass
class QuizStatus:
    quiz: Quiz
    attempts_used: int = 0
    best_percent: float | None = None
    latest_percent: float | None = None
    is_passed: bool = False
    is_awaiting_review: bool = False
    in_progress_id: int | None = None
    failed_attempts: int = 0

    @property
    def attempts_left(self) -> int | None:
        return None if not self.quiz.max_attempts else max(0, self.quiz.max_attempts - self.attempts_used)

    @property
    def label(self) -> str:
        if self.is_passed:
            return "passed"
        if self.is_awaiting_review:
            return "awaiting_review"
        if self.in_progress_id:
            return "in_progress"
        return "failed" if self.attempts_used else "not_started"


# Her attempts at some quizzes, as `statuses_from` reads them (quiz_id, id, state, percent, is_passed), in
# order (`number`); its parameters are user_id and quiz_ids. Built once: the home, the course pages and
# the lesson page ask it on every request, and SQLAlchemy reuses its compiled form. A query another read
# may join with (UNION ALL, learning.service.her_progress) to spare a round trip.
ATTEMPT_ROWS = (sa.select(QuizAttempt.quiz_id, QuizAttempt.id, QuizAttempt.state, QuizAttempt.percent,
                          QuizAttempt.is_passed, QuizAttempt.number)
                .where(QuizAttempt.user_id == sa.bindparam("user_id"),
                       QuizAttempt.quiz_id.in_(sa.bindparam("quiz_ids", expanding=True)))
                .order_by(QuizAttempt.number))


def statuses(session: Session, user_id: int, quizzes: list[Quiz]) -> dict[int, QuizStatus]:
    """Each quiz's status for her, from one query over her attempts."""
    if not quizzes:
        return {}
    return statuses_from(quizzes, read(session, ATTEMPT_ROWS, {"user_id": user_id,
                                                               "quiz_ids": [quiz.id for quiz in quizzes]}))


def statuses_from(quizzes, rows) -> dict[int, QuizStatus]:
    """Each quiz's status from her attempt rows (`ATTEMPT_ROWS`), in order."""
    result = {quiz.id: QuizStatus(quiz) for quiz in quizzes}
    for quiz_id, attempt_id, state, percent, is_passed, *_number in rows:
        status = result[quiz_id]
        status.attempts_used += 1
        if state == QuizAttempt.IN_PROGRESS:
            status.in_progress_id = attempt_id
        elif state == QuizAttempt.AWAITING_REVIEW:
            status.is_awaiting_review = True
        else:
            status.latest_percent = percent
            status.best_percent = max(percent, status.best_percent or 0)
            status.is_passed = status.is_passed or bool(is_passed)
            status.failed_attempts += not is_passed
    for status in result.values():
        status.is_awaiting_review = status.is_awaiting_review and not status.is_passed
    return result


def quiz_status(session: Session, user_id: int, quiz: Quiz) -> QuizStatus:
    return statuses(session, user_id, [quiz])[quiz.id]


def active_quizzes(session: Session, with_questions: bool = True) -> list[Quiz]:
    query = sa.select(Quiz).where(Quiz.is_archived.is_(False)).order_by(Quiz.position)
    if not with_questions:
        query = query.options(so.defer(Quiz.questions))
    return list(session.scalars(query))


def find_quiz(session: Session, slug: str) -> Quiz | None:
    if "\x00" in slug:  # no slug has one, and PostgreSQL refuses it in a query (a 500, not a 404)
        return None
    return session.scalar(sa.select(Quiz).where(Quiz.slug == slug, Quiz.is_archived.is_(False)))


def attempts_of(session: Session, user_id: int, quiz: Quiz) -> list[QuizAttempt]:
    return list(session.scalars(sa.select(QuizAttempt).where(
        QuizAttempt.user_id == user_id, QuizAttempt.quiz_id == quiz.id).order_by(QuizAttempt.number.desc())))


# --- taking a quiz ---------------------------------------------------------------------------

def draw_questions(quiz: Quiz, rng: random.Random, chosen_ids: list[str] | None = None) -> list[dict]:
    questions = [copy.deepcopy(q) for q in quiz.questions]
    if chosen_ids is not None:
        by_id = {q["id"]: q for q in questions}
        questions = [by_id[qid] for qid in chosen_ids]
    else:
        graded = [q for q in questions if q["type"] != "description"]
        if quiz.draw and quiz.draw < len(graded):
            keep = {q["id"] for q in rng.sample(graded, quiz.draw)}
            questions = [q for q in questions if q["type"] == "description" or q["id"] in keep]
        if quiz.shuffle_questions:  # descriptions keep their place; questions move around them
            graded = [q for q in questions if q["type"] != "description"]
            rng.shuffle(graded)
            shuffled = iter(graded)
            questions = [q if q["type"] == "description" else next(shuffled) for q in questions]
    for question in questions:
        if quiz.shuffle_options and question["type"] in ("single", "multiple"):
            rng.shuffle(question["options"])
        if question["type"] == "matching":  # the right-hand choices are always shuffled
            rng.shuffle(question["choices"])
    return questions


def start_attempt(session: Session, user: User, quiz: Quiz, now: datetime,
                  rng: random.Random | None = None, chosen_ids: list[str] | None = None) -> QuizAttempt:
    """Her open attempt if she has one, else a new one within the attempt limit."""
    expire_overdue(session, user.id, now)
    status = quiz_status(session, user.id, quiz)
    if status.in_progress_id:
        return session.get(QuizAttempt, status.in_progress_id)
    if status.attempts_left == 0:
        raise DomainError(_l("You have used all %(n)d attempts of this quiz.", n=quiz.max_attempts), status=409)
    attempt = QuizAttempt(
        quiz=quiz, user_id=user.id, number=status.attempts_used + 1, state=QuizAttempt.IN_PROGRESS,
        answers={}, max_score=0.0, started_at=now,
        deadline_at=now + timedelta(minutes=quiz.time_limit_minutes) if quiz.time_limit_minutes else None)
    session.add(attempt)
    attempt.questions = draw_questions(quiz, rng or random.SystemRandom(), chosen_ids)  # stored as versions
    attempt.max_score = sum(q["points"] for q in attempt.questions)
    session.flush()
    return attempt


def get_own_attempt(session: Session, user: User, attempt_id: int) -> QuizAttempt:
    attempt = session.get(QuizAttempt, attempt_id)
    if attempt is None or attempt.user_id != user.id:
        raise DomainError(_l("This attempt does not exist."), status=404)
    return attempt


def check_answers(attempt: QuizAttempt, answers: dict) -> dict:
    """Answers in canonical form; any answer that cannot belong to this attempt is refused."""
    questions = {q["id"]: q for q in attempt.questions}
    clean = {}
    for qid, answer in answers.items():
        question = questions.get(qid)
        if question is None:
            raise DomainError(_l("An answer was sent for a question that is not in this attempt."), status=422)
        try:
            value = grading.check_answer(question, answer)
        except DomainError:
            raise DomainError(_l("An answer does not fit its question. Reload the page and try again."), status=422) from None
        if value is not None:
            clean[qid] = value
    return clean


def _ensure_open(attempt: QuizAttempt, now: datetime) -> None:
    if attempt.state != QuizAttempt.IN_PROGRESS:
        raise DomainError(_l("This attempt has already been submitted."), status=409)
    if attempt.deadline_at and now > attempt.deadline_at + GRACE:
        raise DomainError(_l("Time is up: the answers saved before the time limit have been graded."), status=409)


def save_answers(session: Session, attempt: QuizAttempt, answers: dict, now: datetime) -> None:
    """Keep what she has answered so far (merged over what was saved before)."""
    _ensure_open(attempt, now)
    clean = check_answers(attempt, answers)
    merged = {qid: value for qid, value in attempt.answers.items() if qid not in answers}  # cleared ones go
    attempt.answers = {**merged, **clean}
    attempt.saved_at = now
    session.flush()


def submit_attempt(session: Session, attempt: QuizAttempt, answers: dict | None, now: datetime) -> QuizAttempt:
    """Save the last answers and grade. A late or repeated submission is refused and changes nothing."""
    if attempt.state == QuizAttempt.IN_PROGRESS and attempt.deadline_at and now > attempt.deadline_at + GRACE:
        _finish(attempt, attempt.deadline_at)  # graded as it stood at the deadline
        session.flush()
        raise DomainError(_l("Time is up: the answers saved before the time limit have been graded."), status=409)
    _ensure_open(attempt, now)
    if answers is not None:
        save_answers(session, attempt, answers, now)
    _finish(attempt, now)
    session.flush()
    return attempt


def _finish(attempt: QuizAttempt, now: datetime) -> None:
    results, score, needs_review = {}, 0.0, False
    for question in attempt.questions:
        graded = grading.grade(question, attempt.answers.get(question["id"]))
        results[question["id"]] = {"points": graded.points, "max_points": graded.max_points,
                                   "is_correct": graded.is_correct, "feedback": graded.feedback}
        needs_review |= graded.points is None
        score += graded.points or 0
    attempt.results, attempt.score, attempt.submitted_at = results, round(score, 4), now
    if needs_review:
        attempt.state, attempt.percent, attempt.is_passed = QuizAttempt.AWAITING_REVIEW, None, None
    else:
        _grade(attempt)


def _grade(attempt: QuizAttempt) -> None:
    attempt.state = QuizAttempt.GRADED
    attempt.percent = round(100 * attempt.score / attempt.max_score, 2) if attempt.max_score else 100.0
    attempt.is_passed = attempt.percent >= attempt.quiz.pass_mark


def expire_overdue(session: Session, user_id: int, now: datetime) -> None:
    """Finish her attempts whose time ran out, with what was saved before the limit."""
    overdue = session.scalars(sa.select(QuizAttempt).where(
        QuizAttempt.user_id == user_id, QuizAttempt.state == QuizAttempt.IN_PROGRESS,
        QuizAttempt.deadline_at.is_not(None), QuizAttempt.deadline_at < now - GRACE))
    for attempt in overdue:
        _finish(attempt, attempt.deadline_at)
    session.flush()


def shows_answers(attempt: QuizAttempt, status: QuizStatus) -> bool:
    """Right answers and explanations, unless the quiz hides them until she has passed."""
    return not attempt.quiz.hide_answers_until_passed or status.is_passed


# --- essay review ----------------------------------------------------------------------------

def review_queue(session: Session, mentor: User) -> list[QuizAttempt]:
    """Attempts with essays waiting, oldest first, from the mentor's cohorts."""
    query = (sa.select(QuizAttempt).join(User, User.id == QuizAttempt.user_id)
             .where(QuizAttempt.state == QuizAttempt.AWAITING_REVIEW)
             .order_by(QuizAttempt.submitted_at)
             .options(sa.orm.contains_eager(QuizAttempt.user), sa.orm.joinedload(QuizAttempt.quiz)))
    return list(session.scalars(only_coached(query, mentor, User.cohort_id)).unique())


def can_review(session: Session, mentor: User, attempt: QuizAttempt) -> bool:
    cohort_ids = coached_cohort_ids(session, mentor)
    return is_staff(mentor) and (cohort_ids is None or attempt.user.cohort_id in cohort_ids)


MAX_REVIEW_COMMENT = 5000   # a page of feedback; a 5 MB comment was once stored


def review_essay(session: Session, mentor: User, attempt: QuizAttempt, question_id: str, scores: list[float],
                 comment: str, now: datetime) -> EssayReview:
    """Score one essay against its rubric; when the last essay is scored, the attempt is graded."""
    if not can_review(session, mentor, attempt):
        raise DomainError(_l("You do not coach this trainee."), status=404)
    question = next((q for q in attempt.questions if q["id"] == question_id and q["type"] == "essay"), None)
    if question is None:
        raise DomainError(_l("No such essay in this attempt."), status=404)
    if attempt.state == QuizAttempt.IN_PROGRESS:
        raise DomainError(_l("This attempt has not been submitted yet."), status=409)
    if len(comment) > MAX_REVIEW_COMMENT:
        raise DomainError(_l("Write at most %(n)d characters.", n=MAX_REVIEW_COMMENT), status=422)
    rubric = question["rubric"]
    if len(scores) != len(rubric) or any(not 0 <= s <= r["points"] for s, r in zip(scores, rubric)):
        raise DomainError(_l("Give each criterion a score between 0 and its points."), status=422)
    review = next((r for r in attempt.reviews if r.question_id == question_id), None)
    if review is None:
        review = EssayReview(attempt=attempt, question_id=question_id)
        session.add(review)
    review.reviewer_id, review.scores, review.comment, review.reviewed_at = mentor.id, scores, comment.strip(), now
    review.points = round(sum(scores), 4)
    results = dict(attempt.results)
    results[question_id] = {**results[question_id], "points": review.points,
                            "is_correct": review.points >= question["points"]}
    attempt.results = results
    if all(r["points"] is not None for r in results.values()):
        attempt.score = round(sum(r["points"] for r in results.values()), 4)
        _grade(attempt)
    session.flush()
    return review
