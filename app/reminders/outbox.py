"""Writing to the outbox exactly once, and delivering from it.

Write: INSERT ... ON CONFLICT (key) DO NOTHING, so running the rules twice adds nothing.
Deliver: claim a batch (UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) on
PostgreSQL, so several dispatchers never take the same row; SQLite has one writer at a time),
commit the claim, then for each message: send, record the try, and mark it sent only once the
channel accepted it. A dispatcher that dies after claiming leaves rows `claimed`; they go back
to `pending` after the claim timeout. Failures wait longer after each try (exponential backoff
with jitter) and, after the last try, become dead letters for an admin to see and retry.
"""
import json
import os
import random
import socket
from collections import Counter
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app
from sqlalchemy.orm import Session

from app.database import utcnow
from app.reminders import preferences
from app.reminders.channels import Dead, Retry, Skip
from app.reminders.registry import channel_for
from app.reminders.models import ROBOT_CHANNELS, DeliveryTry, OutboxMessage, ReminderPreference
from app.core import calendar
from app.reminders.render import Renderer
from app.accounts.models import User
from app.core.access import Role

ROBOT_PER_MINUTE = 20   # WeCom and DingTalk accept 20 messages a minute per robot
RATE_LIMITED = ("wecom", "dingtalk", "feishu")   # group robots; an integrator's webhook is not limited
URGENT = ("password_changed",)   # security notices go out even in quiet hours


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def key_for(recipient: str, rule: str, occasion: str, channel: str) -> str:
    """The idempotency key: who, what, which occasion, which way."""
    return f"{recipient}/{rule}/{occasion}/{channel}"


# What a rule writes for each message; the rest of a new row is the same for all (pending, no tries).
_WRITTEN = {"key": "text", "rule": "text", "category": "text", "occasion": "text", "channel": "text",
            "user_id": "integer", "cohort_id": "integer", "params": "json", "due_at": "timestamp",
            "expires_at": "timestamp"}
_COLUMNS = ", ".join(_WRITTEN) + ", state, next_try_at, tries, created_at"
# One statement per batch, its rows in one JSON parameter: the statement text never changes (prepared once,
# no parsing of thousands of VALUES), and ON CONFLICT skips the keys already there.
_INSERT = {
    "postgresql": sa.text(
        f"INSERT INTO outbox ({_COLUMNS}) "
        f"SELECT {', '.join(f'r.{name}' for name in _WRITTEN)}, 'pending', r.due_at, 0, CAST(:now AS timestamp) "
        f"FROM json_to_recordset(CAST(:rows AS json)) AS r({', '.join(f'{k} {t}' for k, t in _WRITTEN.items())}) "
        "ON CONFLICT (key) DO NOTHING"),
    "sqlite": sa.text(
        f"INSERT INTO outbox ({_COLUMNS}) "
        f"SELECT {', '.join(f'json_extract(value, {chr(39)}$.{name}{chr(39)})' for name in _WRITTEN)}, 'pending', "
        "json_extract(value, '$.due_at'), 0, :now "
        "FROM json_each(:rows) WHERE true "  # WHERE: SQLite's parser needs it before ON CONFLICT
        "ON CONFLICT (key) DO NOTHING"),
}
BATCH = 10_000


def _stored(moment: datetime | None) -> str | None:
    """A timestamp as UTCDateTime stores it: naive UTC, as text both backends read back."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f") if moment else None


def write(session: Session, rows: list[dict], now: datetime) -> int:
    """Add the messages whose key is not there yet; returns how many were new.

    Each row: key, rule, category, occasion, channel, user_id or cohort_id, params, due_at and
    optionally expires_at. Keys written in the last two days are skipped before inserting (a rule
    run repeats every few minutes: most of its rows exist); ON CONFLICT DO NOTHING catches the rest,
    e.g. two processes writing at once. Rows go in key order, so two writers never deadlock.
    A set-based INSERT ... SELECT per batch of 10,000 (json_to_recordset on PostgreSQL, json_each on
    SQLite): the database unpacks the rows, not the ORM."""
    if not rows:
        return 0
    recent = set(session.scalars(sa.select(OutboxMessage.key).where(
        OutboxMessage.created_at >= now - timedelta(days=2), OutboxMessage.rule.in_({r["rule"] for r in rows}))))
    fresh = sorted((row for row in rows if row["key"] not in recent), key=lambda row: row["key"])
    if not fresh:
        return 0
    statement = _INSERT[session.get_bind().dialect.name]
    created = 0
    for start in range(0, len(fresh), BATCH):
        batch = [{"key": row["key"], "rule": row["rule"], "category": row["category"], "occasion": row["occasion"],
                  "channel": row["channel"], "user_id": row.get("user_id"), "cohort_id": row.get("cohort_id"),
                  "params": row.get("params") or {}, "due_at": _stored(row["due_at"]),
                  "expires_at": _stored(row.get("expires_at"))} for row in fresh[start:start + BATCH]]
        result = session.execute(statement, {"rows": json.dumps(batch, ensure_ascii=False, separators=(",", ":")),
                                             "now": _stored(now)})
        created += result.rowcount
    return created


def claim(session: Session, now: datetime, worker: str, limit: int) -> list[int]:
    """Take up to `limit` due messages for this worker; other dispatchers skip them.

    Two statements in one transaction: the locking SELECT first, then the UPDATE of exactly those
    ids (inside one UPDATE ... IN (subquery), PostgreSQL may plan the subquery's LIMIT away)."""
    due = session.scalars(
        sa.select(OutboxMessage.id)
        .where(OutboxMessage.state == OutboxMessage.PENDING, OutboxMessage.next_try_at <= now)
        .order_by(OutboxMessage.next_try_at, OutboxMessage.id).limit(limit)
        .with_for_update(skip_locked=True)).all()
    if not due:
        return []
    claimed = session.scalars(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id.in_(due), OutboxMessage.state == OutboxMessage.PENDING)
        .values(state=OutboxMessage.CLAIMED, claimed_at=now, claimed_by=worker)
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)).all()
    return sorted(claimed)


def release_stuck(session: Session, now: datetime) -> int:
    """Claims older than the timeout belong to a dispatcher that died: give them back."""
    timeout = timedelta(seconds=current_app.config["REMINDER_CLAIM_TIMEOUT"])
    result = session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.state == OutboxMessage.CLAIMED, OutboxMessage.claimed_at < now - timeout)
        .values(state=OutboxMessage.PENDING, claimed_at=None, claimed_by=None)
        .execution_options(synchronize_session=False))
    return result.rowcount


def expire(session: Session, now: datetime) -> int:
    """A daily reminder whose day is over is not worth sending any more."""
    result = session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.state == OutboxMessage.PENDING, OutboxMessage.expires_at < now)
        .values(state=OutboxMessage.SKIPPED, last_error="expired")
        .execution_options(synchronize_session=False))
    return result.rowcount


def backoff(tries: int) -> timedelta:
    """After the n-th failed try: base x 2^(n-1), capped, with +-50% jitter so retries spread out."""
    base = current_app.config["REMINDER_BACKOFF_SECONDS"]
    delay = min(base * 2 ** (tries - 1), 6 * 3600)
    return timedelta(seconds=delay * random.uniform(0.5, 1.5))


def retry_dead(session: Session, ids: list[int] | None, now: datetime) -> int:
    """Put dead letters back in the queue, with a fresh count of tries (an admin fixed the cause)."""
    query = sa.update(OutboxMessage).where(OutboxMessage.state == OutboxMessage.DEAD)
    if ids is not None:
        query = query.where(OutboxMessage.id.in_(ids))
    result = session.execute(query.values(state=OutboxMessage.PENDING, tries=0, next_try_at=now, last_error=None)
                             .execution_options(synchronize_session=False))
    return result.rowcount


def dispatch(session: Session, now: datetime | None = None, *, worker: str | None = None, batch: int = 100,
             max_messages: int | None = None) -> Counter:
    """One pass: release stuck claims, then claim and deliver until nothing is due.

    `now` fixes the clock for everything decided here (tests and `--now`); None follows the
    real clock, batch by batch. Returns the outcomes counted: sent, retry, dead, skipped, later."""
    worker = worker or worker_name()
    fixed = now
    outcomes: Counter = Counter()
    clock = (lambda: fixed) if fixed is not None else utcnow
    release_stuck(session, clock())
    expire(session, clock())
    session.commit()
    renderer = Renderer(session)
    # Each message is committed on its own; keep the batch's other rows loaded across those commits
    # (this pass holds their claims, no one else changes them).
    real = session() if isinstance(session, so.scoped_session) else session
    expiring, real.expire_on_commit = real.expire_on_commit, False
    try:
        _dispatch_batches(session, renderer, clock, worker, batch, max_messages, outcomes)
    finally:
        real.expire_on_commit = expiring
    return outcomes


def _dispatch_batches(session, renderer, clock, worker, batch, max_messages, outcomes) -> None:
    while max_messages is None or sum(outcomes.values()) < max_messages:
        ids = claim(session, clock(), worker, batch)
        session.commit()
        if not ids:
            break
        messages = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.id.in_(ids))
                                   .options(so.selectinload(OutboxMessage.user), so.selectinload(OutboxMessage.cohort))
                                   .order_by(OutboxMessage.id)
                                   .execution_options(populate_existing=True)).all()  # as the claim left them
        done_already = renderer.no_longer_due(messages, clock())
        for message in messages:
            outcomes[deliver(session, message, renderer, clock(), worker, skip=message.id in done_already)] += 1
            session.commit()


def deliver_now(session: Session, ids: list[int], now: datetime) -> None:
    """Deliver these messages in this request (a mentor's nudge to the in-app inbox)."""
    worker = worker_name()
    claimed = session.scalars(
        sa.update(OutboxMessage).where(OutboxMessage.id.in_(ids), OutboxMessage.state == OutboxMessage.PENDING)
        .values(state=OutboxMessage.CLAIMED, claimed_at=now, claimed_by=worker).returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)).all()
    renderer = Renderer(session)
    for message_id in claimed:
        deliver(session, session.get(OutboxMessage, message_id, populate_existing=True), renderer, now, worker)


def _later(message: OutboxMessage, now: datetime, when: datetime, reason: str) -> str:
    """Not now, and not a failure: no try is counted."""
    message.state, message.next_try_at, message.claimed_at, message.claimed_by = (
        OutboxMessage.PENDING, when, None, None)
    message.last_error = reason
    return "later"


def quiet_until(message: OutboxMessage, pref: ReminderPreference | None, defaults: dict, now: datetime):
    """When the recipient's quiet hours end, if they are on now; None otherwise. In-app messages
    make no sound, so they are never held back."""
    if message.channel == "inapp" or message.rule in URGENT:
        return None
    if message.channel in ROBOT_CHANNELS:
        zone, effective = message.cohort.timezone, preferences.effective(defaults, None)
    else:
        zone, effective = message.user.timezone, preferences.effective(defaults, pref)
    local = now.astimezone(calendar.zone(zone))
    allowed = preferences.next_allowed(local, effective.quiet_start, effective.quiet_end)
    return None if allowed <= local else allowed


def deliver(session: Session, message: OutboxMessage, renderer, now: datetime, worker: str,
            skip: bool = False) -> str:
    """Send one claimed message and record the try; returns its outcome."""
    started = now
    if skip:
        return _finish(session, message, started, now, worker, "skipped", "no longer due")
    if message.user is not None and not message.user.is_active:
        return _finish(session, message, started, now, worker, "skipped", "account deactivated")
    pref = renderer.preference(message.user_id) if message.user_id else None
    if (until := quiet_until(message, pref, renderer.defaults, now)) is not None:
        return _later(message, now, until, "quiet hours")
    if message.channel in RATE_LIMITED and _robot_busy(session, message, now):
        return _later(message, now, now + timedelta(seconds=60), "robot rate limit")
    try:
        content = renderer.render(message)
        if content is None:
            return _finish(session, message, started, now, worker, "skipped", "nothing to say")
        channel_for(message.channel, session).send(message, content)
    except Skip as reason:
        return _finish(session, message, started, now, worker, "skipped", str(reason))
    except Retry as problem:
        message.tries += 1
        if message.tries >= current_app.config["REMINDER_MAX_TRIES"]:
            return _finish(session, message, started, now, worker, "dead", str(problem))
        wait = timedelta(seconds=problem.after_seconds) if problem.after_seconds else backoff(message.tries)
        message.next_try_at = now + wait
        return _finish(session, message, started, now, worker, "retry", str(problem))
    except Dead as problem:
        message.tries += 1
        if problem.notify_admin:
            _tell_admins(session, message, str(problem), now)
        return _finish(session, message, started, now, worker, "dead", str(problem))
    message.tries += 1
    message.sent_at = now
    return _finish(session, message, started, now, worker, "sent", None)


_STATE = {"sent": OutboxMessage.SENT, "retry": OutboxMessage.PENDING, "dead": OutboxMessage.DEAD,
          "skipped": OutboxMessage.SKIPPED}


def _finish(session, message, started, now, worker, outcome: str, error: str | None) -> str:
    message.state, message.last_error = _STATE[outcome], error
    message.claimed_at = message.claimed_by = None
    session.add(DeliveryTry(message_id=message.id, worker=worker, started_at=started, finished_at=now,
                            outcome=outcome, error=error))
    current_app.logger.info("delivery message=%s channel=%s rule=%s outcome=%s tries=%s error=%s",
                            message.id, message.channel, message.rule, outcome, message.tries, error)
    return outcome


def _robot_busy(session: Session, message: OutboxMessage, now: datetime) -> bool:
    sent = session.scalar(sa.select(sa.func.count(OutboxMessage.id)).where(
        OutboxMessage.cohort_id == message.cohort_id, OutboxMessage.channel == message.channel,
        OutboxMessage.state == OutboxMessage.SENT, OutboxMessage.sent_at > now - timedelta(seconds=60)))
    return sent >= ROBOT_PER_MINUTE


def _tell_admins(session: Session, message: OutboxMessage, reason: str, now: datetime) -> None:
    """A robot that can never work needs a person: every admin gets it in the app, once per cause."""
    admins = session.scalars(sa.select(User.id).where(User.role == Role.ADMIN, User.is_active.is_(True))).all()
    cohort = message.cohort.name if message.cohort else "-"
    write(session, [{"key": key_for(f"user:{admin}", "robot_failed", f"{message.channel}:{message.cohort_id}:"
                                    f"{now:%Y-%m-%d}", "inapp"),
                     "rule": "robot_failed", "category": "digest", "occasion": f"{message.cohort_id}",
                     "channel": "inapp", "user_id": admin, "due_at": now,
                     "params": {"cohort": cohort, "channel": message.channel, "reason": reason[:300]}}
                    for admin in admins], now)
