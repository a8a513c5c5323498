"""The API for every trainee action: each route parses the request, calls the same service function as the web
page, and answers JSON. Refusals are the services' own messages (in the caller's language) with a status:
404 for what she may not see, 403 for an action not open to her role, 409 for a rule, 422 for bad input."""
import json
import random
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from flask import Blueprint, current_app, g, jsonify, request
from flask_babel import force_locale
from werkzeug.datastructures import FileStorage

from app.api.views import (api_lang, attempt_result, bad_request, checkin_json, error, json_body, public_question,
                           quiz_or_404, token_required)
from app.camp import feed, photos, service as camp
from app.camp.models import FeedLike, FeedPost
from app.checkins import service as checkins
from app.content.loader import Report, split_front_matter
from app.core.errors import DomainError
from app.core.money import format_yuan
from app.database import parse_id, utcnow
from app.extensions import csrf, db
from app.learning import service as learning
from app.quizzes import service as quizzes
from app.quizzes.models import QuizAttempt
from app.reminders import inbox as inbox_messages
from app.reminders import preferences as prefs

# Under the API's prefix, with its bearer tokens and its JSON 400; a blueprint of its own so that the API's
# core (views.py) stays readable.
bp = Blueprint("actions", __name__, url_prefix="/api/v1")
csrf.exempt(bp)
bp.register_error_handler(400, bad_request)


def _locale():
    return force_locale("en" if api_lang() == "en" else "zh_CN")


def _trainee_only():
    return None if g.api_user.is_trainee else error(403, "for trainees only")


def _refused(message, status: int = 422, fields: dict | None = None):
    db.session.rollback()
    extra = {"fields": {k: str(v) for k, v in fields.items()}} if fields else {}
    return error(status, str(message), **extra)


def _body_or_form(allowed: set[str]) -> tuple[dict, list[FileStorage]] | tuple[None, dict]:
    """(fields, photos) from a multipart form or a JSON object; (None, field errors) when the JSON is wrong."""
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        fields = {k: v for k, v in request.form.items() if k in allowed}
        if "share" in fields:
            fields["share"] = fields["share"].strip().lower() in ("1", "true", "on", "yes")
        return fields, photos.chosen_files(request.files.getlist("photos"))
    body = json_body()
    if not isinstance(body, dict):
        return None, {"body": "send a JSON object, or a multipart form with up to 3 files in photos"}
    problems = {name: "unknown field" for name in set(body) - allowed}
    for name in ("text", "task_key"):
        if name in body and body[name] is not None and not (isinstance(body[name], str)
                                                            and checkins.storable_text(body[name])):
            problems[name] = "text: a JSON string without NUL or lone surrogates"
    if "share" in body and not isinstance(body["share"], bool):
        problems["share"] = "true or false"
    if "number" in body and body["number"] is not None and (
            isinstance(body["number"], bool) or not isinstance(body["number"], (int, float, str))):
        problems["number"] = "a whole number"
    if problems:
        return None, problems
    return {k: v for k, v in body.items() if v is not None}, []


# --- the camp: 打卡 and 补卡, the calendar ----------------------------------------------------------

def task_checkin_json(checkin, is_makeup: bool | None = None) -> dict:
    return {"id": checkin.id, "task_key": checkin.task.key, "day": checkin.task.day, "date": checkin.day.isoformat(),
            "text": checkin.text, "number": checkin.number, "is_makeup": checkin.is_makeup,
            "shared": checkin.is_shared, "photos": [p.id for p in checkin.photos],
            "created_at": checkin.created_at.isoformat()}


@bp.post("/today/checkins")
@token_required
def today_checkin():
    """打卡 for today's task, or 补卡 for a missed day's (task_key): same rules as the Today page."""
    if refused := _trainee_only():
        return refused
    fields, files = _body_or_form({"task_key", "text", "number", "share"})
    if fields is None:
        return error(422, "some fields are not valid", fields=files)
    now = utcnow()
    key = fields.get("task_key") or None
    task = camp.find_task(db.session, key) if key else camp.today(db.session, g.api_user, now).task
    if task is None:
        return error(404, "no such task" if key else "there is no camp task today: send task_key for a missed day")
    with _locale():
        try:
            checkin, is_makeup = camp.submit_task_checkin(
                db.session, g.api_user, task, text=fields.get("text", ""), number=fields.get("number"),
                share=bool(fields.get("share")), files=files, now=now)
        except DomainError as e:
            return _refused(e.message, e.status, e.fields)
    db.session.commit()
    return jsonify(task_checkin_json(checkin)), 201


@bp.get("/calendar")
@token_required
def calendar():
    if refused := _trainee_only():
        return refused
    raw = request.args.get("month", "")
    month = None
    if raw:
        try:
            month = date.fromisoformat(f"{raw}-01") if len(raw) == 7 else None
        except ValueError:
            month = None
        if month is None:
            return error(422, "month is YYYY-MM")
    grid = camp.calendar(db.session, g.api_user, utcnow(), month)
    current, longest = grid.streak
    lang = api_lang()
    return jsonify({
        "month": grid.month.strftime("%Y-%m"), "previous": grid.previous.strftime("%Y-%m"),
        "following": grid.following.strftime("%Y-%m"), "streak": {"current": current, "longest": longest},
        "makeup_left": grid.makeup_left,
        "days": [{"date": d.date.isoformat(), "programme_day": d.programme_day, "state": d.state,
                  "is_today": d.is_today, "can_make_up": d.can_make_up,
                  "task": {"key": d.task.key, "title": d.task.text("title", lang)} if d.task else None}
                 for d in grid.days]})


# --- lessons: content, done and not done -------------------------------------------------------------

def _lesson(slug: str, lesson_slug: str):
    catalogue = learning.catalogue(db.session, g.api_user.id)
    item = catalogue.course(slug)
    entry = next((i for i in item.lessons if i.lesson.slug == lesson_slug), None) if item else None
    return item, entry


def lesson_markdown(lesson, lang: str) -> str | None:
    """The lesson's Markdown body (without front matter) from its content file; None when the file is gone."""
    path = lesson.source_path
    if not path:
        return None
    if lang == "en":
        path = path[:-3] + ".en.md" if path.endswith(".md") and not path.endswith(".en.md") else path
    try:
        text = (Path(current_app.config["CONTENT_ROOT"]) / path).read_text("utf-8")
    except (OSError, ValueError):
        return None
    split = split_front_matter(text, Report([], path))
    return split[2].strip() + "\n" if split else None


@bp.get("/courses/<slug>/lessons/<lesson_slug>")
@token_required
def lesson(slug: str, lesson_slug: str):
    item, entry = _lesson(slug, lesson_slug)
    if entry is None:
        return error(404, "no such lesson")
    lang, lesson = api_lang(), entry.lesson
    previous, following = learning.neighbours([i.lesson for i in item.lessons], lesson)
    return jsonify({"course": slug, "slug": lesson.slug, "title": lesson.text("title", lang),
                    "summary": lesson.text("summary", lang), "minutes": lesson.minutes,
                    "objectives": lesson.text("objectives", lang), "html": lesson.text("body_html", lang),
                    "markdown": lesson_markdown(lesson, lang), "is_done": entry.is_done,
                    "previous": previous.slug if previous else None,
                    "next": following.slug if following else None})


def _lesson_progress(slug: str, lesson_slug: str, done: bool):
    lesson = learning.find_lesson(db.session, slug, lesson_slug)
    if lesson is None:
        return error(404, "no such lesson")
    (learning.mark_lesson_done if done else learning.mark_lesson_not_done)(db.session, g.api_user, lesson, utcnow())
    db.session.commit()
    item = learning.catalogue(db.session, g.api_user.id).course(slug)
    return jsonify({"course": slug, "lesson": lesson_slug, "is_done": done, "done": item.done, "total": item.total,
                    "is_complete": item.is_complete})


@bp.put("/courses/<slug>/lessons/<lesson_slug>/done")
@token_required
def lesson_done(slug: str, lesson_slug: str):
    return _lesson_progress(slug, lesson_slug, True)


@bp.delete("/courses/<slug>/lessons/<lesson_slug>/done")
@token_required
def lesson_not_done(slug: str, lesson_slug: str):
    return _lesson_progress(slug, lesson_slug, False)


# --- the wins feed ------------------------------------------------------------------------------------

def post_json(view: feed.PostView) -> dict:
    post = view.post
    return {"id": post.id, "kind": post.kind, "text": post.text, "author": {"id": post.user_id,
                                                                           "name": post.author.name},
            "created_at": post.created_at.isoformat(), "is_pinned": post.is_pinned,
            "is_highlighted": post.is_highlighted, "is_own": view.is_own, "likes": view.like_count,
            "liked": view.liked, "photos": [p.id for p in view.photos],
            "earnings": format_yuan(view.earnings_fen) if view.earnings_fen is not None else None,
            "comments": [{"id": c.id, "author": c.author.name if c.author else None, "body": c.body,
                          "created_at": c.created_at.isoformat()} for c in view.comments]}


@bp.get("/feed")
@token_required
def feed_list():
    if refused := _trainee_only():
        return refused
    raw = request.args.get("page", "1")
    if not (raw.isascii() and raw.isdecimal() and 0 < int(raw) <= 10_000):
        return error(422, "page is a whole number from 1")
    cohort = g.api_user.cohort
    if cohort is None:
        return jsonify({"page": 1, "has_more": False, "posts": []})
    page = feed.feed_for(db.session, g.api_user, cohort, int(raw))
    return jsonify({"page": page.page, "has_more": page.has_more, "posts": [post_json(v) for v in page.items]})


@bp.post("/feed")
@token_required
def feed_post():
    if refused := _trainee_only():
        return refused
    fields, files = _body_or_form({"text"})
    if fields is None:
        return error(422, "some fields are not valid", fields=files)
    with _locale():
        try:
            post = feed.publish_win(db.session, g.api_user, fields.get("text", ""), files, utcnow())
        except DomainError as e:
            return _refused(e.message, e.status, e.fields)
    db.session.commit()
    return jsonify({"id": post.id, "kind": post.kind, "text": post.text, "photos": [p.id for p in post.photos],
                    "created_at": post.created_at.isoformat()}), 201


def _visible_post(post_id: str) -> FeedPost | None:
    number = parse_id(post_id)
    post = db.session.get(FeedPost, number) if number else None
    return post if feed.can_see_post(g.api_user, post) else None


def _post_action(post_id: str, action, status: int = 200):
    post = _visible_post(post_id)
    if post is None:
        return error(404, "no such post")
    with _locale():
        try:
            result = action(post, utcnow())
        except DomainError as e:
            return _refused(e.message, e.status)
    db.session.commit()
    return jsonify(result), status


def _likes(post: FeedPost) -> dict:
    count = db.session.scalar(sa.select(sa.func.count()).select_from(FeedLike).where(FeedLike.post_id == post.id))
    liked = db.session.scalar(sa.select(sa.exists().where(FeedLike.post_id == post.id,
                                                          FeedLike.user_id == g.api_user.id)))
    return {"id": post.id, "likes": count, "liked": bool(liked)}


@bp.put("/feed/<post_id>/like")
@token_required
def feed_like(post_id: str):
    return _post_action(post_id, lambda post, now: (feed.like(db.session, g.api_user, post, now), _likes(post))[1])


@bp.delete("/feed/<post_id>/like")
@token_required
def feed_unlike(post_id: str):
    return _post_action(post_id, lambda post, now: (feed.unlike(db.session, g.api_user, post), _likes(post))[1])


@bp.post("/feed/<post_id>/comments")
@token_required
def feed_comment(post_id: str):
    if _visible_post(post_id) is None:  # before the body: a post she may not see reveals nothing
        return error(404, "no such post")
    body = json_body()
    if not isinstance(body, dict) or not isinstance(body.get("body"), str) or set(body) - {"body"} \
            or not checkins.storable_text(body["body"]):
        return error(422, 'send {"body": "<text>"}', fields={"body": "text"})

    def action(post, now):
        entry = feed.comment(db.session, g.api_user, post, body["body"], now)
        return {"id": entry.id, "post": post.id, "body": entry.body, "created_at": entry.created_at.isoformat()}
    return _post_action(post_id, action, 201)


@bp.delete("/feed/<post_id>")
@token_required
def feed_delete(post_id: str):
    return _post_action(post_id, lambda post, now: (feed.delete_own(db.session, g.api_user, post, now),
                                                    {"id": post.id, "deleted": True})[1])


# --- the inbox ---------------------------------------------------------------------------------------

@bp.get("/inbox")
@token_required
def inbox():
    messages = inbox_messages.messages(db.session, g.api_user)
    return jsonify({"unread": sum(1 for m in messages if m.read_at is None), "messages": [
        {"id": m.id, "category": m.category, "title": m.title, "body": m.body, "link": m.link,
         "sender": m.sender.name if m.sender else None, "created_at": m.created_at.isoformat(),
         "read_at": m.read_at.isoformat() if m.read_at else None} for m in messages]})


@bp.post("/inbox/read")
@token_required
def inbox_read():
    marked = inbox_messages.mark_read(db.session, g.api_user, utcnow())
    db.session.commit()
    return jsonify({"marked": marked, "unread": 0})


# --- reminder preferences ----------------------------------------------------------------------------

def preferences_json(user) -> dict:
    current = prefs.effective_for(db.session, user)
    shown = prefs.categories_for(user)
    return {"email_enabled": current.email_enabled,
            "email_categories": {c: c not in current.email_muted for c in shown},
            "group_mention": current.group_mention, "shares_earnings": user.shares_earnings,
            "send_at": current.send_at, "quiet_start": current.quiet_start, "quiet_end": current.quiet_end,
            "held_until": current.reminder_held_until()}


@bp.get("/preferences")
@token_required
def preferences():
    return jsonify(preferences_json(g.api_user))


PREFERENCE_FIELDS = {"email_enabled": bool, "group_mention": bool, "shares_earnings": bool, "email_categories": dict,
                     "send_at": str, "quiet_start": str, "quiet_end": str}


@bp.put("/preferences")
@token_required
def update_preferences():
    body = json_body()
    if not isinstance(body, dict):
        return error(422, "send a JSON object", fields={"body": "expected a JSON object"})
    problems = {}
    for name, value in body.items():
        kind = PREFERENCE_FIELDS.get(name)
        if kind is None:
            problems[name] = "unknown field"
        elif not isinstance(value, kind) or (kind is str and not checkins.storable_text(value)):
            problems[name] = {bool: "true or false", dict: "an object of category: true or false",
                              str: 'a time such as "20:00", or "" for the programme\'s'}[kind]
    shown = prefs.categories_for(g.api_user)
    categories = body.get("email_categories")
    if isinstance(categories, dict) and (set(categories) - set(shown)
                                         or not all(isinstance(v, bool) for v in categories.values())):
        problems["email_categories"] = f"categories are {', '.join(shown)}, each true or false"
    if ("quiet_start" in body) != ("quiet_end" in body):
        problems["quiet_end" if "quiet_start" in body else "quiet_start"] = "send quiet_start and quiet_end together"
    if problems:
        return error(422, "some fields are not valid", fields=problems)
    with _locale():
        try:
            prefs.update_settings(db.session, g.api_user, now=utcnow(), **body)
        except DomainError as e:
            return _refused("some fields are not valid", 422, e.fields)
    db.session.commit()
    return jsonify(preferences_json(g.api_user))


# --- quiz attempts: start, save, resume, submit -----------------------------------------------------------

def attempt_json(attempt: QuizAttempt) -> dict:
    """An attempt in progress with its questions (no answers) and what she saved; a finished one as its result."""
    lang = api_lang()
    if attempt.state != QuizAttempt.IN_PROGRESS:
        return attempt_result(attempt, lang)
    rng = random.Random(attempt.id)  # the same order each time she resumes
    return {"id": attempt.id, "quiz": attempt.quiz.slug, "number": attempt.number, "state": attempt.state,
            "started_at": attempt.started_at.isoformat(),
            "deadline": attempt.deadline_at.isoformat() if attempt.deadline_at else None,
            "saved_at": attempt.saved_at.isoformat() if attempt.saved_at else None,
            "answers": attempt.answers or {},
            "questions": [public_question(q, lang, rng, attempt.quiz.shuffle_options) for q in attempt.questions]}


@bp.post("/quizzes/<slug>/start")
@token_required
def quiz_start(slug: str):
    quiz = quiz_or_404(slug)
    now = utcnow()
    with _locale():
        quizzes.expire_overdue(db.session, g.api_user.id, now)
        open_id = quizzes.quiz_status(db.session, g.api_user.id, quiz).in_progress_id
        if open_id:  # the web resumes her open attempt: so does the API
            return jsonify(attempt_json(db.session.get(QuizAttempt, open_id))), 200
        try:
            attempt = quizzes.start_attempt(db.session, g.api_user, quiz, now)
        except DomainError as e:
            return _refused(e.message, e.status if e.status in (404, 409) else 409)
    db.session.commit()
    return jsonify(attempt_json(attempt)), 201


def _own_attempt(attempt_id: str) -> QuizAttempt | None:
    number = parse_id(attempt_id)
    if number is None:
        return None
    try:
        return quizzes.get_own_attempt(db.session, g.api_user, number)
    except DomainError:
        return None


def _answers() -> dict | None:
    body = json_body()
    if not isinstance(body, dict) or not isinstance(body.get("answers"), dict) or set(body) - {"answers"}:
        return None
    return body["answers"] if checkins.storable_text(json.dumps(body["answers"], ensure_ascii=False)) else None


@bp.get("/attempts/<attempt_id>")
@token_required
def attempt_resume(attempt_id: str):
    attempt = _own_attempt(attempt_id)
    if attempt is None:
        return error(404, "no such attempt")
    quizzes.expire_overdue(db.session, g.api_user.id, utcnow())  # time up: graded on what was saved
    db.session.commit()
    return jsonify(attempt_json(attempt))


@bp.put("/attempts/<attempt_id>/answers")
@token_required
def attempt_save(attempt_id: str):
    return _answer(attempt_id, submit=False)


@bp.post("/attempts/<attempt_id>/submit")
@token_required
def attempt_submit(attempt_id: str):
    return _answer(attempt_id, submit=True)


def _answer(attempt_id: str, submit: bool):
    attempt = _own_attempt(attempt_id)
    if attempt is None:
        return error(404, "no such attempt")
    answers = _answers()
    if answers is None:
        return error(422, 'send {"answers": {"<question id>": <answer>, ...}} as Unicode text')
    now = utcnow()
    with _locale():
        try:
            (quizzes.submit_attempt if submit else quizzes.save_answers)(db.session, attempt, answers, now)
        except DomainError as e:
            db.session.rollback()
            quizzes.expire_overdue(db.session, g.api_user.id, now)  # time up: grade what was saved, as the web does
            db.session.commit()
            return error(422 if e.status == 422 else 409, str(e.message))
    db.session.commit()
    return jsonify(attempt_json(attempt))


# --- correcting a check-in ---------------------------------------------------------------------------

@bp.put("/checkins/<day>")
@token_required
def correct_checkin(day: str):
    """Correct her check-in for a day she has reported (the old values are kept in its history)."""
    try:
        when = checkins.parse_date(day)   # YYYY-MM-DD only: not 2026-W09-7
    except ValueError:
        when = None
    existing = next((c for c in checkins.checkins_of(db.session, g.api_user.id)
                     if c.day == when and c.is_reported), None) if when else None
    if existing is None:
        return error(404, "no check-in of yours for that day: POST /api/v1/checkins to check in")
    body = json_body()
    if not isinstance(body, dict):
        return error(422, "send a JSON object", fields={"body": "expected a JSON object"})
    if "date" in body and body["date"] != day:
        return error(422, "some fields are not valid", fields={"date": "the date is the one in the address"})
    with _locale():
        try:
            checkin, _created = checkins.record_checkin(db.session, g.api_user, {**body, "date": day}, utcnow(),
                                                        source="api")
        except DomainError as e:
            return _refused("some fields are not valid", 422,
                            {("date" if k == "day" else k): v for k, v in e.fields.items()})
    db.session.commit()
    return jsonify({**checkin_json(checkin), "revisions": len(checkin.revisions)})
