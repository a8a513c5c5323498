"""WeChat login and binding: the one-time `state` of each start, her binding, and what follows a
callback. No request in here: the views pass the session nonce, the time and what WeChat answered.
"""
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.reminders import channel_choices
from app.wechat.models import OAuthState, WechatAccount

STATE_VALID = timedelta(minutes=10)
PROBLEMS = {
    "state": _l("This WeChat login link is not valid any more (it was used, is older than 10 minutes, or was "
                "opened in another browser). Start again."),
    "code": _l("WeChat did not confirm this login (the code was already used or has expired). Start again."),
    "unreachable": _l("WeChat cannot be reached right now. Try again in a minute, or log in with your password."),
    "taken": _l("This WeChat is already bound to another account. Unbind it there first."),
    "already": _l("Your account is already bound to another WeChat. Unbind it first."),
}


class WechatProblem(Exception):
    def __init__(self, problem: str):
        super().__init__(problem)
        self.problem, self.message = problem, PROBLEMS[problem]


def _hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def start(session: Session, session_nonce: str, now: datetime, *, purpose: str, scope: str, next_path: str,
          user_id: int | None = None) -> str:
    """A new state for one trip to WeChat and back."""
    state = secrets.token_urlsafe(24)
    session.add(OAuthState(state=state, session_hash=_hash(session_nonce), purpose=purpose, user_id=user_id,
                           scope=scope, next_path=next_path, created_at=now))
    # Old states are of no use to anyone: keep the table small.
    session.execute(sa.delete(OAuthState).where(OAuthState.created_at < now - timedelta(days=1)))
    session.flush()
    return state


def use_state(session: Session, state: str, session_nonce: str | None, now: datetime) -> OAuthState:
    """The state of this callback, spent: it must be ours, from this browser session, unused and fresh.
    A conditional update spends it, so two callbacks with the same state cannot both pass."""
    row = session.get(OAuthState, state or "")
    if (row is None or not session_nonce or row.session_hash != _hash(session_nonce)
            or row.used_at is not None or now - row.created_at > STATE_VALID):
        raise WechatProblem("state")
    spent = session.execute(sa.update(OAuthState).where(OAuthState.state == state, OAuthState.used_at.is_(None))
                            .values(used_at=now)).rowcount
    if spent != 1:
        raise WechatProblem("state")
    return row


def account_of(session: Session, openid: str) -> User | None:
    return session.scalar(sa.select(User).join(WechatAccount, WechatAccount.user_id == User.id)
                          .where(WechatAccount.openid == openid))


def binding_of(session: Session, user_id: int) -> WechatAccount | None:
    return session.scalar(sa.select(WechatAccount).where(WechatAccount.user_id == user_id))


def bind(session: Session, user: User, openid: str, now: datetime, *, unionid: str | None = None,
         nickname: str | None = None) -> WechatAccount:
    """Bind this WeChat to her account; binding again turns the 公众号 channel back on for her."""
    owner = session.scalar(sa.select(WechatAccount).where(WechatAccount.openid == openid))
    if owner is not None and owner.user_id != user.id:
        raise WechatProblem("taken")
    mine = binding_of(session, user.id)
    if mine is not None and mine.openid != openid:
        raise WechatProblem("already")
    if mine is None:
        mine = WechatAccount(user_id=user.id, openid=openid)
        session.add(mine)
    mine.unionid, mine.nickname, mine.bound_at = unionid or mine.unionid, (nickname or mine.nickname or "")[:80] or None, now
    channel_choices.set_channel(session, user.id, channel_choices.WECHAT, True, now)
    session.flush()
    return mine


def unbind(session: Session, user: User) -> bool:
    return session.execute(sa.delete(WechatAccount).where(WechatAccount.user_id == user.id)).rowcount > 0


@dataclass
class Pending:
    """An openid WeChat confirmed that no account has yet, while she joins or binds."""
    openid: str
    unionid: str | None
    nickname: str | None
