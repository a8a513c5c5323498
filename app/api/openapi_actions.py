"""The OpenAPI paths and schemas of the trainee actions (app/api/actions.py), merged into the document."""
from app.api.openapi_parts import error_answers as _errors
from app.api.openapi_parts import json_answer as _json


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


FIELD_ERRORS = _ref("FieldErrors")
STORAGE_DOWN = "the photo storage could not be reached: nothing stored, try again in a few minutes"
INT_ID = {"type": "integer", "minimum": 1}

SCHEMAS = {
    "TaskCheckinIn": {"type": "object", "additionalProperties": False, "properties": {
        "task_key": {"type": "string", "description": "today's task when left out; a missed day's for 补卡"},
        "text": {"type": "string", "maxLength": 2000}, "number": {"type": "integer", "minimum": 0},
        "share": {"type": "boolean", "description": "show it on her cohort's wins feed"}},
        "example": {"text": "建了群，拉了 12 位朋友", "number": 12, "share": True}},
    "TaskCheckinForm": {"type": "object", "properties": {
        "task_key": {"type": "string"}, "text": {"type": "string"}, "number": {"type": "string"},
        "share": {"type": "string", "enum": ["1", "0", "true", "false"]},
        "photos": {"type": "array", "maxItems": 3, "items": {"type": "string", "format": "binary"},
                   "description": "up to 3 JPEG/PNG/WebP photos, each at most 8 MB (re-encoded without location)"}}},
    "TaskCheckin": {"type": "object", "required": ["id", "task_key", "day", "date", "is_makeup"], "properties": {
        "id": {"type": "integer"}, "task_key": {"type": "string"}, "day": {"type": "integer"},
        "date": {"type": "string", "format": "date"}, "text": {"type": "string"},
        "number": {"type": "integer", "nullable": True}, "is_makeup": {"type": "boolean", "description": "补卡"},
        "shared": {"type": "boolean"}, "photos": {"type": "array", "items": {"type": "integer"}},
        "created_at": {"type": "string", "format": "date-time"}}},
    "Calendar": {"type": "object", "required": ["month", "streak", "days"], "properties": {
        "month": {"type": "string", "example": "2026-05"}, "previous": {"type": "string"},
        "following": {"type": "string"}, "makeup_left": {"type": "integer"},
        "streak": {"type": "object", "properties": {"current": {"type": "integer"}, "longest": {"type": "integer"}}},
        "days": {"type": "array", "items": {"type": "object", "properties": {
            "date": {"type": "string", "format": "date"}, "programme_day": {"type": "integer"},
            "state": {"type": "string", "enum": ["done", "made_up", "missed", "today", "locked", "none"]},
            "is_today": {"type": "boolean"}, "can_make_up": {"type": "boolean"},
            "task": {"type": "object", "nullable": True, "properties": {
                "key": {"type": "string"}, "title": {"type": "string"}}}}}}}},
    "Lesson": {"type": "object", "required": ["slug", "title", "html", "is_done"], "properties": {
        "course": {"type": "string"}, "slug": {"type": "string"}, "title": {"type": "string"},
        "summary": {"type": "string"}, "minutes": {"type": "integer"},
        "objectives": {"type": "array", "items": {"type": "string"}},
        "html": {"type": "string", "description": "rendered and sanitised"},
        "markdown": {"type": "string", "nullable": True, "description": "the source, without its front matter"},
        "is_done": {"type": "boolean"}, "previous": {"type": "string", "nullable": True},
        "next": {"type": "string", "nullable": True}}},
    "LessonProgress": {"type": "object", "required": ["is_done", "done", "total"], "properties": {
        "course": {"type": "string"}, "lesson": {"type": "string"}, "is_done": {"type": "boolean"},
        "done": {"type": "integer"}, "total": {"type": "integer"}, "is_complete": {"type": "boolean"}}},
    "Post": {"type": "object", "properties": {
        "id": {"type": "integer"}, "kind": {"type": "string"}, "text": {"type": "string"},
        "author": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}},
        "created_at": {"type": "string", "format": "date-time"}, "is_pinned": {"type": "boolean"},
        "is_highlighted": {"type": "boolean"}, "is_own": {"type": "boolean"}, "likes": {"type": "integer"},
        "liked": {"type": "boolean"}, "photos": {"type": "array", "items": {"type": "integer"}, "description": (
            "GET /photos/<id>.jpg (full size), /photos/<id>-thumb.jpg (at most 320 px, for lists) or "
            "/photos/<id>-medium.jpg (1280 px) with her session")},
        "earnings": {"type": "string", "nullable": True, "description": "only when the author shares hers"},
        "comments": {"type": "array", "items": {"type": "object"}}}},
    "FeedPage": {"type": "object", "required": ["page", "has_more", "posts"], "properties": {
        "page": {"type": "integer"}, "has_more": {"type": "boolean"},
        "posts": {"type": "array", "items": _ref("Post")}}},
    "PostIn": {"type": "object", "additionalProperties": False, "properties": {
        "text": {"type": "string", "maxLength": 500}}, "example": {"text": "第一单！"}},
    "PostForm": {"type": "object", "properties": {
        "text": {"type": "string"},
        "photos": {"type": "array", "maxItems": 3, "items": {"type": "string", "format": "binary"}}}},
    "NewPost": {"type": "object", "properties": {
        "id": {"type": "integer"}, "kind": {"type": "string"}, "text": {"type": "string"},
        "photos": {"type": "array", "items": {"type": "integer"}}, "created_at": {"type": "string"}}},
    "Likes": {"type": "object", "required": ["id", "likes", "liked"], "properties": {
        "id": {"type": "integer"}, "likes": {"type": "integer"}, "liked": {"type": "boolean"}}},
    "CommentIn": {"type": "object", "required": ["body"], "additionalProperties": False, "properties": {
        "body": {"type": "string", "maxLength": 300}}, "example": {"body": "太棒了！"}},
    "Comment": {"type": "object", "properties": {
        "id": {"type": "integer"}, "post": {"type": "integer"}, "body": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"}}},
    "Deleted": {"type": "object", "properties": {"id": {"type": "integer"}, "deleted": {"type": "boolean"}}},
    "Inbox": {"type": "object", "required": ["unread", "messages"], "properties": {
        "unread": {"type": "integer"}, "messages": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "category": {"type": "string"}, "title": {"type": "string"},
            "body": {"type": "string"}, "link": {"type": "string", "nullable": True},
            "sender": {"type": "string", "nullable": True}, "created_at": {"type": "string", "format": "date-time"},
            "read_at": {"type": "string", "format": "date-time", "nullable": True}}}}}},
    "Marked": {"type": "object", "properties": {"marked": {"type": "integer"}, "unread": {"type": "integer"}}},
    "Preferences": {"type": "object", "properties": {
        "email_enabled": {"type": "boolean"},
        "email_categories": {"type": "object", "additionalProperties": {"type": "boolean"},
                             "description": "category: true to get it by email"},
        "group_mention": {"type": "boolean"}, "shares_earnings": {"type": "boolean"},
        "send_at": {"type": "string", "example": "20:00"}, "quiet_start": {"type": "string"},
        "quiet_end": {"type": "string"},
        "held_until": {"type": "string", "nullable": True,
                       "description": "her reminder time is in her quiet hours: reminders wait until then"}}},
    "PreferencesIn": {"type": "object", "additionalProperties": False, "properties": {
        "email_enabled": {"type": "boolean"}, "group_mention": {"type": "boolean"},
        "shares_earnings": {"type": "boolean"},
        "email_categories": {"type": "object", "additionalProperties": {"type": "boolean"}},
        "send_at": {"type": "string", "description": "HH:MM, or \"\" for the programme's"},
        "quiet_start": {"type": "string", "description": "with quiet_end"}, "quiet_end": {"type": "string"}},
        "example": {"send_at": "20:00", "quiet_start": "22:00", "quiet_end": "07:30", "shares_earnings": True}},
    "Attempt": {"type": "object", "required": ["id", "quiz", "state"],
                "description": "In progress: its questions (no answers) and what she saved. Finished: its result "
                               "(as AttemptResult).", "properties": {
        "id": {"type": "integer"}, "quiz": {"type": "string"}, "number": {"type": "integer"},
        "state": {"type": "string", "enum": ["in_progress", "graded", "awaiting_review"]},
        "started_at": {"type": "string", "format": "date-time"},
        "deadline": {"type": "string", "format": "date-time", "nullable": True},
        "saved_at": {"type": "string", "format": "date-time", "nullable": True},
        "answers": {"type": "object"}, "questions": {"type": "array", "items": {"type": "object"}},
        "score": {"type": "number"}, "max_score": {"type": "number"},
        "percent": {"type": "number", "nullable": True}, "passed": {"type": "boolean", "nullable": True},
        "answers_shown": {"type": "boolean"}}},
    "CheckinCorrection": {"type": "object", "additionalProperties": False, "properties": {
        "date": {"type": "string", "format": "date", "description": "if sent, the one in the address"},
        "earnings": {"oneOf": [{"type": "string"}, {"type": "number"}]},
        "orders": {"type": "integer", "minimum": 0}, "group_members": {"type": "integer", "minimum": 0},
        "active_members": {"type": "integer", "minimum": 0}, "posts": {"type": "integer", "minimum": 0},
        "note": {"type": "string", "maxLength": 2000}},
        "example": {"earnings": "15.00", "orders": 4}},
}


def _path(name: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string"}}


SLUG, LESSON = _path("slug"), _path("lesson_slug")
POST_ID, ATTEMPT_ID = _path("post_id", INT_ID), _path("attempt_id", INT_ID)
ANSWERS = {"required": True, "content": {"application/json": {"schema": _ref("Answers")}}}


def _body(json_schema: str, form_schema: str | None = None) -> dict:
    content = {"application/json": {"schema": _ref(json_schema)}}
    if form_schema:
        content["multipart/form-data"] = {"schema": _ref(form_schema)}
    return {"required": True, "content": content}


PATHS = {
    "/today/checkins": {"post": {
        "summary": "打卡 today's task, or 补卡 a missed day's (task_key): the Today page's rules and messages",
        "description": "JSON without photos, or multipart with up to 3 files in `photos`. Refused (nothing "
                       "stored, no photo kept): a task not yet open, done already, past the make-up window or "
                       "the week's make-ups, missing its proof, a photo too large or not an image. Trainees only.",
        "requestBody": _body("TaskCheckinIn", "TaskCheckinForm"),
        "responses": {"201": _json(_ref("TaskCheckin"), "stored"),
                      "422": _json(FIELD_ERRORS, "refused by the rules or the input: a message, and one per field"),
                      "503": _json(FIELD_ERRORS, STORAGE_DOWN), **_errors(401, 403, 404, 413)}}},
    "/calendar": {"get": {
        "summary": "Her camp calendar for a month (her current month by default), with her streak",
        "parameters": [{"name": "month", "in": "query", "schema": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
                        "description": "YYYY-MM"}],
        "responses": {"200": _json(_ref("Calendar"), "ok"), **_errors(401, 403, 422)}}},
    "/courses/{slug}/lessons/{lesson_slug}": {"get": {
        "summary": "A lesson's content: rendered HTML and its Markdown, in the caller's language",
        "parameters": [SLUG, LESSON],
        "responses": {"200": _json(_ref("Lesson"), "ok"), **_errors(401, 404)}}},
    "/courses/{slug}/lessons/{lesson_slug}/done": {
        "put": {"summary": "Mark the lesson done", "parameters": [SLUG, LESSON],
                "responses": {"200": _json(_ref("LessonProgress"), "ok"), **_errors(401, 404)}},
        "delete": {"summary": "Mark the lesson not done", "parameters": [SLUG, LESSON],
                   "responses": {"200": _json(_ref("LessonProgress"), "ok"), **_errors(401, 404)}}},
    "/feed": {
        "get": {"summary": "Her cohort's wins feed, pinned first then newest",
                "parameters": [{"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                                          "maximum": 10000}}],
                "responses": {"200": _json(_ref("FeedPage"), "ok"), **_errors(401, 403, 422)}},
        "post": {"summary": "Share a win with her cohort: a few lines and/or up to 3 photos (multipart)",
                 "requestBody": _body("PostIn", "PostForm"),
                 "responses": {"201": _json(_ref("NewPost"), "posted"),
                               "422": _json(FIELD_ERRORS, "refused: nothing stored"),
                               "503": _json(FIELD_ERRORS, STORAGE_DOWN), **_errors(401, 403, 404, 413)}}},
    "/feed/{post_id}": {"delete": {
        "summary": "Delete her own post", "parameters": [POST_ID],
        "responses": {"200": _json(_ref("Deleted"), "deleted"), **_errors(401, 404)}}},
    "/feed/{post_id}/like": {
        "put": {"summary": "Like a post (again is the same)", "parameters": [POST_ID],
                "responses": {"200": _json(_ref("Likes"), "ok"), **_errors(401, 404)}},
        "delete": {"summary": "Take her like back", "parameters": [POST_ID],
                   "responses": {"200": _json(_ref("Likes"), "ok"), **_errors(401, 404)}}},
    "/feed/{post_id}/comments": {"post": {
        "summary": "Comment on a post she can see", "parameters": [POST_ID],
        "requestBody": _body("CommentIn"),
        "responses": {"201": _json(_ref("Comment"), "stored"), **_errors(401, 404, 422)}}},
    "/inbox": {"get": {"summary": "Her in-app inbox, newest first (reading it marks nothing)",
                       "responses": {"200": _json(_ref("Inbox"), "ok"), **_errors(401)}}},
    "/inbox/read": {"post": {"summary": "Mark every message of her inbox read",
                             "responses": {"200": _json(_ref("Marked"), "ok"), **_errors(401)}}},
    "/preferences": {
        "get": {"summary": "Her reminder preferences as they apply (the programme's defaults where she chose none)",
                "responses": {"200": _json(_ref("Preferences"), "ok"), **_errors(401)}},
        "put": {"summary": "Change some of her reminder preferences (what is not sent stays)",
                "requestBody": _body("PreferencesIn"),
                "responses": {"200": _json(_ref("Preferences"), "saved"),
                              "422": _json(FIELD_ERRORS, "a message per field; nothing changed"), **_errors(401)}}},
    "/quizzes/{slug}/start": {"post": {
        "summary": "Start an attempt (or resume her open one, 200) to answer over several requests",
        "parameters": [SLUG],
        "responses": {"201": _json(_ref("Attempt"), "started"), "200": _json(_ref("Attempt"), "her open attempt"),
                      **_errors(401, 404, 409)}}},
    "/attempts/{attempt_id}": {"get": {
        "summary": "Resume her attempt: its questions and saved answers, or its result once finished",
        "parameters": [ATTEMPT_ID],
        "responses": {"200": _json(_ref("Attempt"), "ok"), **_errors(401, 404)}}},
    "/attempts/{attempt_id}/answers": {"put": {
        "summary": "Save answers of an attempt in progress (merged with those saved before)",
        "parameters": [ATTEMPT_ID], "requestBody": ANSWERS,
        "responses": {"200": _json(_ref("Attempt"), "saved"), **_errors(401, 404, 409, 422)}}},
    "/attempts/{attempt_id}/submit": {"post": {
        "summary": "Submit an attempt: graded on the server, the result back",
        "parameters": [ATTEMPT_ID], "requestBody": ANSWERS,
        "responses": {"200": _json(_ref("Attempt"), "graded"), **_errors(401, 404, 409, 422)}}},
    "/checkins/{day}": {"put": {
        "summary": "Correct her check-in for a day she reported (its earlier values are kept in its history)",
        "parameters": [_path("day", {"type": "string", "format": "date"})],
        "requestBody": _body("CheckinCorrection"),
        "responses": {"200": _json({"allOf": [_ref("Checkin"), {"type": "object", "properties": {
            "revisions": {"type": "integer"}}}]}, "corrected"),
                      "422": _json(FIELD_ERRORS, "a message per field; nothing changed"), **_errors(401, 404)}}},
}
