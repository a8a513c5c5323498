"""Accounts: registration by invite, login with throttling, passwords. No request in here."""
import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn

from app.accounts.models import LoginAttempt, User
from app.core.access import Role
from app.accounts.models import PasswordReset
from app.cohorts.models import Cohort
from app.database import utcnow
from app.core.calendar import default_timezone
from app.core.members import trainee_count
from app.core.errors import DomainError
from app.api.tokens import revoke_all
from app.reminders.notify import notify

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 72   # zxcvbn's own limit: estimating longer ones costs seconds
# zxcvbn's score from 0 to 4: 3 is "safely unguessable" (about 10^8 guesses or more).
MIN_PASSWORD_SCORE = 3
CHINA_MOBILE = re.compile(r"^1[3-9]\d{9}$")
INTERNATIONAL_MOBILE = re.compile(r"^\+\d{7,15}$")
# Checked when no account matches, so a wrong address costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a real password")


def normalize_mobile(raw: str | None) -> str | None:
    """13812345678, 138 1234 5678, +86 138-1234-5678, 008613812345678, 8613812345678 and the same in
    full-width digits (１３８…, as a Chinese keyboard may type them) all become 13812345678."""
    if not raw or not raw.strip():
        return None
    mobile = re.sub(r"[\s\-().]", "", unicodedata.normalize("NFKC", raw))
    for prefix in ("+86", "0086", "86"):
        if mobile.startswith(prefix) and (prefix != "86" or CHINA_MOBILE.match(mobile[2:])):
            mobile = mobile[len(prefix):]
    if CHINA_MOBILE.match(mobile) or INTERNATIONAL_MOBILE.match(mobile):
        return mobile
    raise DomainError(field="mobile", message=_l("Enter a mobile number such as 13812345678."))


def normalize_email(raw: str | None) -> str | None:
    return raw.strip().lower() if raw and raw.strip() else None


def _personal_words(name: str | None, mobile: str | None, email: str | None) -> list[str]:
    """What someone who knows her tries first: her name (and each word of it), mobile and email."""
    words = [name or "", *(name or "").split(), mobile or "", email or "", (email or "").partition("@")[0]]
    # Three characters at least (two for a Chinese name such as 美美), so "li" does not refuse "reliable".
    return sorted({w.lower() for w in words if len(w) >= 3 or (len(w) == 2 and not w.isascii())})


def check_password_rules(password: str, field: str = "password", *, name: str | None = None,
                         mobile: str | None = None, email: str | None = None) -> None:
    """Refuse a password that is too short, too long, built on her own name, mobile or email, or
    common or guessable (zxcvbn: dictionaries of common passwords, names and words, keyboard
    patterns, dates, repeats)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(field=field, message=_l("Use at least %(n)d characters.", n=MIN_PASSWORD_LENGTH))
    if len(password) > MAX_PASSWORD_LENGTH:
        raise DomainError(field=field, message=_l("Use at most %(n)d characters.", n=MAX_PASSWORD_LENGTH))
    personal = _personal_words(name, mobile, email)
    if any(word in password.lower() for word in personal):
        raise DomainError(field=field, message=_l("Leave your name, mobile number and email out of your password: "
                                     "they are the first things someone would try."))
    if zxcvbn(password, user_inputs=personal)["score"] < MIN_PASSWORD_SCORE:
        raise DomainError(field=field, message=_l("This password is too easy to guess: it is a common password or "
                                     "a simple pattern. Try three or four unrelated words."))


def login_key(identifier: str) -> str:
    """One spelling per person: the email lower-cased, or the mobile number normalised (anything else
    as typed, lower-cased). Logins are found, and throttled, by this."""
    identifier = identifier.strip()
    if "@" not in identifier:
        try:
            identifier = normalize_mobile(identifier) or identifier
        except DomainError:
            pass
    return identifier.lower()[:254]


def find_by_login(session: Session, identifier: str) -> User | None:
    """The user whose email or mobile number this is."""
    key = login_key(identifier)
    if "@" in key:
        return session.scalar(sa.select(User).where(User.email == key))
    return session.scalar(sa.select(User).where(User.mobile == key)) if key else None


def find_cohort_by_code(session: Session, code: str) -> Cohort | None:
    return session.scalar(sa.select(Cohort).where(sa.func.upper(Cohort.invite_code) == code.strip().upper()))


def create_user(session: Session, *, name: str, password: str | None, role: str = Role.TRAINEE,
                email: str | None = None, mobile: str | None = None, cohort: Cohort | None = None,
                timezone: str | None = None, locale: str | None = None) -> User:
    """A new account. `password=None`: none she could type (she logs in by WeChat or an SMS code), so
    there is nothing to judge; a random one no one is told is stored."""
    email, mobile = normalize_email(email), normalize_mobile(mobile)
    if not email and not mobile:
        raise DomainError(field="mobile", message=_l("Give a mobile number or an email address (or both)."))
    if password is not None:
        check_password_rules(password, name=name, mobile=mobile, email=email)
    if email and session.scalar(sa.select(User.id).where(User.email == email)):
        raise DomainError(field="email", message=_l("This email address already has an account: log in instead."))
    if mobile and session.scalar(sa.select(User.id).where(User.mobile == mobile)):
        raise DomainError(field="mobile", message=_l("This mobile number already has an account: log in instead."))
    if role not in set(Role):
        raise DomainError(field="role", message=f"unknown role {role!r}")
    user = User(name=name.strip(), email=email, mobile=mobile, role=role, cohort=cohort,
                timezone=timezone or default_timezone(), locale=locale)
    user.set_password(password if password is not None else secrets.token_urlsafe(32))
    session.add(user)
    session.flush()
    return user


def set_email(session: Session, user: User, raw: str | None) -> None:
    """Add or change her email (a trainee who joined by mobile needs one for email reminders).
    Emptying it is allowed only while she has a mobile number to log in with."""
    email = normalize_email(raw)
    if email is None and not user.mobile:
        raise DomainError(field="email", message=_l("You log in with your email: it cannot be removed."))
    if email and session.scalar(sa.select(User.id).where(User.email == email, User.id != user.id)):
        raise DomainError(field="email", message=_l("This email address already belongs to another account."))
    user.email = email
    session.flush()


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
    return create_user(session, cohort=cohort, role=Role.TRAINEE, **_without_taken_identifiers(session, fields))


def _without_taken_identifiers(session: Session, fields: dict) -> dict:
    """Registration must not tell a stranger whether an email or a mobile number has an account: one
    that is taken is left off the new account, which is registered as usual with what remains. Only
    when nothing remains is she refused, with the words used when she gave neither."""
    email, mobile = normalize_email(fields.get("email")), normalize_mobile(fields.get("mobile"))
    # Judged against everything she typed: a refusal must not depend on what gets left off.
    if fields.get("password") is not None:
        check_password_rules(fields["password"], name=fields.get("name"), mobile=mobile, email=email)
    if email and session.scalar(sa.select(User.id).where(User.email == email)):
        email = None
    if mobile and session.scalar(sa.select(User.id).where(User.mobile == mobile)):
        mobile = None
    if not email and not mobile and (fields.get("email") or fields.get("mobile")):
        raise DomainError(field="mobile", message=_l("We cannot register these details. If you already have an "
                                                     "account, log in; else give another mobile number or email address."))
    return {**fields, "email": email, "mobile": mobile}


def register_without_password(session: Session, cohort: Cohort, *, name: str, mobile: str, timezone: str | None,
                              locale: str | None, now: datetime) -> User:
    """She joins by WeChat or a text-message code: no password she could type, so she logs in those ways
    (or sets one later from her account page)."""
    return register_trainee(session, cohort, name=name, mobile=mobile, password=None, timezone=timezone,
                            locale=locale, now=now)


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
    """Check a login, throttled per person and per address over a sliding window.

    Per person: failures are counted by the account the identifier names (her email and her mobile
    number are one person), or by the normalised identifier when it names none, so spelling one
    mobile number ten ways is still one account. Per address: only failures count, and a success takes its account's
    failures from that address back, so the many people behind one carrier NAT address who log in fine
    never add up (failures from elsewhere stay: her logging in does not give a guesser new tries)."""
    window = timedelta(minutes=config["LOGIN_WINDOW_MINUTES"])
    user = find_by_login(session, identifier)
    account = f"user:{user.id}" if user else login_key(identifier)
    for column, value, limit in ((LoginAttempt.account, account, config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]),
                                 (LoginAttempt.address, address, config["LOGIN_MAX_FAILURES_PER_ADDRESS"])):
        count, oldest = _failures(session, column, value, now - window)
        if count >= limit:
            wait = oldest + window - now
            return LoginResult(error="throttled", retry_minutes=max(1, -(-int(wait.total_seconds()) // 60)))

    valid = user.check_password(password) if user else check_password_hash(_DUMMY_HASH, password)
    if not valid:
        session.add(LoginAttempt(account=account, address=address, succeeded=False, attempted_at=now))
        return LoginResult(error="invalid")
    if not user.is_active:
        return LoginResult(error="inactive")
    # A success forgives this account's earlier failures from this address only.
    session.execute(sa.delete(LoginAttempt).where(LoginAttempt.account == account, LoginAttempt.address == address))
    session.add(LoginAttempt(account=account, address=address, succeeded=True, attempted_at=now))
    user.last_login_at = now
    return LoginResult(user=user)


def change_password(session: Session, user: User, current: str, new: str, now: datetime) -> None:
    """She sets a new password: her other sessions and her API tokens end with the old one."""
    if not user.check_password(current):
        raise DomainError(field="current_password", message=_l("That is not your current password."))
    set_new_password(session, user, new, now)


def set_new_password(session: Session, user: User, new: str, now: datetime) -> None:
    """Her new password, however she proved who she is (her current password, a reset link, an SMS
    code): judged by the rules first, then set; every session of hers ends and she is told."""
    check_password_rules(new, "new_password", name=user.name, mobile=user.mobile, email=user.email)
    user.set_password(new)
    password_changed(session, user, now)


def password_changed(session: Session, user: User, now: datetime) -> None:
    """What follows a new password, however it was set (changed, or reset through a link).

    set_password() already rotated her session token, which logs out every other session and
    remember-me cookie. Here: her API tokens are revoked (a stolen token must not outlive the
    password), and she is told, in her inbox at once and by email when she has an address and email
    is configured. A security notice: it goes by email whatever categories she muted, and has no
    unsubscribe link."""
    revoke_all(session, user, now)
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
    her = session.get(User, reset.user_id)
    check_password_rules(new_password, "new_password", name=her.name, mobile=her.mobile, email=her.email)
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
