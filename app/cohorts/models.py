from datetime import date, datetime
from typing import TYPE_CHECKING, Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.database import UTCDateTime, utcnow
from app.extensions import db
from app.core.calendar import default_timezone

if TYPE_CHECKING:
    from app.accounts.models import User

cohort_mentors = sa.Table(
    "cohort_mentors",
    db.metadata,
    sa.Column("cohort_id", sa.ForeignKey("cohorts.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)


class Cohort(db.Model):
    """A group of trainees who start the programme together, coached by their mentors."""

    __tablename__ = "cohorts"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(120))
    start_date: so.Mapped[date] = so.mapped_column(sa.Date)
    timezone: so.Mapped[str] = so.mapped_column(sa.String(64), default=default_timezone)
    invite_code: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True)
    invite_expires_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    seat_limit: so.Mapped[Optional[int]] = so.mapped_column()  # trainees who may join by the invite
    # The cohort's group robot (used by reminders): wecom, dingtalk or feishu, its webhook and secret.
    robot_kind: so.Mapped[Optional[str]] = so.mapped_column(sa.String(16))
    robot_webhook: so.Mapped[Optional[str]] = so.mapped_column(sa.String(500))
    robot_secret: so.Mapped[Optional[str]] = so.mapped_column(sa.String(200))
    is_archived: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    # Rankings may show earnings (of members who opted in) only when the cohort allows it.
    rank_by_earnings: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    mentors: so.Mapped[list["User"]] = so.relationship(secondary=cohort_mentors, lazy="selectin")

    def __repr__(self) -> str:
        return f"<Cohort {self.invite_code} {self.name!r}>"


class MentorNote(db.Model):
    """What a mentor wrote about a trainee: a note, a comment on one check-in (earnings) or on one of
    her camp task check-ins (打卡), or "contacted". She sees the comments; notes are for mentors."""

    __tablename__ = "mentor_notes"

    NOTE, CHECKIN_COMMENT, TASK_COMMENT, CONTACTED = "note", "checkin_comment", "task_comment", "contacted"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    trainee_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    author_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    kind: so.Mapped[str] = so.mapped_column(sa.String(20), default=NOTE)
    checkin_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("checkins.id", ondelete="CASCADE"))
    task_checkin_id: so.Mapped[Optional[int]] = so.mapped_column(
        sa.ForeignKey("task_checkins.id", ondelete="CASCADE"), index=True)
    body: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow, index=True)

    author = so.relationship("User", foreign_keys=[author_id])
