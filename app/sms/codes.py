"""SMS verification codes (短信验证码): 6 digits, valid 5 minutes, 5 tries each, a new one after 60 s,
at most 10 a day per number and per address. Every code asked for is a row, so the limits hold
across processes; only an HMAC of the code is stored. Plain functions: the caller commits (also
after a refusal, so that a wrong try is counted).
"""
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.accounts.service import normalize_mobile
from app.core.errors import DomainError
from app.sms import providers
from app.sms.models import SmsCode

CODE_DIGITS = 6
VALID = timedelta(minutes=5)
MAX_TRIES = 5
RESEND_AFTER = timedelta(seconds=60)
PER_DAY = 10            # per number and per address, over the last 24 hours
PURPOSES = ("login", "register", "reset")


class SmsRefused(Exception):
    """Why no code was sent, or why a code was not accepted: a message for her, and an HTTP status."""

    MESSAGES = {
        "mobile": (_l("Enter a mobile number such as 13812345678."), 422),
        "wait": (_l("A code was just sent. You can ask for a new one in %(n)d seconds."), 429),
        "daily": (_l("Too many codes today for this number or this network. Try again tomorrow, or log in "
                     "with your password."), 429),
        "provider": (_l("The text message could not be sent right now. Try again in a minute."), 502),
        "wrong": (_l("That code is not right. Check the latest text message and try again."), 422),
        "tries": (_l("Too many wrong tries for this code. Ask for a new one."), 422),
        "expired": (_l("This code has expired or was already used. Ask for a new one."), 422),
    }

    def __init__(self, problem: str, seconds: int = 0):
        super().__init__(problem)
        self.problem, self.seconds = problem, seconds
        text, self.status = self.MESSAGES[problem]
        self.message = text % {"n": seconds} if problem == "wait" else text


def _hash(mobile: str, code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{mobile}:{code}".encode(), hashlib.sha256).hexdigest()


def normalized(raw: str | None) -> str:
    try:
        mobile = normalize_mobile(raw)
    except DomainError:
        mobile = None
    if not mobile:
        raise SmsRefused("mobile")
    return mobile


def send_code(session: Session, raw_mobile: str, purpose: str, address: str, now: datetime) -> str:
    """Check the limits, then send a new code; returns the normalised number.

    For login and reset, a number without an account gets no text (texts cost money) but the same
    answer and the same counting, so the page tells no one which numbers have accounts."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}")
    mobile = normalized(raw_mobile)
    address = (address or "unknown")[:64]
    last = session.scalar(sa.select(sa.func.max(SmsCode.created_at)).where(SmsCode.mobile == mobile))
    if last is not None and now - last < RESEND_AFTER:
        raise SmsRefused("wait", seconds=max(1, int((RESEND_AFTER - (now - last)).total_seconds() + 0.999)))
    since = now - timedelta(days=1)
    for column, value in ((SmsCode.mobile, mobile), (SmsCode.address, address)):
        if session.scalar(sa.select(sa.func.count(SmsCode.id)).where(column == value, SmsCode.created_at > since)) >= PER_DAY:
            raise SmsRefused("daily")
    code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
    row = SmsCode(mobile=mobile, address=address, purpose=purpose, code_hash=_hash(mobile, code), created_at=now,
                  expires_at=now + VALID, tries=0)
    session.add(row)
    session.flush()
    if purpose != "register" and session.scalar(sa.select(User.id).where(User.mobile == mobile)) is None:
        row.error = "no account"
        return mobile
    config = current_app.config
    try:
        providers.send(config, mobile, config["SMS_TEMPLATE_CODE"], {"code": code}, reference=f"code:{row.id}")
    except providers.SmsProviderError as e:
        row.error = str(e)[:200]
        current_app.logger.warning("sms code not sent: %s", e)
        raise SmsRefused("provider") from None
    return mobile


def check_code(session: Session, raw_mobile: str, purpose: str, code: str, now: datetime) -> str:
    """Spend the latest code sent to this number for this purpose; returns the normalised number."""
    mobile = normalized(raw_mobile)
    row = session.scalar(sa.select(SmsCode).where(SmsCode.mobile == mobile, SmsCode.purpose == purpose)
                         .order_by(SmsCode.created_at.desc(), SmsCode.id.desc()).limit(1))
    if row is None or row.used_at is not None or now >= row.expires_at:
        raise SmsRefused("expired")
    if row.tries >= MAX_TRIES:
        raise SmsRefused("tries")
    # Each try is counted first, by a conditional update: parallel guesses cannot exceed the limit.
    counted = session.execute(sa.update(SmsCode).where(SmsCode.id == row.id, SmsCode.tries < MAX_TRIES,
                                                       SmsCode.used_at.is_(None))
                              .values(tries=SmsCode.tries + 1)).rowcount
    if counted != 1:
        raise SmsRefused("tries")
    entered = "".join((code or "").split())
    if row.error is not None or not hmac.compare_digest(row.code_hash, _hash(mobile, entered)):
        raise SmsRefused("wrong")
    spent = session.execute(sa.update(SmsCode).where(SmsCode.id == row.id, SmsCode.used_at.is_(None))
                            .values(used_at=now)).rowcount
    if spent != 1:
        raise SmsRefused("expired")
    return mobile
