"""Writing to the outbox exactly once, and delivering from it.

Write: INSERT ... ON CONFLICT (key) DO NOTHING, so running the rules twice adds nothing.
Deliver: claim a batch (UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) on
PostgreSQL, so several dispatchers never take the same row; SQLite has one writer at a time),
commit the claim, then for each message: send, record the try, and mark it sent only once the
channel accepted it. A dispatcher that dies after claiming leaves rows `claimed`; they go back
to `pending` after the claim timeout. A slow dispatcher must not lose its rows that way while it
still works, nor act on rows it has lost: each claim carries a new token; before each send that
leaves the database (email, SMS, robots, webhooks) the dispatcher checks the row still carries its
token (and extends its whole claim now and then), and it records the outcome only by an UPDATE
conditional on the token (which alone guards an in-app message, written in that same transaction).
Per message: that UPDATE, the try's INSERT and the next row's token check, one commit; nothing is
reloaded. Failures wait longer after each try (exponential backoff with jitter) and, after the
last try, become dead letters for an admin to see and retry.
"""
import json
import os
import random
import secrets
import socket
import time
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
from app.reminders.robots import close_kept_connections
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


def claim(session: Session, now: datetime, worker: str, limit: int, token: str | None = None) -> list[int]:
    """Take up to `limit` due messages for this worker, under `token` (a new one when not given);
    other dispatchers skip them.

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
        .values(state=OutboxMessage.CLAIMED, claimed_at=now, claimed_by=worker,
                claim_token=token or secrets.token_hex(16))
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)).all()
    return sorted(claimed)


def hold(session: Session, token: str, now: datetime, ids: list[int] | None = None) -> set[int]:
    """Of this claim's rows (or of `ids` among them), those it still holds, their claim extended to
    `now`. A row released as stuck, or claimed again by another dispatcher, no longer carries the token."""
    if ids is not None and len(ids) == 1:   # before each send: the one-row statement, built once
        held = session.connection().execute(_HOLD_ONE, {"row_id": ids[0], "row_token": token, "row_now": now}).rowcount
        return set(ids) if held == 1 else set()
    query = sa.update(_outbox).where(_outbox.c.claim_token == token, _outbox.c.state == OutboxMessage.CLAIMED)
    if ids is not None:
        query = query.where(_outbox.c.id.in_(ids))
    return set(session.scalars(query.values(claimed_at=now).returning(_outbox.c.id)).all())


def _settle(session: Session, message_id: int, token: str) -> bool:
    """Whether this row is still ours, its token taken off: the check `_record` makes in the UPDATE
    that writes an outcome, alone."""
    return session.execute(
        sa.update(_outbox).where(_outbox.c.id == message_id, _outbox.c.claim_token == token,
                                 _outbox.c.state == OutboxMessage.CLAIMED)
        .values(claim_token=None)).rowcount == 1


def release_stuck(session: Session, now: datetime) -> int:
    """Claims older than the timeout belong to a dispatcher that died: give them back."""
    timeout = timedelta(seconds=current_app.config["REMINDER_CLAIM_TIMEOUT"])
    result = session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.state == OutboxMessage.CLAIMED, OutboxMessage.claimed_at < now - timeout)
        .values(state=OutboxMessage.PENDING, claimed_at=None, claimed_by=None, claim_token=None)
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
        close_kept_connections()
    return outcomes


def _dispatch_batches(session, renderer, clock, worker, batch, max_messages, outcomes) -> None:
    # Extend the whole claim this often (real seconds); each row's own token is checked before its send.
    every = current_app.config["REMINDER_CLAIM_TIMEOUT"] / 4
    while max_messages is None or sum(outcomes.values()) < max_messages:
        token = secrets.token_hex(16)
        ids = claim(session, clock(), worker, batch, token)
        session.commit()
        if not ids:
            break
        extended = time.monotonic()
        # The batch's rows, recipients and cohorts in three queries; this pass holds their claims, so
        # they stay loaded across the per-message commits (expire_on_commit is off).
        messages = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.id.in_(ids))
                                   .options(so.selectinload(OutboxMessage.user), so.selectinload(OutboxMessage.cohort))
                                   .order_by(OutboxMessage.id)
                                   .execution_options(populate_existing=True)).all()  # as the claim left them
        done_already = renderer.no_longer_due(messages, clock())
        robots = RobotSends(session, messages, clock())

        def still_ours(message: OutboxMessage) -> bool:
            """Before a send that leaves the database: does the row still carry our token? (Extends
            its claim, or now and then the whole claim's.) An in-app message is written in the
            transaction that records it: _record alone decides."""
            nonlocal extended
            if message.channel == "inapp":
                return True
            if time.monotonic() - extended >= every:
                extended = time.monotonic()
                return message.id in hold(session, token, clock())
            return message.id in hold(session, token, clock(), [message.id])

        ours = still_ours(messages[0])
        session.commit()
        for index, message in enumerate(messages):
            if not ours:
                outcome = _lost(message, worker)
            else:
                outcome = deliver(session, message, renderer, clock(), worker, skip=message.id in done_already,
                                  token=token, robots=robots)
                if outcome == "lost":
                    session.rollback()   # and the in-app message or admins' alert written for it
            outcomes[outcome] += 1
            if index + 1 < len(messages):
                # The next row's check shares this message's commit: one commit per message, and
                # nothing but that commit between the check and the send.
                ours = still_ours(messages[index + 1])
            session.commit()


def _lost(message: OutboxMessage, worker: str) -> str:
    """Another dispatcher has this row now (our claim was released as stuck): leave it to them."""
    current_app.logger.warning("delivery message=%s lost its claim worker=%s", message.id, worker)
    return "lost"


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


def _later(session, message: OutboxMessage, token, now: datetime, when: datetime, reason: str) -> str:
    """Not now, and not a failure: no try is counted."""
    if not _record(session, message, token, state=OutboxMessage.PENDING, next_try_at=when, last_error=reason):
        return "lost"
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
            skip: bool = False, token: str | None = None, robots: "RobotSends | None" = None) -> str:
    """Send one claimed message and record the outcome and the try; returns the outcome, or "lost"
    when the row no longer carries `token` (the caller rolls back)."""
    started = now
    if skip:
        return _finish(session, message, token, started, now, worker, "skipped", "no longer due")
    if message.user is not None and not message.user.is_active:
        return _finish(session, message, token, started, now, worker, "skipped", "account deactivated")
    pref = renderer.preference(message.user_id) if message.user_id else None
    if (until := quiet_until(message, pref, renderer.defaults, now)) is not None:
        return _later(session, message, token, now, until, "quiet hours")
    if message.channel in RATE_LIMITED:
        robots = robots or RobotSends(session, [message], now)
        if robots.busy(message):
            return _later(session, message, token, now, now + timedelta(seconds=60), "robot rate limit")
    tries = message.tries + 1
    try:
        content = renderer.render(message)
        if content is None:
            return _finish(session, message, token, started, now, worker, "skipped", "nothing to say")
        channel_for(message.channel, session).send(message, content)
    except Skip as reason:
        return _finish(session, message, token, started, now, worker, "skipped", str(reason))
    except Retry as problem:
        if tries >= current_app.config["REMINDER_MAX_TRIES"]:
            return _finish(session, message, token, started, now, worker, "dead", str(problem), tries=tries)
        wait = timedelta(seconds=problem.after_seconds) if problem.after_seconds else backoff(tries)
        return _finish(session, message, token, started, now, worker, "retry", str(problem), tries=tries,
                       next_try_at=now + wait)
    except Dead as problem:
        if problem.notify_admin:
            _tell_admins(session, message, str(problem), now)
        return _finish(session, message, token, started, now, worker, "dead", str(problem), tries=tries)
    if robots is not None and message.channel in RATE_LIMITED:
        robots.sent[message.cohort_id, message.channel] += 1   # the robot has it, whatever is recorded
    return _finish(session, message, token, started, now, worker, "sent", None, tries=tries, sent_at=now)


_STATE = {"sent": OutboxMessage.SENT, "retry": OutboxMessage.PENDING, "dead": OutboxMessage.DEAD,
          "skipped": OutboxMessage.SKIPPED}

# The hot statements, built once: per message, one UPDATE of its row and one INSERT of its try.
_outbox, _tries = OutboxMessage.__table__, DeliveryTry.__table__
_OUTCOME = {column: sa.bindparam(f"new_{column}") for column in ("state", "last_error", "tries", "next_try_at",
                                                                  "sent_at")}
_RECORD = (sa.update(_outbox).where(_outbox.c.id == sa.bindparam("row_id"), _outbox.c.state == OutboxMessage.CLAIMED)
           .values(claimed_at=None, claimed_by=None, claim_token=None, **_OUTCOME))
_RECORD_OURS = _RECORD.where(_outbox.c.claim_token == sa.bindparam("row_token"))
_HOLD_ONE = (sa.update(_outbox).where(_outbox.c.id == sa.bindparam("row_id"),
                                      _outbox.c.claim_token == sa.bindparam("row_token"),
                                      _outbox.c.state == OutboxMessage.CLAIMED)
             .values(claimed_at=sa.bindparam("row_now")))
_TRY = sa.insert(_tries)


def _record(session, message: OutboxMessage, token: str | None, **changes) -> bool:
    """Write the outcome on the row, only while it still carries `token` (without one: still claimed,
    as deliver_now's rows are); False when it does not. The conditional UPDATE locks the row (the
    database, on SQLite) until the commit, so no one takes it in between. The loaded object gets the
    same values as already stored: nothing is left for the ORM to flush."""
    values = {"state": message.state, "last_error": message.last_error, "tries": message.tries,
              "next_try_at": message.next_try_at, "sent_at": message.sent_at, **changes}
    params = {"row_id": message.id, **{f"new_{column}": value for column, value in values.items()}}
    if token is not None:
        params["row_token"] = token
    if session.connection().execute(_RECORD_OURS if token is not None else _RECORD, params).rowcount != 1:
        return False
    for column, value in {**values, "claimed_at": None, "claimed_by": None, "claim_token": None}.items():
        so.attributes.set_committed_value(message, column, value)
    return True


def _finish(session, message, token, started, now, worker, outcome: str, error: str | None, **changes) -> str:
    if not _record(session, message, token, state=_STATE[outcome], last_error=error, **changes):
        return "lost"
    session.connection().execute(_TRY, {"message_id": message.id, "worker": worker, "started_at": started,
                                        "finished_at": now, "outcome": outcome, "error": error})
    current_app.logger.info("delivery message=%s channel=%s rule=%s outcome=%s tries=%s error=%s",
                            message.id, message.channel, message.rule, outcome, message.tries, error)
    return outcome


class RobotSends:
    """Each group robot's sends in the last minute (ROBOT_PER_MINUTE), for a batch: one grouped COUNT
    for all its robots, then this dispatcher's own sends added as they go. Sends that leave the minute
    meanwhile still count (it errs on holding back); another dispatcher's sends meanwhile are seen at
    the next batch, and the platforms' own rate-limit answers (a Retry) catch the rest."""

    def __init__(self, session: Session, messages: list[OutboxMessage], now: datetime):
        robots = {(m.cohort_id, m.channel) for m in messages if m.channel in RATE_LIMITED}
        self.sent: Counter = Counter()
        if robots:
            self.sent.update({(cohort_id, channel): count for cohort_id, channel, count in session.execute(
                sa.select(OutboxMessage.cohort_id, OutboxMessage.channel, sa.func.count(OutboxMessage.id))
                .where(OutboxMessage.cohort_id.in_({cohort_id for cohort_id, _ in robots}),
                       OutboxMessage.channel.in_({channel for _, channel in robots}),
                       OutboxMessage.state == OutboxMessage.SENT,
                       OutboxMessage.sent_at > now - timedelta(seconds=60))
                .group_by(OutboxMessage.cohort_id, OutboxMessage.channel))})

    def busy(self, message: OutboxMessage) -> bool:
        return self.sent[message.cohort_id, message.channel] >= ROBOT_PER_MINUTE


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
