import hashlib
import secrets
from datetime import datetime
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.database import UTCDateTime, utcnow
from app.extensions import db

PREFIX = "xa_"


def hash_token(token: str) -> str:
    # Tokens are 256 random bits: a plain SHA-256 is enough, and lets us look them up.
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(db.Model):
    """A personal access token for the API; only its hash is stored."""

    __tablename__ = "api_tokens"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(80), default="")
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    hint: so.Mapped[str] = so.mapped_column(sa.String(12))  # the first characters, to tell tokens apart
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    last_used_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    revoked_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)

    user = so.relationship("User")


def create_token(session, user, name: str, now: datetime) -> tuple[ApiToken, str]:
    """A new token: the row, and the secret itself, which is shown once and never stored."""
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=hash_token(secret), hint=secret[:8], created_at=now)
    session.add(token)
    session.flush()
    return token, secret


def user_for_token(session, secret: str, now: datetime):
    token = session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == hash_token(secret),
                                                     ApiToken.revoked_at.is_(None)))
    if token is None or not token.user.is_active:
        return None
    token.last_used_at = now
    return token.user
