"""The audit log: every admin or mentor action, one row each, for admins to read.

    record(session, actor, "user.deactivate", user, reason="left the programme")

`target` is a model (a User becomes "user:12", a Cohort "cohort:3") or a ready string.
`details` must be JSON-like; dates and datetimes become ISO strings, sets sorted lists.
Nothing is committed here: the entry goes in with the caller's own changes, or not at all.
"""
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from app.cohorts.models import AuditEntry, Cohort


def target_of(target: Any) -> str:
    """"user:12", "cohort:3", or the string given."""
    if target is None:
        return ""
    if isinstance(target, str):
        return target[:120]
    if isinstance(target, Cohort):
        return f"cohort:{target.id}"
    from app.accounts.models import User  # accounts imports cohorts: import here, not at the top
    if isinstance(target, User):
        return f"user:{target.id}"
    return f"{type(target).__tablename__.rstrip('s')}:{target.id}"


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "id") and hasattr(value, "__tablename__"):
        return target_of(value)
    return str(value)  # lazy strings, enums, decimals


def record(session: Session, actor, action: str, target, /, **details) -> AuditEntry:
    """Add one audit entry for `actor` (a User, or None for the system) doing `action` on `target`."""
    entry = AuditEntry(actor_id=getattr(actor, "id", None), action=action[:60], target=target_of(target),
                       details=_jsonable(details))
    session.add(entry)
    return entry


def entries(session: Session, *, offset: int = 0, limit: int = 50) -> list[AuditEntry]:
    """Newest first, with each entry's actor loaded in the same query."""
    return list(session.scalars(
        sa.select(AuditEntry).options(joinedload(AuditEntry.actor))
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc()).offset(offset).limit(limit)))


def count(session: Session) -> int:
    return session.scalar(sa.select(sa.func.count(AuditEntry.id)))
