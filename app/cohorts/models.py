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


class TraineeSummary(db.Model):
    """The mentor's table, one row per trainee: what `dashboard.trainee_rows()` works out for her, stored so
    that the dashboard, the needs-attention list, the export and the API page, sort and filter in SQL.

    A row is current while `version` equals her `SummaryVersion` (bumped by every write that changes what it
    shows), `epoch` equals the global one (bumped when the content changes) and `stale_at` (the next moment
    the clock alone changes it: her midnight, 18:00 for today's task, ...) has not come; else
    `summaries.refresh()` works it out again before anyone reads it. See app/cohorts/summaries.py.
    """

    __tablename__ = "trainee_summaries"

    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    version: so.Mapped[int] = so.mapped_column(default=0)
    epoch: so.Mapped[int] = so.mapped_column(default=0)
    computed_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    stale_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    programme_day: so.Mapped[int] = so.mapped_column()
    total_earnings_fen: so.Mapped[int] = so.mapped_column(sa.BigInteger, default=0)
    status: so.Mapped[Optional[str]] = so.mapped_column(sa.String(16))      # worst earnings milestone counting
    status_rank: so.Mapped[int] = so.mapped_column(default=4)              # missed 0 ... none 4, for sorting
    milestones: so.Mapped[list] = so.mapped_column(sa.JSON, default=list)  # [{key, status, current}]
    lessons_done: so.Mapped[int] = so.mapped_column(default=0)
    lessons_total: so.Mapped[int] = so.mapped_column(default=0)
    next_lesson_id: so.Mapped[Optional[int]] = so.mapped_column()          # the lesson she is on
    quizzes_passed: so.Mapped[int] = so.mapped_column(default=0)
    quizzes_total: so.Mapped[int] = so.mapped_column(default=0)
    essays_waiting: so.Mapped[int] = so.mapped_column(default=0)
    last_checkin: so.Mapped[Optional[date]] = so.mapped_column(sa.Date)
    last_active_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    contacted_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    task_done: so.Mapped[Optional[bool]] = so.mapped_column()             # today's 打卡; None: no task today
    weakest: so.Mapped[Optional[str]] = so.mapped_column(sa.String(16))
    reasons: so.Mapped[list] = so.mapped_column(sa.JSON, default=list)     # [{code, weight, detail}]
    attention: so.Mapped[int] = so.mapped_column(default=0)   # the reasons' weight

    user = so.relationship("User", lazy="raise")


class SummaryVersion(db.Model):
    """How many times what her summary shows has changed: bumped (in the writer's transaction) by every
    write that changes it; user_id 0 counts the changes that touch everyone (content, programme).
    Kept apart from the summaries so that writers and the refresh never wait on each other's rows."""

    __tablename__ = "summary_versions"

    user_id: so.Mapped[int] = so.mapped_column(primary_key=True, autoincrement=False)
    version: so.Mapped[int] = so.mapped_column(default=0)
