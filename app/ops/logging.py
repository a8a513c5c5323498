"""Structured logs: every line the app logger writes is one JSON object on stderr.

- One line per request: {"msg": "request", "method", "path", "status", "duration_ms", "user_id",
  "remote_addr", "endpoint"}, written when the request is torn down (so also for a request that
  failed with an exception, as status 500). Secret tokens in the path (password reset and
  unsubscribe links) are replaced by "<token>"; the query string is never logged.
- Any other `current_app.logger` call: {"time", "level", "logger", "msg"} plus the fields given
  with `extra={...}`; a message written logfmt-style, such as the outbox's
  `logger.info("delivery message=%s channel=%s ...", id, channel)`, also gets one field per
  `name=%s` pair ("message": 12, "channel": "email", ...), values keeping their JSON types.

The level is LOG_LEVEL (INFO by default, WARNING under TESTING so the test output stays quiet).
"""
import json
import logging
import re
import sys
import time
from datetime import datetime, timezone

import sqlalchemy as sa
from flask import g, request
from flask.logging import default_handler
from app.ops import setting

# The attributes every LogRecord has: anything else on a record came from `extra=`.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}
_RESERVED = {"time", "level", "logger", "msg", "exception", "stack"}
# `name=%s` pairs in a %-style message, and every placeholder (to check they all have a name).
_NAMED = re.compile(r"(\w+)=%(?:\([^)]*\))?[-#0 +]*(?:\d+|\*)?(?:\.(?:\d+|\*))?[diouxXeEfFgGcrsa]")
_PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\d+|\*)?(?:\.(?:\d+|\*))?[diouxXeEfFgGcrsa%]")
# Path parameters that are secrets: shown as <name> in the request log.
SECRET_VIEW_ARGS = ("token",)


def _jsonable(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def logfmt_fields(record: logging.LogRecord) -> dict:
    """{"message": 12, "channel": "email"} for `log("delivery message=%s channel=%s", 12, "email")`."""
    if not isinstance(record.msg, str) or not isinstance(record.args, tuple) or not record.args:
        return {}
    placeholders = [p for p in _PLACEHOLDER.findall(record.msg) if p != "%%"]
    names = _NAMED.findall(record.msg)
    if len(names) != len(placeholders) or len(names) != len(record.args):
        return {}
    return dict(zip(names, record.args))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, msg, then the fields."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = logfmt_fields(record)
        fields.update((k, v) for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_"))
        for key, value in fields.items():
            line[key if key not in _RESERVED else f"field_{key}"] = _jsonable(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (pytest's capture, gunicorn's redirection)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def level_for(app) -> int:
    name = str(setting(app, "LOG_LEVEL", "WARNING" if app.testing else "INFO")).upper()
    level = logging.getLevelName(name)
    if not isinstance(level, int):
        raise ValueError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {name!r}")
    return level


def configure(app) -> None:
    """JSON lines on stderr for the app logger (one logger per process: every app shares it)."""
    logger = app.logger
    logger.removeHandler(default_handler)
    if not any(isinstance(h, StderrHandler) for h in logger.handlers):
        handler = StderrHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    logger.setLevel(level_for(app))


def _user_id(here) -> int | None:
    """The signed-in user's id, if this request loaded her: never a query of its own."""
    user = here.get("api_user") or here.get("_login_user")
    state = sa.inspect(user, raiseerr=False) if user is not None else None
    if state is None or state.identity is None:
        return None  # anonymous, or not loaded by this request
    return state.identity[0]


def _path(req) -> str:
    path = req.path
    for name in SECRET_VIEW_ARGS:
        value = (req.view_args or {}).get(name)
        if isinstance(value, str) and value:
            path = path.replace(value, f"<{name}>")
    return path


def init_app(app) -> None:
    configure(app)

    def started():
        g._ops_started = time.perf_counter()

    def remember_status(response):
        g._ops_status = response.status_code
        return response

    def log_request(error):
        if not app.logger.isEnabledFor(logging.INFO):
            return
        here, req = g._get_current_object(), request._get_current_object()   # the proxies once, not ten times
        if here.get("_ops_logged"):
            return
        here._ops_logged = True
        began = here.get("_ops_started")
        status = here.get("_ops_status")
        if status is None or (error is not None and status < 500):
            status = 500  # torn down by an exception that no response was made for
        app.logger.info("request", extra={
            "method": req.method,
            "path": _path(req),
            "status": status,
            "duration_ms": round((time.perf_counter() - began) * 1000, 1) if began is not None else None,
            "user_id": _user_id(here),
            "remote_addr": req.remote_addr,
            "endpoint": req.endpoint,
        })

    # First of the before-request functions, so that the time includes the others.
    app.before_request_funcs.setdefault(None, []).insert(0, started)
    app.after_request(remember_status)
    app.teardown_request(log_request)
