"""Pruning what grows with use and is only worth keeping for a while: the outbox (its delivery tries
go with it), delivery tries, inbox messages and login attempts older than RETENTION_DAYS (90 by default).
Dead letters stay until an admin has handled them (retried: they are pending again, then sent, then
pruned in their turn). Run daily by the scheduler (app/reminders/scheduler.py) as the `prune` job.

An outbox key is what keeps a reminder from being written twice; a pruned key could be written again
only by an occasion that old, and the rules only look at the programme's days and the last few days'
events (docs/reminders.md), far inside the retention.
"""
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.accounts.models import LoginAttempt
from app.reminders.models import InboxMessage
from app.reminders.models import DeliveryTry, OutboxMessage


def prune(session: Session, now: datetime, days: int) -> dict[str, int]:
    """Delete what is older than `days`; returns the rows deleted per table. Four set-based DELETEs."""
    cutoff = now - timedelta(days=days)
    done = (OutboxMessage.SENT, OutboxMessage.SKIPPED)
    deleted = {}
    deleted["delivery_tries"] = session.execute(
        sa.delete(DeliveryTry).where(DeliveryTry.finished_at < cutoff, DeliveryTry.message_id.in_(
            sa.select(OutboxMessage.id).where(OutboxMessage.state != OutboxMessage.DEAD)))
        .execution_options(synchronize_session=False)).rowcount
    # Their remaining tries go with them (ON DELETE CASCADE).
    deleted["outbox"] = session.execute(
        sa.delete(OutboxMessage).where(OutboxMessage.created_at < cutoff, OutboxMessage.state.in_(done))
        .execution_options(synchronize_session=False)).rowcount
    deleted["inbox_messages"] = session.execute(
        sa.delete(InboxMessage).where(InboxMessage.created_at < cutoff)
        .execution_options(synchronize_session=False)).rowcount
    deleted["login_attempts"] = session.execute(
        sa.delete(LoginAttempt).where(LoginAttempt.attempted_at < cutoff)
        .execution_options(synchronize_session=False)).rowcount
    return deleted
