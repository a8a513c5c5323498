"""Accounts: registration by invite, login with throttling, passwords. No request in here."""
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from app.accounts.models import LoginAttempt, User
from app.core.access import Role
from app.accounts.models import PasswordReset
from app.cohorts.models import Cohort
from app.database import utcnow
from app.core.calendar import default_timezone
from app.core.members import trainee_count
from app.core.errors import DomainError
from app.api.models import ApiToken
from app.reminders.notify import notify

MIN_PASSWORD_LENGTH = 8
CHINA_MOBILE = re.compile(r"^1[3-9]\d{9}$")
INTERNATIONAL_MOBILE = re.compile(r"^\+\d{7,15}$")
# Checked when no account matches, so a wrong address costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a real password")


def normalize_mobile(raw: str | None) -> str | None:
    """13812345678, 138 1234 5678, +86 138-1234-5678 all become 13812345678."""
    if not raw or not raw.strip():
        return None
    mobile = re.sub(r"[\s\-()]", "", raw)
    for prefix in ("+86", "0086"):
        if mobile.startswith(prefix):
            mobile = mobile[len(prefix):]
    if CHINA_MOBILE.match(mobile) or INTERNATIONAL_MOBILE.match(mobile):
        return mobile
    raise DomainError(field="mobile", message=_l("Enter a mobile number such as 13812345678."))


def normalize_email(raw: str | None) -> str | None:
    return raw.strip().lower() if raw and raw.strip() else None


def check_password_rules(password: str, field: str = "password") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(field=field, message=_l("Use at least %(n)d characters.", n=MIN_PASSWORD_LENGTH))


def find_by_login(session: Session, identifier: str) -> User | None:
    """The user whose email or mobile number this is."""
    identifier = identifier.strip()
    if "@" in identifier:
        return session.scalar(sa.select(User).where(User.email == identifier.lower()))
    try:
        mobile = normalize_mobile(identifier)
    except DomainError:
        return None
    return session.scalar(sa.select(User).where(User.mobile == mobile)) if mobile else None


def find_cohort_by_code(session: Session, code: str) -> Cohort | None:
    return session.scalar(sa.select(Cohort).where(sa.func.upper(Cohort.invite_code) == code.strip().upper()))


def create_user(session: Session, *, name: str, password: str, role: str = Role.TRAINEE,
                email: str | None = None, mobile: str | None = None, cohort: Cohort | None = None,
                timezone: str | None = None, locale: str | None = None) -> User:
    email, mobile = normalize_email(email), normalize_mobile(mobile)
    if not email and not mobile:
        raise DomainError(field="mobile", message=_l("Give a mobile number or an email address (or both)."))
    check_password_rules(password)
    if email and session.scalar(sa.select(User.id).where(User.email == email)):
        raise DomainError(field="email", message=_l("This email address already has an account: log in instead."))
    if mobile and session.scalar(sa.select(User.id).where(User.mobile == mobile)):
        raise DomainError(field="mobile", message=_l("This mobile number already has an account: log in instead."))
    if role not in set(Role):
        raise DomainError(field="role", message=f"unknown role {role!r}")
    user = User(name=name.strip(), email=email, mobile=mobile, role=role, cohort=cohort,
                timezone=timezone or default_timezone(), locale=locale)
    user.set_password(password)
    session.add(user)
    session.flush()
    return user


def invite_problem(session: Session, cohort: Cohort, now: datetime):
    """Why this cohort's invite cannot be used now (a message for her), or None when it can."""
    if cohort.invite_expires_at is not None and now >= cohort.invite_expires_at:
        return _l("This invite link has expired. Ask your mentor for a new one.")
    if cohort.seat_limit is not None and trainee_count(session, cohort.id) >= cohort.seat_limit:
        return _l("This cohort is full: every place has been taken. Ask your mentor about the next cohort.")
    return None


def register_trainee(session: Session, cohort: Cohort, *, now: datetime | None = None, **fields) -> User:
    """A newcomer joins her cohort through its invite, while it is open and has a free seat."""
    # Hold the cohort row (PostgreSQL) so two newcomers cannot both take the last seat.
    session.execute(sa.select(Cohort.id).where(Cohort.id == cohort.id).with_for_update())
    problem = invite_problem(session, cohort, now or utcnow())
    if problem is not None:
        raise DomainError(problem, code="invite_closed")
    return create_user(session, cohort=cohort, role=Role.TRAINEE, **fields)


def register_without_password(session: Session, cohort: Cohort, *, name: str, mobile: str, timezone: str | None,
                              locale: str | None, now: datetime) -> User:
    """She joins by WeChat or a text-message code: a password she is never told, so she logs in those ways
    (or sets one later from her account page)."""
    return register_trainee(session, cohort, name=name, mobile=mobile, password=secrets.token_urlsafe(24),
                            timezone=timezone, locale=locale, now=now)


@dataclass
class LoginResult:
    user: User | None = None
    error: str | None = None  # "invalid", "throttled" or "inactive"
    retry_minutes: int = 0


def _failures(session: Session, column, value: str, since: datetime) -> tuple[int, datetime | None]:
    count, oldest = session.execute(
        sa.select(sa.func.count(), sa.func.min(LoginAttempt.attempted_at))
        .where(column == value, LoginAttempt.succeeded.is_(False), LoginAttempt.attempted_at >= since)
    ).one()
    return count, oldest


def authenticate(session: Session, identifier: str, password: str, address: str, now: datetime,
                 config: dict) -> LoginResult:
    """Check a login, throttled per account and per address over a sliding window."""
    window = timedelta(minutes=config["LOGIN_WINDOW_MINUTES"])
    account = identifier.strip().lower()[:254]
    for column, value, limit in ((LoginAttempt.account, account, config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]),
                                 (LoginAttempt.address, address, config["LOGIN_MAX_FAILURES_PER_ADDRESS"])):
        count, oldest = _failures(session, column, value, now - window)
        if count >= limit:
            wait = oldest + window - now
            return LoginResult(error="throttled", retry_minutes=max(1, -(-int(wait.total_seconds()) // 60)))

    user = find_by_login(session, identifier)
    valid = user.check_password(password) if user else check_password_hash(_DUMMY_HASH, password)
    if not valid:
        session.add(LoginAttempt(account=account, address=address, succeeded=False, attempted_at=now))
        return LoginResult(error="invalid")
    if not user.is_active:
        return LoginResult(error="inactive")
    # A success forgives this account's earlier failures (not the address's).
    session.execute(sa.delete(LoginAttempt).where(LoginAttempt.account == account))
    session.add(LoginAttempt(account=account, address=address, succeeded=True, attempted_at=now))
    user.last_login_at = now
    return LoginResult(user=user)


def change_password(session: Session, user: User, current: str, new: str, now: datetime) -> None:
    """She sets a new password: her other sessions and her API tokens end with the old one."""
    if not user.check_password(current):
        raise DomainError(field="current_password", message=_l("That is not your current password."))
    check_password_rules(new, "new_password")
    user.set_password(new)
    password_changed(session, user, now)


def password_changed(session: Session, user: User, now: datetime) -> None:
    """What follows a new password, however it was set (changed, or reset through a link).

    set_password() already rotated her session token, which logs out every other session and
    remember-me cookie. Here: her API tokens are revoked (a stolen token must not outlive the
    password), and she is told, in her inbox at once and by email when she has an address and email
    is configured. A security notice: it goes by email whatever categories she muted, and has no
    unsubscribe link."""
    session.execute(sa.update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
                    .values(revoked_at=now).execution_options(synchronize_session="fetch"))
    session.flush()
    notify(session, user, "password_changed", {}, now, category="security", occasion=now.isoformat())


# --- one-time password reset links (an admin creates them: app/cohorts/admin.py) -----------------

RESET_LINK_VALID = timedelta(hours=72)
RESET_PROBLEMS = {
    "invalid": _l("This link is not valid. Ask an admin for a new one."),
    "used": _l("This link has already been used. Ask an admin for a new one if you need it."),
    "expired": _l("This link has expired. Ask an admin for a new one."),
}


def hash_reset_token(token: str) -> str:
    """Only this is stored: whoever reads the database cannot use the link."""
    return hashlib.sha256(token.encode()).hexdigest()


def find_reset(session: Session, token: str, now: datetime) -> PasswordReset:
    """The reset this link stands for, if it can still be used; DomainError says why not."""
    reset = session.scalar(sa.select(PasswordReset).where(PasswordReset.token_hash == hash_reset_token(token)))
    if reset is None:
        raise DomainError(RESET_PROBLEMS["invalid"], code="invalid")
    if reset.used_at is not None:
        raise DomainError(RESET_PROBLEMS["used"], code="used")
    if now >= reset.expires_at:
        raise DomainError(RESET_PROBLEMS["expired"], code="expired")
    user = session.get(User, reset.user_id)
    if user is None or not user.is_active:
        raise DomainError(RESET_PROBLEMS["invalid"], code="invalid")
    return reset


def reset_password(session: Session, token: str, new_password: str, now: datetime) -> User:
    """Set her new password through the link, once: her other sessions end with it."""
    reset = find_reset(session, token, now)
    check_password_rules(new_password, "new_password")
    # Claimed by a conditional update, so two submissions of the same link cannot both win.
    claimed = session.execute(sa.update(PasswordReset).where(
        PasswordReset.id == reset.id, PasswordReset.used_at.is_(None)).values(used_at=now)).rowcount
    if claimed != 1:
        raise DomainError(RESET_PROBLEMS["used"], code="used")
    user = session.get(User, reset.user_id)
    user.set_password(new_password)
    session.flush()
    password_changed(session, user, now)
    return user
