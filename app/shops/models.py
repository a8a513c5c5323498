from datetime import date, datetime
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.database import UTCDateTime, utcnow
from app.extensions import db


class Shop(db.Model):
    """A shop that sends order events, signed with its own secret (HMAC-SHA256)."""

    __tablename__ = "shops"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    key: so.Mapped[str] = so.mapped_column(sa.String(40), unique=True)  # the X-Shop-Id header
    name: so.Mapped[str] = so.mapped_column(sa.String(80))
    # Kept as is: verifying an HMAC needs the secret itself (a hash of it would not do).
    secret: so.Mapped[str] = so.mapped_column(sa.String(80))
    # After a rotation the old secret still signs for a while, so the shop can switch without losing events.
    previous_secret: so.Mapped[Optional[str]] = so.mapped_column(sa.String(80))
    previous_valid_until: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    rotated_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)


class ShopMember(db.Model):
    """A shop's own id for a trainee (its "external id"), mapped by an admin of her cohort."""

    __tablename__ = "shop_members"
    __table_args__ = (sa.UniqueConstraint("shop_id", "external_id", name="uq_shop_members_shop_external"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    shop_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    external_id: so.Mapped[str] = so.mapped_column(sa.String(64))
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    shop: so.Mapped[Shop] = so.relationship(lazy="joined")
    user: so.Mapped["User"] = so.relationship(lazy="joined")  # noqa: F821 (app.accounts.models)


class ShopOrder(db.Model):
    """One order of hers at a shop, as its events left it. Her commission counts unless it was refunded."""

    __tablename__ = "shop_orders"
    __table_args__ = (sa.UniqueConstraint("shop_id", "order_id", name="uq_shop_orders_shop_order"),
                      sa.Index("ix_shop_orders_user_day", "user_id", "day"))

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    shop_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    order_id: so.Mapped[str] = so.mapped_column(sa.String(64))
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    day: so.Mapped[date] = so.mapped_column(sa.Date)  # her local day of the sale
    commission_fen: so.Mapped[int] = so.mapped_column(sa.BigInteger)
    amount_fen: so.Mapped[Optional[int]] = so.mapped_column(sa.BigInteger)
    paid_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    settled_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    refunded_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    updated_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    shop: so.Mapped[Shop] = so.relationship(lazy="joined")

    @property
    def state(self) -> str:
        """refunded, settled or pending (paid, commission not yet settled)."""
        return "refunded" if self.refunded_at else "settled" if self.settled_at else "pending"


class ShopOrderEvent(db.Model):
    """Each order event applied, once: a replay of the same shop + order + event finds its row here."""

    __tablename__ = "shop_order_events"
    __table_args__ = (sa.UniqueConstraint("shop_id", "order_id", "event", name="uq_shop_order_events_once"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    shop_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("shops.id", ondelete="CASCADE"))
    order_id: so.Mapped[str] = so.mapped_column(sa.String(64))
    event: so.Mapped[str] = so.mapped_column(sa.String(10))
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    commission_fen: so.Mapped[int] = so.mapped_column(sa.BigInteger)
    occurred_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    received_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
