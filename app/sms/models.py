"""SMS codes: every code asked for, kept hashed, so the limits are counted in the database."""
from datetime import datetime
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.database import UTCDateTime
from app.extensions import db


class SmsCode(db.Model):
    """One code sent (or refused by the provider) to one number, for one purpose."""

    __tablename__ = "sms_codes"
    __table_args__ = (sa.Index("ix_sms_codes_mobile_created_at", "mobile", "created_at"),
                      sa.Index("ix_sms_codes_address_created_at", "address", "created_at"))

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    mobile: so.Mapped[str] = so.mapped_column(sa.String(20))          # normalised
    address: so.Mapped[str] = so.mapped_column(sa.String(64))         # who asked (IP address)
    purpose: so.Mapped[str] = so.mapped_column(sa.String(12))         # login, register, reset
    code_hash: so.Mapped[str] = so.mapped_column(sa.String(64))       # HMAC-SHA256(secret key, mobile:code)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    tries: so.Mapped[int] = so.mapped_column(default=0)
    used_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    error: so.Mapped[Optional[str]] = so.mapped_column(sa.String(200))   # the provider refused or was down
