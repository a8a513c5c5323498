"""Pruning after the retention: old sent/skipped outbox rows and their tries, old tries, inbox messages
and login attempts go; dead letters and anything recent stay. Run by the scheduler's `prune` job."""
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from app.accounts.models import LoginAttempt
from app.reminders.models import InboxMessage
from app.database import utcnow
from app.extensions import db
from app.ops.retention import prune
from app.reminders import scheduler
from app.reminders.models import DeliveryTry, OutboxMessage, SchedulerRun
from tests.conftest import make_user

NOW = datetime(2026, 9, 1, 12, tzinfo=timezone.utc)
OLD, RECENT = NOW - timedelta(days=91), NOW - timedelta(days=89)  # around the default 90 days


def outbox_row(key: str, state: str, at: datetime, user_id: int) -> OutboxMessage:
    row = OutboxMessage(key=key, rule="nudge", category="nudge", occasion=key, channel="inapp", user_id=user_id,
                        params={}, state=state, due_at=at, next_try_at=at, created_at=at)
    row.tries_log.append(DeliveryTry(worker="w", started_at=at, finished_at=at, outcome=state))
    db.session.add(row)
    return row


def seed_outbox(now: datetime = NOW):
    old, recent = now - (NOW - OLD), now - (NOW - RECENT)
    user = make_user("t@example.com")
    rows = {name: outbox_row(name, state, at, user.id) for name, state, at in (
        ("old-sent", OutboxMessage.SENT, old), ("old-skipped", OutboxMessage.SKIPPED, old),
        ("old-dead", OutboxMessage.DEAD, old), ("old-pending", OutboxMessage.PENDING, old),
        ("recent-sent", OutboxMessage.SENT, recent))}
    # a message kept (pending) with an old try and a recent one: the old try goes
    rows["old-pending"].tries_log.append(DeliveryTry(worker="w", started_at=recent, finished_at=recent, outcome="retry"))
    for at in (old, recent):
        db.session.add(InboxMessage(recipient_id=user.id, body=f"hello {at:%m-%d}", created_at=at))
        db.session.add(LoginAttempt(account="t@example.com", address="192.0.2.1", attempted_at=at))
    db.session.commit()


def test_prune_keeps_dead_letters_and_what_is_recent(app):
    seed_outbox()
    deleted = prune(db.session, NOW, 90)
    db.session.commit()
    assert deleted == {"delivery_tries": 3, "outbox": 2, "inbox_messages": 1, "login_attempts": 1}
    assert set(db.session.scalars(sa.select(OutboxMessage.key))) == {"old-dead", "old-pending", "recent-sent"}
    tries = db.session.execute(sa.select(OutboxMessage.key, DeliveryTry.finished_at).join(DeliveryTry.message)).all()
    assert sorted(tries) == [("old-dead", OLD), ("old-pending", RECENT), ("recent-sent", RECENT)]
    assert db.session.scalars(sa.select(InboxMessage.created_at)).all() == [RECENT]
    assert db.session.scalars(sa.select(LoginAttempt.attempted_at)).all() == [RECENT]
    assert prune(db.session, NOW, 90) == dict.fromkeys(deleted, 0)  # nothing more: safe to repeat


def test_the_retention_is_configurable_and_the_scheduler_prunes(app):
    seed_outbox(utcnow())  # the job prunes as of the real clock
    app.config["RETENTION_DAYS"] = 30
    detail = scheduler.run_job(app, "prune")
    assert detail["outbox"] == 3 and detail["login_attempts"] == 2  # with 30 days, the 89-day-old go too
    db.session.expire_all()
    assert db.session.get(SchedulerRun, "prune").ok is True
