"""Her on/off choice for each channel that reaches her personally beyond the inbox and email
(the 公众号 and SMS), and why a channel was turned off for her (she refused it on WeChat's side).

No row means on. Plain functions over a session: the caller commits.
"""
from datetime import datetime
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.orm import Session

from app.database import UTCDateTime, utcnow
from app.extensions import db

WECHAT, SMS = "wechat", "sms"
REFUSED = "refused"   # WeChat said she refused or unfollowed (43101, 43004): off until she binds again


class ChannelChoice(db.Model):
    __tablename__ = "channel_choices"

    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    channel: so.Mapped[str] = so.mapped_column(sa.String(20), primary_key=True)
    is_enabled: so.Mapped[bool] = so.mapped_column(default=True)
    off_reason: so.Mapped[Optional[str]] = so.mapped_column(sa.String(20))   # None (her choice) or REFUSED
    updated_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)


def choices_of(session: Session, user_ids) -> dict[tuple[int, str], ChannelChoice]:
    ids = list(user_ids)
    out = {}
    for start in range(0, len(ids), 900):
        for choice in session.scalars(sa.select(ChannelChoice).where(ChannelChoice.user_id.in_(ids[start:start + 900]))):
            out[choice.user_id, choice.channel] = choice
    return out


def is_enabled(session: Session, user_id: int, channel: str) -> bool:
    choice = session.get(ChannelChoice, (user_id, channel))
    return choice is None or choice.is_enabled


def set_channel(session: Session, user_id: int, channel: str, enabled: bool, now: datetime,
                reason: str | None = None) -> None:
    choice = session.get(ChannelChoice, (user_id, channel))
    if choice is None:
        choice = ChannelChoice(user_id=user_id, channel=channel)
        session.add(choice)
    choice.is_enabled, choice.off_reason, choice.updated_at = enabled, None if enabled else reason, now
    session.flush()
