"""Reminder pages: a user's preferences, one-click unsubscribe, the admins' outbox."""
from flask import Blueprint

from app.reminders import models  # noqa: F401  (the tables, for migrations)

bp = Blueprint("reminders", __name__)
