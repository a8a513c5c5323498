import secrets
from datetime import datetime
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_login import UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from app.cohorts.models import Cohort
from app.database import UTCDateTime, utcnow
from app.extensions import db
from app.core.calendar import default_timezone
from app.core import access
from app.core.access import Role


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(80))
    email: so.Mapped[Optional[str]] = so.mapped_column(sa.String(254), unique=True)
    mobile: so.Mapped[Optional[str]] = so.mapped_column(sa.String(20), unique=True)
    password_hash: so.Mapped[str] = so.mapped_column(sa.String(256))
    role: so.Mapped[str] = so.mapped_column(sa.String(16), default=Role.TRAINEE)
    timezone: so.Mapped[str] = so.mapped_column(sa.String(64), default=default_timezone)
    locale: so.Mapped[Optional[str]] = so.mapped_column(sa.String(16))
    cohort_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("cohorts.id"), index=True)
    is_active: so.Mapped[bool] = so.mapped_column(default=True)
    # The server's side of every session: checked on each request (it is the login's id), and
    # replaced by end_sessions() at logout, password change and deactivation, so no copy of an old
    # session or remember-me cookie works any more.
    session_token: so.Mapped[str] = so.mapped_column(
        sa.String(64), unique=True, default=lambda: secrets.token_urlsafe(32))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    last_login_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    # She lets her cohort see her earnings (wins feed, rankings): off unless she turns it on.
    shares_earnings: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())

    cohort: so.Mapped[Optional[Cohort]] = so.relationship(lazy="joined")

    def get_id(self) -> str:
        return self.session_token

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)  # scrypt, salted
        self.end_sessions()

    def end_sessions(self) -> None:
        """Sign out every session and remember-me cookie of hers, on every device."""
        self.session_token = secrets.token_urlsafe(32)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    # The role rules are access's (app/core/access.py); these read them for templates and views.
    is_trainee = property(access.is_trainee)
    is_staff = property(access.is_staff)
    is_admin = property(access.is_admin)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role} {self.email or self.mobile}>"


class LoginAttempt(db.Model):
    """One try to log in, kept for throttling by account and by address."""

    __tablename__ = "login_attempts"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    account: so.Mapped[str] = so.mapped_column(sa.String(254), index=True)
    address: so.Mapped[str] = so.mapped_column(sa.String(64), index=True)
    succeeded: so.Mapped[bool] = so.mapped_column(default=False)
    attempted_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow, index=True)


class PasswordReset(db.Model):
    """A one-time link to set a new password; only the token's hash is kept."""

    __tablename__ = "password_resets"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    created_by_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    used_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
