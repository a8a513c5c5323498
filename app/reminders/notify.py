"""The one way another domain sends someone a message: `notify(session, user, rule, params, now)`.

The message goes through the outbox like every reminder (written once, retried, dead letters): in
her inbox at once, and by email when she has an address, email is configured and she takes that
category by email. Security notices ("security") go by email whatever she muted.
"""
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.checkins.service import get_programme
from app.reminders import outbox
from app.reminders.models import OutboxMessage
from app.reminders.preferences import effective, get_preference

ALWAYS_BY_EMAIL = {"security"}


def channels_for(session: Session, user: User, category: str) -> list[str]:
    if not (user.email and current_app.config.get("SMTP_HOST")):
        return ["inapp"]
    if category in ALWAYS_BY_EMAIL:
        return ["inapp", "email"]
    prefs = effective(get_programme(session).reminders or {}, get_preference(session, user))
    return ["inapp", "email"] if prefs.wants_email(category) else ["inapp"]


def notify(session: Session, user: User, rule: str, params: dict, now: datetime, *, category: str,
           occasion: str | None = None) -> list[int]:
    """Write the message for each of her channels and deliver the in-app one now; returns the outbox
    ids. `occasion` makes the key unique (the same occasion twice writes nothing new)."""
    occasion = occasion or f"{now.timestamp():.6f}"
    rows = [{"key": outbox.key_for(f"user:{user.id}", rule, occasion, channel), "rule": rule, "category": category,
             "occasion": occasion, "channel": channel, "user_id": user.id, "params": params, "due_at": now}
            for channel in channels_for(session, user, category)]
    outbox.write(session, rows, now)
    written = session.execute(sa.select(OutboxMessage.id, OutboxMessage.channel)
                              .where(OutboxMessage.key.in_([row["key"] for row in rows]))).all()
    outbox.deliver_now(session, [message_id for message_id, channel in written if channel == "inapp"], now)
    return [message_id for message_id, _ in written]
