"""The audit log: every admin or mentor action, one row each, for admins to read.

    record(session, actor, "user.deactivate", user, reason="left the programme")

`target` is a model (a User becomes "user:12", a Cohort "cohort:3") or a ready string.
`details` must be JSON-like; dates and datetimes become ISO strings, sets sorted lists.
Nothing is committed here: the entry goes in with the caller's own changes, or not at all.
"""
from datetime import date, datetime
from typing import Any, Optional

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.orm import Session, joinedload

from app.accounts.models import User
from app.cohorts.models import Cohort
from app.database import UTCDateTime, utcnow
from app.extensions import db


class AuditEntry(db.Model):
    """Every mentor or admin action, for admins to read."""

    __tablename__ = "audit_log"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    actor_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    action: so.Mapped[str] = so.mapped_column(sa.String(60))   # e.g. cohort.create, user.deactivate
    target: so.Mapped[str] = so.mapped_column(sa.String(120), default="")  # e.g. user:12, cohort:3
    details: so.Mapped[dict] = so.mapped_column(sa.JSON, default=dict)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow, index=True)

    actor = so.relationship("User")


def target_of(target: Any) -> str:
    """"user:12", "cohort:3", or the string given."""
    if target is None:
        return ""
    if isinstance(target, str):
        return target[:120]
    if isinstance(target, Cohort):
        return f"cohort:{target.id}"
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


def newest_first() -> sa.Select:
    """Every entry, newest first, each with its actor loaded in the same query (for paginate)."""
    return (sa.select(AuditEntry).options(joinedload(AuditEntry.actor))
            .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc()))
