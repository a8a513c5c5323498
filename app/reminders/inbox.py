"""Her in-app inbox: what the in-app channel delivered (reminders, digests, mentors' nudges)."""
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.database import read
from app.reminders.models import InboxMessage

SHOWN = 100


def messages(session: Session, user: User) -> list[InboxMessage]:
    """The newest messages first."""
    return list(session.scalars(sa.select(InboxMessage).where(InboxMessage.recipient_id == user.id)
                                .order_by(InboxMessage.created_at.desc()).limit(SHOWN)))


# Built once: the header's badge asks it on every trainee page.
_UNREAD = sa.select(sa.func.count(InboxMessage.id)).where(
    InboxMessage.recipient_id == sa.bindparam("user_id"), InboxMessage.read_at.is_(None))


def unread_count(session: Session, user: User) -> int:
    return read(session, _UNREAD, {"user_id": user.id}).scalar()


def mark_read(session: Session, user: User, now: datetime) -> int:
    result = session.execute(sa.update(InboxMessage).where(
        InboxMessage.recipient_id == user.id, InboxMessage.read_at.is_(None)).values(read_at=now))
    return result.rowcount
