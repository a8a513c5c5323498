from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.camp import coaching
from app.core import audit
from app.database import utcnow
from app.extensions import db
from app.quizzes import grading, service
from app.quizzes.models import QuizAttempt
from app.core.access import staff_required
from app.core.errors import DomainError

bp = Blueprint("quizzes", __name__)


def answers_from_form(form) -> dict:
    """Form fields q:<question> (and q:<question>:<left item> for matching) to answers."""
    answers: dict = {}
    for key in form:
        parts = key.split(":")
        if parts[0] != "q" or len(parts) not in (2, 3):
            continue
        if len(parts) == 3:
            answers.setdefault(parts[1], {})[parts[2]] = form.get(key)
        else:
            values = form.getlist(key)
            answers[parts[1]] = values if parts[1] in form.getlist("multiple") else values[0]
    for qid in form.getlist("multiple"):  # checkboxes: none ticked sends nothing at all
        answers.setdefault(qid, [])
    return answers


def _refuse(error: DomainError):
    flash(str(error.message), "warning")


@bp.get("/quizzes/<slug>")
@login_required
def quiz(slug: str):
    quiz = service.find_quiz(db.session, slug) or abort(404)
    service.expire_overdue(db.session, current_user.id, utcnow())
    db.session.commit()
    return render_template("quizzes/quiz.html", quiz=quiz, status=service.quiz_status(db.session, current_user.id, quiz),
                           attempts=service.attempts_of(db.session, current_user.id, quiz))


@bp.post("/quizzes/<slug>/start")
@login_required
def start(slug: str):
    quiz = service.find_quiz(db.session, slug) or abort(404)
    try:
        attempt = service.start_attempt(db.session, current_user, quiz, utcnow())
    except DomainError as e:
        _refuse(e)
        return redirect(url_for("quizzes.quiz", slug=slug))
    db.session.commit()
    return redirect(url_for("quizzes.take", attempt_id=attempt.id))


def _own_attempt(attempt_id: int) -> QuizAttempt:
    try:
        return service.get_own_attempt(db.session, current_user, attempt_id)
    except DomainError:
        abort(404)


@bp.get("/attempts/<int:attempt_id>")
@login_required
def take(attempt_id: int):
    attempt = _own_attempt(attempt_id)
    service.expire_overdue(db.session, current_user.id, utcnow())
    db.session.commit()
    if attempt.state != QuizAttempt.IN_PROGRESS:
        return redirect(url_for("quizzes.result", attempt_id=attempt.id))
    return render_template("quizzes/take.html", attempt=attempt, quiz=attempt.quiz, answers=attempt.answers)


@bp.post("/attempts/<int:attempt_id>")
@login_required
def answer(attempt_id: int):
    attempt = _own_attempt(attempt_id)
    answers, now = answers_from_form(request.form), utcnow()
    try:
        if request.form.get("action") == "submit":
            service.submit_attempt(db.session, attempt, answers, now)
            db.session.commit()
            return redirect(url_for("quizzes.result", attempt_id=attempt.id))
        service.save_answers(db.session, attempt, answers, now)
        db.session.commit()
        step = request.form.get("action", "").removeprefix("goto:")
        if request.form.get("action", "").startswith("goto:") and step in _step_ids(attempt):
            # A phone's Back / Next without JavaScript: saved, and on to that question.
            return redirect(url_for("quizzes.take", attempt_id=attempt.id, _anchor=f"step-{step}"))
        flash(_("Your answers are saved. Come back before %(time)s: then what you saved is graded as it stands, "
                "and this try counts.", time=format_datetime(attempt.deadline_at, "short"))
              if attempt.deadline_at else _("Your answers are saved. You can come back and finish later."), "success")
        return redirect(url_for("quizzes.take", attempt_id=attempt.id))
    except DomainError as e:
        db.session.rollback()
        service.expire_overdue(db.session, current_user.id, now)  # time up: grade what was saved
        db.session.commit()
        _refuse(e)
        status = 422 if e.status == 422 else 409
        if attempt.state == QuizAttempt.IN_PROGRESS:
            return render_template("quizzes/take.html", attempt=attempt, quiz=attempt.quiz, answers=answers), status
        return redirect(url_for("quizzes.result", attempt_id=attempt.id))


def _step_ids(attempt: QuizAttempt) -> set[str]:
    """The steps of the one-question-per-screen form: each question, and the last screen."""
    return {question["id"] for question in attempt.questions} | {"finish"}


@bp.post("/attempts/<int:attempt_id>/autosave")
@login_required
def autosave(attempt_id: int):
    """Called by the page's small script as she answers; the page works without it."""
    attempt = _own_attempt(attempt_id)
    try:
        service.save_answers(db.session, attempt, answers_from_form(request.form), utcnow())
    except DomainError as e:
        db.session.rollback()
        return jsonify(error=str(e.message)), e.status
    db.session.commit()
    return jsonify(saved_at=attempt.saved_at.isoformat())


@bp.get("/attempts/<int:attempt_id>/result")
@login_required
def result(attempt_id: int):
    attempt = _own_attempt(attempt_id)
    if attempt.state == QuizAttempt.IN_PROGRESS:
        return redirect(url_for("quizzes.take", attempt_id=attempt.id))
    status = service.quiz_status(db.session, current_user.id, attempt.quiz)
    return render_template("quizzes/result.html", attempt=attempt, quiz=attempt.quiz, status=status,
                           show_answers=service.shows_answers(attempt, status), grading=grading,
                           reviews={r.question_id: r for r in attempt.reviews})


# --- mentors: essay review -------------------------------------------------------------------

@bp.get("/review")
@staff_required
def review_queue():
    return render_template("quizzes/review_queue.html", attempts=service.review_queue(db.session, current_user),
                           proofs=coaching.proof_photos(db.session, current_user, utcnow()),
                           proof_days=coaching.PROOF_DAYS)


@bp.route("/review/<int:attempt_id>", methods=["GET", "POST"])
@staff_required
def review(attempt_id: int):
    attempt = db.session.get(QuizAttempt, attempt_id)
    if attempt is None or not service.can_review(db.session, current_user, attempt) \
            or attempt.state == QuizAttempt.IN_PROGRESS:
        abort(404)
    essays = [q for q in attempt.questions if q["type"] == "essay"]
    status, errors = 200, {}
    if request.method == "POST":
        # One form for the whole review: every essay's scores and comment arrive together, and a
        # refusal shows the page again with everything she typed (nothing is saved until all is right).
        scored, errors = essay_scores_from_form(request.form, essays)
        if not errors and not scored:
            errors = {essays[0]["id"]: _("Give each criterion a score between 0 and its points.")} if essays else {}
        if not errors:
            try:
                for question_id, (scores, comment) in scored.items():
                    service.review_essay(db.session, current_user, attempt, question_id, scores, comment, utcnow())
                    audit.record(db.session, current_user, "essay.review", f"user:{attempt.user_id}",
                                 attempt=attempt.id, question=question_id, points=sum(scores))
            except DomainError as e:
                db.session.rollback()
                if e.status == 404:
                    abort(404)
                errors = {question_id: str(e.message)}
            else:
                db.session.commit()
                flash(_("Review saved. %(name)s can see it now.", name=attempt.user.name), "success")
                return redirect(url_for("quizzes.review", attempt_id=attempt.id))
        flash(_("Nothing was saved: see the essay marked below."), "warning")
        status = 422
    return render_template("quizzes/review.html", attempt=attempt, essays=essays, errors=errors,
                           typed=request.form if request.method == "POST" else None,
                           reviews={r.question_id: r for r in attempt.reviews}), status


def essay_scores_from_form(form, essays: list[dict]) -> tuple[dict, dict]:
    """{question id: (scores, comment)} for each essay with anything typed, and {question id: error}.
    An essay left wholly blank is not reviewed yet; one partly scored is an error (nothing is guessed)."""
    scored, errors = {}, {}
    for question in essays:
        qid = question["id"]
        raw = [form.get(f"score-{qid}-{i}", "").strip() for i in range(len(question["rubric"]))]
        comment = form.get(f"comment-{qid}", "")
        if not any(raw) and not comment.strip():
            continue
        try:
            scores = [float(value) for value in raw]
        except ValueError:
            errors[qid] = _("Give each criterion a score between 0 and its points.")
            continue
        if any(not 0 <= score <= r["points"] for score, r in zip(scores, question["rubric"])):
            errors[qid] = _("Give each criterion a score between 0 and its points.")
            continue
        scored[qid] = (scores, comment)
    return scored, errors
