"""The outbox: every reminder, digest and nudge, once per (recipient, rule, occasion, channel)."""
from datetime import datetime
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.database import UTCDateTime, utcnow
from app.extensions import db

# Message categories a user can mute for email (the in-app inbox keeps everything).
CATEGORIES = ("checkin", "learning", "progress", "celebration", "review", "nudge", "digest")
# Channels: to a person (inapp, email) or to a cohort's group robot (the rest).
PERSON_CHANNELS = ("inapp", "email")
ROBOT_CHANNELS = ("wecom", "dingtalk", "feishu", "webhook")


class OutboxMessage(db.Model):
    """One message on one channel. `key` makes writing it twice impossible; `state` moves
    pending -> claimed -> sent, or back to pending with a later `next_try_at` after a failure,
    or to dead after the last try; skipped when it was no longer due at sending time."""

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_state_next_try_at", "state", "next_try_at"),
                      # a robot's messages sent in the last minute (its rate limit)
                      sa.Index("ix_outbox_cohort_channel_sent_at", "cohort_id", "channel", "sent_at"),
                      sa.Index("ix_outbox_created_at", "created_at"))

    PENDING, CLAIMED, SENT, DEAD, SKIPPED = "pending", "claimed", "sent", "dead", "skipped"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    key: so.Mapped[str] = so.mapped_column(sa.String(200), unique=True)  # recipient/rule/occasion/channel
    rule: so.Mapped[str] = so.mapped_column(sa.String(40))
    category: so.Mapped[str] = so.mapped_column(sa.String(20))
    occasion: so.Mapped[str] = so.mapped_column(sa.String(80))
    channel: so.Mapped[str] = so.mapped_column(sa.String(20))
    user_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    cohort_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("cohorts.id", ondelete="CASCADE"))
    params: so.Mapped[dict] = so.mapped_column(sa.JSON, default=dict)
    state: so.Mapped[str] = so.mapped_column(sa.String(12), default=PENDING)
    due_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    next_try_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    expires_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)  # a daily reminder's day is over
    tries: so.Mapped[int] = so.mapped_column(default=0)
    claimed_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    claimed_by: so.Mapped[Optional[str]] = so.mapped_column(sa.String(80))
    # New for every claim: a dispatcher acts on a row only while the row still carries its token.
    claim_token: so.Mapped[Optional[str]] = so.mapped_column(sa.String(32))
    sent_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    last_error: so.Mapped[Optional[str]] = so.mapped_column(sa.Text)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    user = so.relationship("User")
    cohort = so.relationship("Cohort")
    tries_log: so.Mapped[list["DeliveryTry"]] = so.relationship(
        back_populates="message", cascade="all, delete-orphan", order_by="DeliveryTry.id")

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.key} {self.state}>"


class DeliveryTry(db.Model):
    """One try to deliver a message, whatever came of it."""

    __tablename__ = "delivery_tries"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    message_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("outbox.id", ondelete="CASCADE"), index=True)
    worker: so.Mapped[str] = so.mapped_column(sa.String(80), default="")
    started_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    finished_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    outcome: so.Mapped[str] = so.mapped_column(sa.String(12))   # sent, retry, dead, skipped
    error: so.Mapped[Optional[str]] = so.mapped_column(sa.Text)

    message: so.Mapped[OutboxMessage] = so.relationship(back_populates="tries_log")


class ReminderPreference(db.Model):
    """A user's choices; NULL means the programme's default (milestones/reminders.yml)."""

    __tablename__ = "reminder_preferences"

    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    email_enabled: so.Mapped[bool] = so.mapped_column(default=True, server_default=sa.true())
    group_mention: so.Mapped[bool] = so.mapped_column(default=True, server_default=sa.true())
    email_muted: so.Mapped[list] = so.mapped_column(sa.JSON, default=list)   # categories not by email
    send_at: so.Mapped[Optional[str]] = so.mapped_column(sa.String(5))       # "HH:MM", her time
    quiet_start: so.Mapped[Optional[str]] = so.mapped_column(sa.String(5))
    quiet_end: so.Mapped[Optional[str]] = so.mapped_column(sa.String(5))
    updated_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)


class SchedulerRun(db.Model):
    """The last run of each scheduled job, for /healthz and admins (any process writes it)."""

    __tablename__ = "scheduler_runs"

    job: so.Mapped[str] = so.mapped_column(sa.String(40), primary_key=True)
    started_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    finished_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    ok: so.Mapped[bool] = so.mapped_column(default=True)
    detail: so.Mapped[dict] = so.mapped_column(sa.JSON, default=dict)
    host: so.Mapped[str] = so.mapped_column(sa.String(120), default="")


class InboxMessage(db.Model):
    """A message in a user's in-app inbox: a reminder, a digest or a mentor's nudge."""

    __tablename__ = "inbox_messages"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    recipient_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    sender_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    category: so.Mapped[str] = so.mapped_column(sa.String(30), default="nudge")
    title: so.Mapped[str] = so.mapped_column(sa.String(200), default="", server_default="")
    body: so.Mapped[str] = so.mapped_column(sa.Text)
    # The outbox message it was delivered from: a retried delivery finds it and writes nothing.
    outbox_key: so.Mapped[Optional[str]] = so.mapped_column(sa.String(200), unique=True)
    link: so.Mapped[Optional[str]] = so.mapped_column(sa.String(300))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    read_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)

    sender = so.relationship("User", foreign_keys=[sender_id])
