"""WeChat tables: her binding, the login flow's one-time states, and the shared API credentials."""
from datetime import datetime
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.database import UTCDateTime, utcnow
from app.extensions import db


class WechatAccount(db.Model):
    """Her WeChat (an openid of our 公众号) bound to her account: one each way."""

    __tablename__ = "wechat_accounts"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    openid: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    unionid: so.Mapped[Optional[str]] = so.mapped_column(sa.String(64), index=True)
    nickname: so.Mapped[Optional[str]] = so.mapped_column(sa.String(80))
    bound_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)


class OAuthState(db.Model):
    """One start of the 网页授权 flow: the `state` sent to WeChat, tied to the browser session that
    started it (a hash of a nonce kept in that session), used once, within ten minutes."""

    __tablename__ = "wechat_oauth_states"

    state: so.Mapped[str] = so.mapped_column(sa.String(64), primary_key=True)
    session_hash: so.Mapped[str] = so.mapped_column(sa.String(64))
    purpose: so.Mapped[str] = so.mapped_column(sa.String(8))          # login or bind
    user_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    scope: so.Mapped[str] = so.mapped_column(sa.String(20))
    next_path: so.Mapped[str] = so.mapped_column(sa.String(500), default="/")
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, index=True)
    used_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)


class WechatCredential(db.Model):
    """The 公众号's access token and JS-SDK ticket, shared by every process (each may refresh it)."""

    __tablename__ = "wechat_credentials"

    kind: so.Mapped[str] = so.mapped_column(sa.String(20), primary_key=True)   # access_token, jsapi_ticket
    value: so.Mapped[str] = so.mapped_column(sa.Text)
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    refreshed_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
