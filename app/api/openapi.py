"""The OpenAPI 3 document of the JSON API: extend it with every endpoint added."""

from app.api import openapi_actions
from app.api.openapi_parts import ERROR
from app.api.openapi_parts import error_answers as _errors
from app.api.openapi_parts import json_answer as _json


SCHEMAS = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
    "QuizSummary": {"type": "object", "properties": {
        "slug": {"type": "string"}, "title": {"type": "string", "description": "HTML"},
        "status": {"type": "string", "enum": ["not_started", "in_progress", "awaiting_review", "failed", "passed"]},
        "question_count": {"type": "integer"}, "pass_mark": {"type": "integer"},
        "max_attempts": {"type": "integer", "description": "0 means unlimited"},
        "attempts_used": {"type": "integer"}, "best_percent": {"type": "number", "nullable": True},
        "latest_percent": {"type": "number", "nullable": True}}},
    "Course": {"type": "object", "properties": {
        "slug": {"type": "string"}, "title": {"type": "string"}, "summary": {"type": "string"},
        "done": {"type": "integer"}, "total": {"type": "integer"}, "is_complete": {"type": "boolean"},
        "lessons": {"type": "array", "items": {"type": "object", "properties": {
            "slug": {"type": "string"}, "title": {"type": "string"}, "summary": {"type": "string"},
            "minutes": {"type": "integer"}, "is_done": {"type": "boolean"}}}},
        "quizzes": {"type": "array", "items": {"$ref": "#/components/schemas/QuizSummary"}}}},
    "Question": {"type": "object", "description": "Never contains answers, weights or feedback.", "properties": {
        "id": {"type": "string"},
        "type": {"type": "string", "enum": ["single", "multiple", "truefalse", "short", "numerical", "matching",
                                            "essay", "description"]},
        "points": {"type": "number"}, "text": {"type": "string", "description": "HTML"},
        "options": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "string"}, "text": {"type": "string"}}}},
        "items": {"type": "array", "description": "matching: the left-hand items", "items": {"type": "object"}},
        "choices": {"type": "array", "description": "matching: the right-hand choices", "items": {"type": "object"}},
        "rubric": {"type": "array", "description": "essay: how a mentor scores it", "items": {"type": "object"}}}},
    "Quiz": {"allOf": [{"$ref": "#/components/schemas/QuizSummary"}, {"type": "object", "properties": {
        "course": {"type": "string"}, "description": {"type": "string"},
        "draw": {"type": "integer", "nullable": True, "description": "answer exactly this many questions"},
        "time_limit_minutes": {"type": "integer", "nullable": True},
        "questions": {"type": "array", "items": {"$ref": "#/components/schemas/Question"}}}}]},
    "Answers": {"type": "object", "required": ["answers"], "properties": {"answers": {
        "type": "object", "description": (
            "question id -> answer: an option id (single, truefalse); a list of option ids (multiple); "
            "text (short, essay); a number or numeric text (numerical); {item id: choice id} (matching)"),
        "additionalProperties": True}},
        "example": {"answers": {"commission": "5.99", "good-pick": "x1a2b3c4d5e"}}},
    "CheckinIn": {"type": "object", "required": ["date", "earnings"], "additionalProperties": False, "properties": {
        "date": {"type": "string", "format": "date", "description": "her local day, not in the future"},
        "earnings": {"oneOf": [{"type": "string"}, {"type": "number"}],
                     "description": "yuan, at most 2 decimals, e.g. \"12.50\""},
        "orders": {"type": "integer", "minimum": 0}, "group_members": {"type": "integer", "minimum": 0},
        "active_members": {"type": "integer", "minimum": 0, "description": "at most group_members"},
        "posts": {"type": "integer", "minimum": 0}, "note": {"type": "string", "maxLength": 2000}},
        "example": {"date": "2026-11-25", "earnings": "12.50", "orders": 3, "group_members": 120,
                    "active_members": 30, "posts": 2, "note": "first 接龙"}},
    "Checkin": {"type": "object", "properties": {
        "id": {"type": "integer"}, "date": {"type": "string", "format": "date"}, "earnings": {"type": "string"},
        "earnings_fen": {"type": "integer"}, "orders": {"type": "integer", "nullable": True},
        "group_members": {"type": "integer", "nullable": True}, "active_members": {"type": "integer", "nullable": True},
        "posts": {"type": "integer", "nullable": True}, "note": {"type": "string"},
        "source": {"type": "string", "enum": ["web", "api", "import", "shop"],
                   "description": "who last wrote the day: shop when only a shop's orders filled it"},
        "earnings_source": {"type": "string", "enum": ["shop", "import", "checkin"],
                            "description": "where `earnings` comes from: a day the shop reported counts the shop's "
                                           "commission, never her figure as well"},
        "reported_earnings": {"type": "string", "nullable": True,
                              "description": "what she (or her mentor's import) reported for the day"},
        "updated_at": {"type": "string", "format": "date-time"}}},
    "Earnings": {"type": "object", "required": ["today", "week", "month", "total", "pending", "settled"],
                 "description": "Yuan strings (\"12.50\"). Each day counts once: the shop's commission on orders not "
                                "refunded when the shop reported that day, else what she reported.",
                 "properties": {
        "today": {"type": "string"}, "week": {"type": "string", "description": "Monday to today, her time"},
        "month": {"type": "string"}, "total": {"type": "string", "description": "since she started"},
        "pending": {"type": "string", "description": "shop commission paid, not yet settled"},
        "settled": {"type": "string", "description": "shop commission settled"},
        "from_shop": {"type": "string"}, "reported": {"type": "string"},
        "orders": {"type": "integer", "description": "shop orders not refunded"},
        "refunds": {"type": "integer"}},
        "example": {"today": "12.50", "week": "40.00", "month": "120.00", "total": "120.00", "pending": "12.50",
                    "settled": "27.50", "from_shop": "40.00", "reported": "80.00", "orders": 4, "refunds": 1}},
    "OrderEvent": {"type": "object", "required": ["order_id", "event", "commission", "occurred_at"],
                   "additionalProperties": False, "properties": {
        "order_id": {"type": "string", "maxLength": 64}, "event": {"type": "string", "enum": ["paid", "refunded", "settled"]},
        "mobile": {"type": "string", "description": "hers, when external_id is not sent"},
        "external_id": {"type": "string", "maxLength": 64, "description": "the shop's id for her, mapped by an admin"},
        "commission": {"type": "string", "description": "her commission in yuan, e.g. \"12.50\""},
        "amount": {"type": "string", "description": "the order's amount in yuan (optional)"},
        "occurred_at": {"type": "string", "format": "date-time", "description": "ISO 8601 with its offset"}},
        "example": {"order_id": "A1001", "event": "paid", "mobile": "13800000001", "commission": "12.50",
                    "amount": "99.00", "occurred_at": "2026-05-10T12:00:00+08:00"}},
    "OrderEventResult": {"type": "object", "required": ["result"], "properties": {
        "result": {"type": "string", "enum": ["applied", "duplicate"],
                   "description": "duplicate: this shop + order id + event was applied before; nothing changed"},
        "order": {"type": "object", "nullable": True, "properties": {
            "order_id": {"type": "string"}, "state": {"type": "string", "enum": ["pending", "settled", "refunded"]},
            "day": {"type": "string", "format": "date"}, "commission": {"type": "string"}}}}},
    "FieldErrors": {"type": "object", "properties": {"error": {"type": "string"},
                                                     "fields": {"type": "object", "additionalProperties": {"type": "string"}}}},
    "Progress": {"type": "object", "properties": {
        "program_day": {"type": "integer"}, "start": {"type": "string", "format": "date"},
        "today": {"type": "string", "format": "date"}, "checked_in_today": {"type": "boolean"},
        "milestones": {"type": "array", "items": {"type": "object", "properties": {
            "key": {"type": "string"}, "title": {"type": "string"}, "metric": {"type": "string"},
            "target": {"type": "string", "description": "yuan (\"100.00\") for earnings, else a whole number"},
            "earned": {"type": "string"}, "due": {"type": "string", "format": "date"},
            "days_left": {"type": "integer"},
            "status": {"type": "string", "enum": ["achieved", "on_track", "behind", "missed"]}}}},
        "courses": {"type": "array", "items": {"type": "object"}},
        "diagnosis": {"type": "object", "properties": {
            "has_data": {"type": "boolean"},
            "weakest": {"type": "string", "nullable": True, "enum": ["traffic", "circulation", "monetization", None]},
            "lesson": {"type": "string", "nullable": True, "description": "course/lesson to take next"},
            "factors": {"type": "array", "items": {"type": "object"}}}},
        "earnings": {"$ref": "#/components/schemas/Earnings"}}},
    "Today": {"type": "object", "required": ["program_day", "task", "unlocked", "done", "checked_in", "streak"],
              "properties": {
        "program_day": {"type": "integer", "description": "day 1 is her start, in her time zone"},
        "task": {"type": "object", "nullable": True, "description": "null on a day without a camp task",
                 "required": ["key", "title", "lesson", "proof"], "properties": {
            "key": {"type": "string"}, "title": {"type": "string", "description": "plain text"},
            "lesson": {"type": "string", "nullable": True, "description": "course/lesson that teaches it"},
            "proof": {"type": "array", "description": "what her 打卡 must include",
                      "items": {"type": "string", "enum": ["text", "photo", "number"]}}}},
        "unlocked": {"type": "boolean", "description": "today's task is open (it opens at the camp's unlock "
                                                       "time, her local time); false when there is no task"},
        "unlocks_at": {"type": "string", "format": "date-time", "nullable": True},
        "done": {"type": "boolean", "description": "she has done today's task (打卡)"},
        "checked_in": {"type": "boolean", "description": "she has done today's earnings check-in"},
        "streak": {"type": "object", "required": ["current", "longest"], "properties": {
            "current": {"type": "integer", "description": "task days done in a row (made-up days count)"},
            "longest": {"type": "integer"}}}},
        "example": {"program_day": 5, "task": {"key": "first-group-order", "title": "Run your first group order (接龙)",
                                               "lesson": "group-building/first-group-order", "proof": ["number"]},
                    "unlocked": True, "unlocks_at": "2026-05-08T00:00:00+00:00", "done": False, "checked_in": False,
                    "streak": {"current": 4, "longest": 4}}},
    "CohortSummary": {"type": "object", "required": ["id", "name", "start_date", "trainee_count"], "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"}, "start_date": {"type": "string", "format": "date"},
        "timezone": {"type": "string", "example": "Asia/Shanghai"},
        "trainee_count": {"type": "integer", "description": "active trainees"},
        "mentors": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"}}}}}},
    "TraineeRow": {"type": "object", "description": "One row of the cohort dashboard.", "properties": {
        "id": {"type": "integer"}, "name": {"type": "string", "description": "as she typed it: escape it"},
        "mobile": {"type": "string", "nullable": True}, "email": {"type": "string", "nullable": True},
        "programme_day": {"type": "integer", "description": "day 1 is her start, in her time zone"},
        "lessons_done": {"type": "integer"}, "lessons_total": {"type": "integer"},
        "quizzes_passed": {"type": "integer"}, "quizzes_total": {"type": "integer"},
        "earnings": {"type": "string", "description": "her total in yuan, e.g. \"12.50\""},
        "earnings_fen": {"type": "integer"},
        "status": {"type": "string", "nullable": True, "enum": ["achieved", "on_track", "behind", "missed", None],
                   "description": "her worst earnings milestone still counting"},
        "milestones": {"type": "array", "items": {"type": "object", "properties": {
            "key": {"type": "string"},
            "status": {"type": "string", "enum": ["achieved", "on_track", "behind", "missed"]},
            "earned": {"type": "string", "description": "yuan (\"12.50\") for earnings, else a whole number"}}}},
        "last_checkin": {"type": "string", "format": "date", "nullable": True},
        "last_active": {"type": "string", "format": "date-time", "nullable": True},
        "weakest": {"type": "string", "nullable": True, "enum": ["traffic", "circulation", "monetization", None]},
        "next_lesson": {"type": "string", "nullable": True, "description": "course/lesson she is on"},
        "reasons": {"type": "array", "description": "why she needs attention today, strongest first; empty "
                                                    "when none or when a mentor marked her contacted",
                    "items": {"type": "string",
                              "enum": ["behind", "quiet", "inactive", "failed_quiz", "essay_waiting",
                                       "task_missing"]}},
        "attention": {"type": "integer", "description": "the reasons' weight: higher is more urgent"},
        "contacted_at": {"type": "string", "format": "date-time", "nullable": True}}},
    "TraineePage": {"type": "object", "properties": {
        "cohort": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
                                                    "start_date": {"type": "string", "format": "date"}}},
        "page": {"type": "integer"}, "per_page": {"type": "integer"},
        "total": {"type": "integer", "description": "trainees matching the filters"},
        "pages": {"type": "integer"},
        "trainees": {"type": "array", "items": {"$ref": "#/components/schemas/TraineeRow"}}}},
    "AttemptResult": {"type": "object", "properties": {
        "id": {"type": "integer"}, "quiz": {"type": "string"}, "number": {"type": "integer"},
        "state": {"type": "string", "enum": ["graded", "awaiting_review"]},
        "score": {"type": "number"}, "max_score": {"type": "number"},
        "percent": {"type": "number", "nullable": True}, "passed": {"type": "boolean", "nullable": True},
        "answers_shown": {"type": "boolean", "description": "false while the quiz hides answers until passed"},
        "questions": {"type": "array", "items": {"type": "object"}}}},
}


PREFIX = "/api/v1"  # the API blueprint's url_prefix


def document() -> dict:
    """The paths below are written relative to /api/v1 and published in full."""
    spec = _document()
    spec["components"]["schemas"] = {**SCHEMAS, **openapi_actions.SCHEMAS}
    spec["paths"] = {PREFIX + path: item for path, item in {**spec["paths"], **openapi_actions.PATHS}.items()}
    return spec


def _document() -> dict:
    bearer = [{"bearer": []}]
    return {
        "openapi": "3.0.3",
        "info": {"title": "Xiaob Academy API", "version": "1",
                 "description": "For the app's own clients (e.g. a WeChat mini-program). Authenticate with a "
                                "personal access token: `Authorization: Bearer <token>`. Texts come in the "
                                "caller's language (her setting, else Accept-Language)."},
        "servers": [{"url": "/"}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": SCHEMAS},
        "security": bearer,
        "paths": {
            "/checkins": {
                "get": {"summary": "The caller's check-ins, oldest first",
                        "responses": {"200": _json({"type": "array", "items": {"$ref": "#/components/schemas/Checkin"}},
                                                   "ok"), **_errors(401)}},
                "post": {"summary": "Check in for a day (a second one for the same day corrects it, keeping history)",
                         "requestBody": {"required": True, "content": {"application/json": {
                             "schema": {"$ref": "#/components/schemas/CheckinIn"}}}},
                         "responses": {"201": _json({"$ref": "#/components/schemas/Checkin"}, "stored"),
                                       "200": _json({"$ref": "#/components/schemas/Checkin"}, "that day corrected"),
                                       "422": _json({"$ref": "#/components/schemas/FieldErrors"},
                                                    "a message per field; nothing stored"), **_errors(401)}}},
            "/hooks/orders": {"post": {
                "summary": "A shop's order event (paid, refunded, settled) for a trainee: her earnings come from it",
                "description": "Signed by the shop, no bearer token: X-Signature is `sha256=` + hex "
                               "HMAC-SHA256(secret, X-Timestamp + \".\" + raw body). Requests more than 5 minutes "
                               "from the server's clock are refused. Each shop + order id + event is applied once; "
                               "a replay answers 200 with result `duplicate`. A refusal stores nothing. "
                               "See docs/integrations.md.",
                "security": [],
                "parameters": [
                    {"name": "X-Shop-Id", "in": "header", "required": True, "schema": {"type": "string"}},
                    {"name": "X-Timestamp", "in": "header", "required": True,
                     "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"}, "description": "Unix seconds"},
                    {"name": "X-Signature", "in": "header", "required": True,
                     "schema": {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"}}],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/OrderEvent"}}}},
                "responses": {"200": _json({"$ref": "#/components/schemas/OrderEventResult"}, "applied, or a replay"),
                              "401": _json(ERROR, "unknown shop, stale timestamp or bad signature"),
                              "409": _json(ERROR, "the order id is another trainee's order at this shop"),
                              "413": _json(ERROR, "the body is larger than 16 KB"),
                              "422": _json({"$ref": "#/components/schemas/FieldErrors"},
                                           "a message per field, or an unknown trainee"),
                              **_errors()}}},
            "/progress": {"get": {
                "summary": "Programme day, milestones with status, course progress, the diagnosis and her earnings",
                "responses": {"200": _json({"$ref": "#/components/schemas/Progress"}, "ok"), **_errors(401)}}},
            "/today": {"get": {
                "summary": "The caller's camp today: programme day, the day's task, whether it is open and done, "
                           "her earnings check-in and her streak",
                "responses": {"200": _json({"$ref": "#/components/schemas/Today"}, "ok"), **_errors(401)}}},
            "/courses": {"get": {
                "summary": "Courses with their lessons and quizzes, and the caller's progress",
                "responses": {"200": _json({"type": "array", "items": {"$ref": "#/components/schemas/Course"}}, "ok"),
                              **_errors(401)}}},
            "/quizzes/{slug}": {"get": {
                "summary": "A quiz and its questions, without answers",
                "parameters": [{"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": _json({"$ref": "#/components/schemas/Quiz"}, "ok"), **_errors(401, 404)}}},
            "/quizzes/{slug}/attempts": {"post": {
                "summary": "Submit answers: a new attempt, graded on the server under the quiz's rules",
                "parameters": [{"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Answers"}}}},
                "responses": {"201": _json({"$ref": "#/components/schemas/AttemptResult"}, "graded"),
                              **_errors(401, 404, 409, 422)}}},
            "/cohorts": {"get": {
                "summary": "The cohorts the caller coaches (every cohort for an admin); mentors and admins only",
                "description": "A trainee's token gets 403.",
                "responses": {"200": _json({"type": "array", "items": {"$ref": "#/components/schemas/CohortSummary"}},
                                           "ok"), **_errors(401, 403)}}},
            "/cohorts/{cohort_id}/trainees": {"get": {
                "summary": "The cohort dashboard's rows, a page at a time",
                "description": "404 for a cohort the caller does not coach, exactly as for one that does not exist "
                               "(a trainee's token included).",
                "parameters": [
                    {"name": "cohort_id", "in": "path", "required": True, "schema": {"type": "integer"}},
                    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
                    {"name": "per_page", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                     "description": "more than 200 counts as 200"},
                    {"name": "sort", "in": "query", "schema": {
                        "type": "string", "default": "name",
                        "enum": ["name", "attention", "status", "earnings", "lessons", "last_active"]}},
                    {"name": "status", "in": "query",
                     "schema": {"type": "string", "enum": ["achieved", "on_track", "behind", "missed"]}},
                    {"name": "q", "in": "query", "schema": {"type": "string"},
                     "description": "part of her name, mobile or email (the first 80 characters count)"}],
                "responses": {"200": _json({"$ref": "#/components/schemas/TraineePage"}, "ok"),
                              **_errors(401, 404, 422)}}},
        },
    }
