"""GET /admin/metrics: what an operator (or a monitoring probe with an admin's session) watches.

Admins only, like every /admin page: anonymous visitors go to the login page, anyone else gets 404.
Every query is bounded: the outbox is read through its (state, next_try_at) index for the
non-final states only (sent and skipped rows pile up forever and are never scanned), the
scheduler table has one row per job, the users are grouped by role.
"""
from datetime import datetime

import sqlalchemy as sa
from flask import Blueprint, jsonify

from app.accounts.models import User
from app.core.access import require_admin
from app.database import utcnow
from app.extensions import db
from app.reminders.models import OutboxMessage, SchedulerRun

bp = Blueprint("metrics", __name__, url_prefix="/admin")
bp.before_request(require_admin)


def _seconds_since(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else round(max((now - moment).total_seconds(), 0.0), 1)


def outbox_metrics(session, now: datetime) -> dict:
    queued = (OutboxMessage.PENDING, OutboxMessage.CLAIMED)
    queue: dict[str, dict[str, int]] = {state: {} for state in queued}
    rows = session.execute(
        sa.select(OutboxMessage.state, OutboxMessage.channel, sa.func.count())
        .where(OutboxMessage.state.in_(queued))
        .group_by(OutboxMessage.state, OutboxMessage.channel))
    for state, channel, count in rows:
        queue[state][channel] = count
    dead = session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)
                          .where(OutboxMessage.state == OutboxMessage.DEAD))
    pending = OutboxMessage.state == OutboxMessage.PENDING
    oldest_due = session.scalar(sa.select(sa.func.min(OutboxMessage.due_at)).where(pending))
    oldest_ready = session.scalar(sa.select(sa.func.min(OutboxMessage.next_try_at))
                                  .where(pending, OutboxMessage.next_try_at <= now))
    oldest_claim = session.scalar(sa.select(sa.func.min(OutboxMessage.claimed_at))
                                  .where(OutboxMessage.state == OutboxMessage.CLAIMED))
    return {
        "queue": queue,
        "queue_total": sum(sum(channels.values()) for channels in queue.values()),
        "dead": dead,
        # Since the oldest pending message became due (includes those held by quiet hours or a backoff).
        "oldest_pending_age_seconds": _seconds_since(oldest_due, now),
        # How long the oldest message that could be sent now has waited: the dispatcher's lag.
        "dispatch_lag_seconds": _seconds_since(oldest_ready, now) or 0.0,
        "oldest_claim_age_seconds": _seconds_since(oldest_claim, now),
    }


def scheduler_metrics(session, now: datetime) -> dict:
    return {run.job: {"started_at": run.started_at.isoformat() if run.started_at else None,
                      "finished_at": run.finished_at.isoformat() if run.finished_at else None,
                      "age_seconds": _seconds_since(run.finished_at, now),
                      "ok": run.ok, "host": run.host}
            for run in session.scalars(sa.select(SchedulerRun).order_by(SchedulerRun.job).limit(50))}


def user_metrics(session) -> dict:
    by_role: dict[str, int] = {}
    active: dict[str, int] = {}
    for role, is_active, count in session.execute(
            sa.select(User.role, User.is_active, sa.func.count()).group_by(User.role, User.is_active)):
        by_role[role] = by_role.get(role, 0) + count
        if is_active:
            active[role] = active.get(role, 0) + count
    return {"by_role": by_role, "active_by_role": active}


def collect(session, now: datetime) -> dict:
    return {
        "generated_at": now.isoformat(),
        "database": {"dialect": session.get_bind().dialect.name},
        "outbox": outbox_metrics(session, now),
        "scheduler": scheduler_metrics(session, now),
        "users": user_metrics(session),
    }


@bp.get("/metrics")
def metrics():
    response = jsonify(collect(db.session, utcnow()))
    response.headers["Cache-Control"] = "no-store"
    return response
