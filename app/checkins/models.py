from datetime import date, datetime
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.database import Bilingual, SyncedFromFile, UTCDateTime, utcnow
from app.extensions import db


class Programme(SyncedFromFile, db.Model):
    """The programme's rules as last synced from milestones/programme.yml (one row)."""

    __tablename__ = "programmes"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    key: so.Mapped[str] = so.mapped_column(sa.String(40), unique=True, default="default")
    checkin_days: so.Mapped[list] = so.mapped_column(sa.JSON, default=list)
    asks: so.Mapped[list] = so.mapped_column(sa.JSON, default=list)
    behind_margin_percent: so.Mapped[int] = so.mapped_column(default=20)
    correction_days: so.Mapped[int] = so.mapped_column(default=7)
    diagnosis: so.Mapped[dict] = so.mapped_column(sa.JSON, default=dict)
    reminders: so.Mapped[dict] = so.mapped_column(sa.JSON, default=dict)  # milestones/reminders.yml
    camp: so.Mapped[dict] = so.mapped_column(sa.JSON, default=dict)  # milestones/camp.yml: unlock time, make-up rule


class Milestone(Bilingual, SyncedFromFile, db.Model):
    """A target such as ¥100 of earnings by day 7, as synced from milestones/<key>.yml."""

    __tablename__ = "milestones"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    key: so.Mapped[str] = so.mapped_column(sa.String(80), unique=True)
    position: so.Mapped[int] = so.mapped_column(default=0)
    title_zh: so.Mapped[str] = so.mapped_column(sa.String(200))
    title_en: so.Mapped[str] = so.mapped_column(sa.String(200))
    metric: so.Mapped[str] = so.mapped_column(sa.String(30))
    target: so.Mapped[int] = so.mapped_column(sa.BigInteger)  # fen for earnings, a count otherwise
    by_day: so.Mapped[int] = so.mapped_column()


class Checkin(db.Model):
    """What she reports for one day of hers: money in integer fen, counts; None = not reported."""

    __tablename__ = "checkins"
    __table_args__ = (sa.UniqueConstraint("user_id", "day", name="uq_checkins_user_day"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    day: so.Mapped[date] = so.mapped_column(sa.Date)  # her local date
    # The day's earnings as every page counts them: the shop's figure when it reported orders that day,
    # else what she (or her mentor's import) reported; service.day_earnings() is the rule.
    earnings_fen: so.Mapped[int] = so.mapped_column(sa.BigInteger, default=0)
    reported_earnings_fen: so.Mapped[Optional[int]] = so.mapped_column(sa.BigInteger)  # None: not reported
    shop_earnings_fen: so.Mapped[Optional[int]] = so.mapped_column(sa.BigInteger)  # None: no shop orders that day
    orders: so.Mapped[Optional[int]] = so.mapped_column()
    group_members: so.Mapped[Optional[int]] = so.mapped_column()
    active_members: so.Mapped[Optional[int]] = so.mapped_column()
    posts: so.Mapped[Optional[int]] = so.mapped_column()
    note: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    # web, api, import; "shop" for a day only a shop's orders filled (she has not checked in that day)
    source: so.Mapped[str] = so.mapped_column(sa.String(10), default="web")
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    @property
    def is_reported(self) -> bool:
        """She (or her mentor's import) checked in this day; not a row the shop's orders alone made."""
        return self.source != "shop"

    @property
    def earnings_source(self) -> str:
        """Where the day's earnings come from: shop, import or checkin (hers)."""
        return "shop" if self.shop_earnings_fen is not None else "import" if self.source == "import" else "checkin"

    revisions: so.Mapped[list["CheckinRevision"]] = so.relationship(
        back_populates="checkin", cascade="all, delete-orphan", order_by="CheckinRevision.id")


class CheckinRevision(db.Model):
    """The values a check-in had before a correction: nothing she reported is ever lost."""

    __tablename__ = "checkin_revisions"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    checkin_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("checkins.id", ondelete="CASCADE"), index=True)
    values: so.Mapped[dict] = so.mapped_column(sa.JSON)
    changed_by_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    changed_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    checkin: so.Mapped[Checkin] = so.relationship(back_populates="revisions")
