"""JSON API v1: bearer tokens only (never the session cookie, so no CSRF exposure)."""
import json
import random
from functools import wraps

import sqlalchemy as sa
from flask import Blueprint, abort, g, jsonify, make_response, request
from flask_babel import force_locale
from werkzeug.exceptions import HTTPException

from app.accounts.models import User
from app.api.models import user_for_token
from app.api.openapi import document
from app.database import parse_id, utcnow
from app.extensions import csrf, db
from app.camp import service as camp
from app.checkins import service as checkins
from app.checkins.models import Milestone
from app.cohorts import summaries
from app.cohorts.models import Cohort
from app.learning import service as learning
from app.quizzes import grading
from app.quizzes import service as quizzes
from app.core.money import format_yuan
from app.i18n import lang_for
from app.core import access
from app.core.access import is_staff
from app.core.members import active_trainees
from app.core.errors import DomainError
from app.shops.earnings import earnings_of

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


def error(status: int, message: str, **extra):
    return jsonify(error=message, **extra), status


# Refusals that reach no view of ours (an unknown path, a wrong method, a body too large, a crash): the
# API's JSON shape all the same, never the site's HTML page.
API_ERRORS = {404: "no such endpoint: see /api/v1/openapi.json", 405: "method not allowed on this endpoint",
              413: "the request is too large", 500: "something went wrong on our side: try again later"}


def http_error(exc: HTTPException):
    """The app's handler for every HTTP error: JSON under /api/, else Flask's own (or the site's) answer."""
    if not request.path.startswith("/api/"):
        return exc
    return error(exc.code or 500, API_ERRORS.get(exc.code, (exc.name or "error").lower()))


def quiz_or_404(slug: str):
    """The quiz of that slug; a missing one ends the request with the API's 404."""
    quiz = quizzes.find_quiz(db.session, slug)
    if quiz is None:
        abort(make_response(error(404, "no such quiz")))
    return quiz


def json_body():
    """The request's JSON, or None when there is none we can read: bad syntax, or nested so deep
    (100,000 levels) that the parser runs out of stack; a RecursionError must not become a 500."""
    try:
        return request.get_json(silent=True)
    except RecursionError:
        return None


@bp.errorhandler(400)
def bad_request(e):
    """The API's own 400 (the site's is an HTML page): app/security.py refuses a NUL character in any address
    or query with abort(400) before the endpoint runs."""
    return error(400, "the request cannot be read: no NUL characters in the address or the query")


def token_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, secret = header.partition(" ")
        user = user_for_token(db.session, secret.strip(), utcnow()) if scheme.lower() == "bearer" else None
        if user is None:
            return error(401, "missing, unknown or revoked token: send Authorization: Bearer <token>")
        g.api_user = user
        response = view(*args, **kwargs)
        db.session.commit()  # last_used_at, and whatever the view wrote
        return response
    return wrapped


def api_lang() -> str:
    """The caller's language: her setting, else Accept-Language, else Chinese."""
    if g.api_user.locale:
        return lang_for(g.api_user)
    return "en" if request.accept_languages.best_match(["zh", "en"]) == "en" else "zh"


@bp.get("/openapi.json")
def openapi():
    return jsonify(document())


@bp.get("/courses")
@token_required
def courses():
    lang = api_lang()
    catalogue = learning.catalogue(db.session, g.api_user.id)
    return jsonify([{
        "slug": item.course.slug, "title": item.course.text("title", lang), "summary": item.course.text("summary", lang),
        "done": item.done, "total": item.total, "is_complete": item.is_complete,
        "lessons": [{"slug": entry.lesson.slug, "title": entry.lesson.text("title", lang),
                     "summary": entry.lesson.text("summary", lang), "minutes": entry.lesson.minutes,
                     "is_done": entry.is_done} for entry in item.lessons],
        "quizzes": [quiz_summary(status, lang) for status in item.quizzes],
    } for item in catalogue.courses])


def quiz_summary(status: quizzes.QuizStatus, lang: str) -> dict:
    quiz = status.quiz
    return {"slug": quiz.slug, "title": quiz.text("title", lang), "status": status.label,
            "question_count": quiz.question_count, "pass_mark": quiz.pass_mark, "max_attempts": quiz.max_attempts,
            "attempts_used": status.attempts_used, "best_percent": status.best_percent,
            "latest_percent": status.latest_percent}


def public_question(question: dict, lang: str, rng: random.Random, shuffle: bool) -> dict:
    """What a client may see of a question: never weights, answers or feedback."""
    out = {"id": question["id"], "type": question["type"], "points": question["points"],
           "text": question["text"][lang]}
    if "options" in question:
        options = [{"id": o["id"], "text": o["text"][lang]} for o in question["options"]]
        if shuffle and question["type"] != "truefalse":
            rng.shuffle(options)
        out["options"] = options
    if question["type"] == "matching":
        out["items"] = [{"id": p["id"], "text": p["left"][lang]} for p in question["pairs"]]
        choices = [{"id": c["id"], "text": c["text"][lang]} for c in question["choices"]]
        rng.shuffle(choices)
        out["choices"] = choices
    if question["type"] == "essay":
        out["rubric"] = [{"criterion": r["criterion"][lang], "points": r["points"]} for r in question["rubric"]]
    return out


@bp.get("/quizzes/<slug>")
@token_required
def quiz(slug: str):
    quiz = quiz_or_404(slug)
    lang, rng = api_lang(), random.SystemRandom()
    status = quizzes.quiz_status(db.session, g.api_user.id, quiz)
    return jsonify({**quiz_summary(status, lang), "course": quiz.course.slug,
                    "description": quiz.text("description", lang), "draw": quiz.draw,
                    "time_limit_minutes": quiz.time_limit_minutes,
                    "questions": [public_question(q, lang, rng, quiz.shuffle_options) for q in quiz.questions]})


def attempt_result(attempt, lang: str) -> dict:
    status = quizzes.quiz_status(db.session, attempt.user_id, attempt.quiz)
    show = quizzes.shows_answers(attempt, status)
    reviews = {r.question_id: r for r in attempt.reviews}
    questions = []
    for question in attempt.questions:
        if question["type"] == "description":
            continue
        outcome = attempt.results.get(question["id"], {})
        item = {"id": question["id"], "answer": attempt.answers.get(question["id"]),
                "points": outcome.get("points"), "max_points": outcome.get("max_points")}
        if show:
            item.update(is_correct=outcome.get("is_correct"),
                        feedback=[f[lang] for f in outcome.get("feedback") or []],
                        explanation=question["explanation"][lang] if question.get("explanation") else None,
                        correct_answer=grading.correct_answer(question))
        if question["id"] in reviews:
            item["review"] = {"points": reviews[question["id"]].points, "comment": reviews[question["id"]].comment}
        questions.append(item)
    return {"id": attempt.id, "quiz": attempt.quiz.slug, "number": attempt.number, "state": attempt.state,
            "score": attempt.score, "max_score": attempt.max_score, "percent": attempt.percent,
            "passed": attempt.is_passed, "answers_shown": show, "questions": questions}


@bp.post("/quizzes/<slug>/attempts")
@token_required
def submit(slug: str):
    quiz = quiz_or_404(slug)
    body = json_body()
    if not isinstance(body, dict) or not isinstance(body.get("answers"), dict):
        return error(422, 'send {"answers": {"<question id>": <answer>, ...}}')
    answers, now = body["answers"], utcnow()
    if not checkins.storable_text(json.dumps(answers, ensure_ascii=False)):  # (dumps escapes NUL: it may stay)
        # A lone surrogate ("\ud800" in the JSON) would be stored, then break every page showing the attempt.
        return error(422, "answers must be Unicode text: no lone surrogates (\\ud800 to \\udfff)")
    graded_ids = [q["id"] for q in quiz.questions if q["type"] != "description"]
    unknown = sorted(set(answers) - set(graded_ids))
    if unknown:
        return error(422, "answers for questions not in this quiz", questions=unknown)
    chosen = None
    if quiz.draw and quiz.draw < len(graded_ids):
        if len(answers) != quiz.draw:
            return error(422, f"this quiz draws {quiz.draw} questions: answer exactly {quiz.draw} of them")
        chosen = [qid for qid in graded_ids if qid in answers]
    if quizzes.quiz_status(db.session, g.api_user.id, quiz).in_progress_id:
        return error(409, "an attempt is open in the app: finish it there first")
    with force_locale("en" if api_lang() == "en" else "zh_CN"):
        try:
            attempt = quizzes.start_attempt(db.session, g.api_user, quiz, now, chosen_ids=chosen)
            quizzes.submit_attempt(db.session, attempt, answers, now)
        except DomainError as e:
            db.session.rollback()
            return error(e.status, str(e.message))
    db.session.commit()
    return jsonify(attempt_result(attempt, api_lang())), 201


# --- check-ins and progress --------------------------------------------------------------------

def checkin_json(checkin) -> dict:
    return {"id": checkin.id, "date": checkin.day.isoformat(), "earnings": format_yuan(checkin.earnings_fen),
            "earnings_fen": checkin.earnings_fen, "orders": checkin.orders, "group_members": checkin.group_members,
            "active_members": checkin.active_members, "posts": checkin.posts, "note": checkin.note,
            "source": checkin.source, "earnings_source": checkin.earnings_source,
            "reported_earnings": None if checkin.reported_earnings_fen is None
            else format_yuan(checkin.reported_earnings_fen),
            "updated_at": checkin.updated_at.isoformat()}


@bp.get("/checkins")
@token_required
def list_checkins():
    return jsonify([checkin_json(c) for c in checkins.checkins_of(db.session, g.api_user.id)])


@bp.post("/checkins")
@token_required
def create_checkin():
    body = json_body()
    if not isinstance(body, dict):
        return error(422, "send a JSON object", fields={"body": "expected a JSON object"})
    with force_locale("en" if api_lang() == "en" else "zh_CN"):
        try:
            checkin, created = checkins.record_checkin(db.session, g.api_user, body, utcnow(), source="api")
        except DomainError as e:
            db.session.rollback()
            fields = {("date" if k == "day" else k): str(v) for k, v in e.fields.items()}
            return error(422, "some fields are not valid", fields=fields)
    return jsonify(checkin_json(checkin)), 201 if created else 200


def _amount(item, value: int) -> str:
    return format_yuan(value) if item.milestone.metric == "earnings" else str(value)


@bp.get("/progress")
@token_required
def progress():
    lang, user = api_lang(), g.api_user
    now = utcnow()
    state = checkins.progress(db.session, user, now)
    catalogue = learning.catalogue(db.session, user.id)
    diagnosis = state.diagnosis
    earned = earnings_of(db.session, user, now)
    return jsonify({
        "program_day": state.programme_day, "start": state.start.isoformat(), "today": state.today.isoformat(),
        "checked_in_today": state.checked_in_today,
        "milestones": [{"key": item.milestone.key, "title": item.milestone.text("title", lang),
                        "metric": item.milestone.metric, "target": _amount(item, item.milestone.target),
                        "earned": _amount(item, item.current), "due": item.due.isoformat(),
                        "days_left": item.days_left, "status": item.status} for item in state.milestones],
        "courses": [{"slug": c.course.slug, "title": c.course.text("title", lang), "done": c.done, "total": c.total,
                     "is_complete": c.is_complete} for c in catalogue.courses],
        "diagnosis": {
            "has_data": diagnosis.has_data,
            "weakest": diagnosis.weakest.name if diagnosis.weakest else None,
            "lesson": diagnosis.weakest.lesson if diagnosis.weakest else None,
            "factors": [{"name": f.name, "value": f.value, "reference": f.reference, "ratio": f.ratio,
                         "lesson": f.lesson} for f in diagnosis.factors]},
        "earnings": {**{key: format_yuan(getattr(earned, key)) for key in EARNINGS_YUAN},
                     "orders": earned.orders, "refunds": earned.refunds},
    })


EARNINGS_YUAN = ("today", "week", "month", "total", "pending", "settled", "from_shop", "reported")


@bp.get("/today")
@token_required
def today():
    """Her camp today: the day's task (null on a day without one), whether it is open and done, her streak."""
    user, now = g.api_user, utcnow()
    state = camp.today(db.session, user, now)
    task = state.task
    current, longest = state.streak
    return jsonify({
        "program_day": state.programme_day,
        "task": {"key": task.key, "title": task.text("title", api_lang()), "lesson": task.lesson_key,
                 "proof": list(task.proof)} if task else None,
        "unlocked": state.is_unlocked, "unlocks_at": state.unlocks_at.isoformat() if state.unlocks_at else None,
        "done": state.is_done, "checked_in": camp.has_earnings_checkin(db.session, user, now),
        "streak": {"current": current, "longest": longest},
    })


# --- mentors: their cohorts and the dashboard rows -----------------------------------------------
# The same rule as the mentor pages (access.can_coach): admins see every cohort, mentors their own.
# A trainee's token gets 403 on /cohorts (the endpoint is for mentors; nothing about any cohort is
# revealed), and 404 on a cohort's trainees, like a mentor asking for a cohort she does not coach:
# another cohort answers exactly like a missing one.

MAX_PER_PAGE = 200


@bp.get("/cohorts")
@token_required
def cohorts():
    user = g.api_user
    if not is_staff(user):
        return error(403, "for mentors and admins only")
    mine = access.coached_cohorts(db.session, user)
    counts = dict(db.session.execute(
        sa.select(User.cohort_id, sa.func.count(User.id))
        .where(User.cohort_id.in_([c.id for c in mine]), *active_trainees())
        .group_by(User.cohort_id)).all()) if mine else {}
    return jsonify([{"id": c.id, "name": c.name, "start_date": c.start_date.isoformat(), "timezone": c.timezone,
                     "trainee_count": counts.get(c.id, 0),
                     "mentors": [{"id": m.id, "name": m.name} for m in c.mentors]} for c in mine])


def _positive(name: str, default: int) -> int | None:
    raw = request.args.get(name, "")
    if not raw:
        return default
    return int(raw) if raw.isdecimal() and int(raw) > 0 else None


def trainee_row_json(row: summaries.Line, metrics: dict[str, str]) -> dict:
    user = row.user
    return {
        "id": user.id, "name": user.name, "mobile": user.mobile, "email": user.email,
        "programme_day": row.programme_day, "lessons_done": row.lessons_done, "lessons_total": row.lessons_total,
        "quizzes_passed": row.quizzes_passed, "quizzes_total": row.quizzes_total,
        "earnings": format_yuan(row.total_earnings_fen), "earnings_fen": row.total_earnings_fen,
        "status": row.status,
        "milestones": [{"key": m["key"], "status": m["status"],
                        "earned": format_yuan(m["current"]) if metrics.get(m["key"]) == "earnings"
                        else str(m["current"])} for m in row.milestones],
        "last_checkin": row.last_checkin.isoformat() if row.last_checkin else None,
        "last_active": row.last_active_at.isoformat() if row.last_active_at else None,
        "weakest": row.weakest,
        "next_lesson": f"{row.next_lesson.course.slug}/{row.next_lesson.slug}" if row.next_lesson else None,
        "reasons": [reason.code for reason in row.reasons], "attention": row.attention,
        "contacted_at": row.contacted_at.isoformat() if row.contacted_at else None,
    }


_id = parse_id


# <cohort_id> as text, not <int:...>: an id Flask's converter refuses (-1, "abc") must get the API's JSON 404,
# not the site's HTML page, and one too large for the database must not reach it (an OverflowError, a 500).
@bp.get("/cohorts/<cohort_id>/trainees")
@token_required
def cohort_trainees(cohort_id: str):
    user = g.api_user
    cohort_id = _id(cohort_id)
    cohort = db.session.get(Cohort, cohort_id) if cohort_id is not None else None
    if cohort is None or not access.can_coach(user, cohort):
        return error(404, "no such cohort")
    page, per_page = _positive("page", 1), _positive("per_page", 50)
    if page is None or per_page is None:
        return error(422, "page and per_page are whole numbers from 1")
    per_page = min(per_page, MAX_PER_PAGE)
    args = request.args
    sort = args.get("sort", "name")
    if sort not in summaries.SORTS:
        return error(422, f"sort is one of: {', '.join(summaries.SORTS)}")
    status = args.get("status", "")
    if status and status not in summaries.STATUSES:
        return error(422, f"status is one of: {', '.join(summaries.STATUSES)}")
    now = utcnow()
    if summaries.refresh(db.session, cohort, now):
        db.session.commit()
    query = summaries.DashboardQuery(status=status, q=args.get("q", "")[:80], sort=sort, page=page,
                                     per_page=per_page)
    table = summaries.page(db.session, cohort, query, now)
    # A page past the last is empty (page() would show the last one, as the dashboard does).
    lines = table.lines if page <= table.pages else []
    metrics = dict(db.session.execute(sa.select(Milestone.key, Milestone.metric)).all())
    return jsonify({"cohort": {"id": cohort.id, "name": cohort.name, "start_date": cohort.start_date.isoformat()},
                    "page": page, "per_page": per_page, "total": table.total, "pages": table.pages,
                    "trainees": [trainee_row_json(r, metrics) for r in lines]})

