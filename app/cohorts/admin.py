"""What admins do: cohorts and their invites, moving and closing accounts, reset links, the audit log.

Plain functions over a session: each takes the acting admin and `now`, checks the rules, changes the
rows, writes its audit entry and flushes. The caller commits (or rolls back on DomainError).
"""
import re
import secrets
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date, datetime, timezone
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app.api.tokens import revoke_all
from app.accounts.forms import TIMEZONES
from app.accounts.models import User
from app.core.access import Role
from app.accounts.service import RESET_LINK_VALID, hash_reset_token
from app.core import audit
from app.accounts.models import PasswordReset
from app.cohorts.models import Cohort
from app.core.calendar import default_timezone
from app.core.members import active_trainees
from app.core.errors import DomainError
from app.core.paging import PER_PAGE, paginate

ROBOT_KINDS = ("wecom", "dingtalk", "feishu")
INVITE_CODE = re.compile(r"^[A-Z0-9-]{4,32}$")
# No 0/O or 1/I/L: a code is often read aloud or copied by hand from a phone screen.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"




# --- cohorts -----------------------------------------------------------------------------------

@dataclass
class CohortRow:
    cohort: Cohort
    trainees: int


def list_cohorts(session: Session) -> list[CohortRow]:
    """Every cohort with its number of active trainees (one grouped query; mentors come selectin-loaded)."""
    counts = (sa.select(User.cohort_id, sa.func.count(User.id).label("trainees"))
              .where(*active_trainees(), User.cohort_id.is_not(None))
              .group_by(User.cohort_id).subquery())
    rows = session.execute(
        sa.select(Cohort, sa.func.coalesce(counts.c.trainees, 0))
        .outerjoin(counts, counts.c.cohort_id == Cohort.id)
        .order_by(Cohort.is_archived, Cohort.start_date.desc(), Cohort.id.desc()))
    return [CohortRow(cohort, trainees) for cohort, trainees in rows]


def mentor_choices(session: Session, cohort: Cohort | None = None) -> list[User]:
    """Active mentors, and whoever already coaches this cohort (even if closed since)."""
    current = [m.id for m in cohort.mentors] if cohort is not None else []
    return list(session.scalars(
        sa.select(User).where(User.role == Role.MENTOR,
                              sa.or_(User.is_active.is_(True), User.id.in_(current)))
        .order_by(User.name, User.id)))


def new_invite_code(session: Session) -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
        if not _code_taken(session, code):
            return code


def _code_taken(session: Session, code: str, except_id: int | None = None) -> bool:
    query = sa.select(Cohort.id).where(sa.func.upper(Cohort.invite_code) == code.upper())
    if except_id is not None:
        query = query.where(Cohort.id != except_id)
    return session.scalar(query.limit(1)) is not None


@dataclass
class CohortData:
    """What the admin typed. `robot_secret` None keeps the cohort's current secret."""

    name: str
    start_date: date
    timezone: str = dataclass_field(default_factory=default_timezone)
    mentor_ids: tuple[int, ...] = ()
    invite_code: str | None = None
    invite_expires_at: datetime | None = None   # aware; stored as UTC
    seat_limit: int | None = None
    rank_by_earnings: bool = False
    robot_kind: str | None = None
    robot_webhook: str | None = None
    robot_secret: str | None = None


def _check_webhook(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in url):
        raise DomainError(field="robot_webhook", message=_l("Enter the robot's webhook address: it starts with https://."))
    return url


def _clean(session: Session, cohort: Cohort | None, data: CohortData) -> dict:
    """The cohort's new column values, or DomainError for the first thing wrong."""
    name = (data.name or "").strip()
    if not name:
        raise DomainError(field="name", message=_l("Give the cohort a name."))
    if len(name) > 120:
        raise DomainError(field="name", message=_l("At most %(n)d characters.", n=120))
    if data.start_date is None:
        raise DomainError(field="start_date", message=_l("Choose the start date."))
    if data.timezone not in {choice.value for choice in TIMEZONES}:
        raise DomainError(field="timezone", message=_l("Choose a time zone from the list."))

    code = re.sub(r"\s+", "", data.invite_code or "").upper()
    if not code:
        code = cohort.invite_code if cohort is not None else new_invite_code(session)
    elif not INVITE_CODE.match(code):
        raise DomainError(field="invite_code", message=_l("Use 4 to 32 letters, digits or dashes."))
    if _code_taken(session, code, except_id=cohort.id if cohort is not None else None):
        raise DomainError(field="invite_code", message=_l("Another cohort already uses this invite code. Choose another one."))

    expires = data.invite_expires_at
    if expires is not None and expires.tzinfo is None:
        raise ValueError("the invite expiry must be an aware datetime")
    if data.seat_limit is not None and data.seat_limit < 1:
        raise DomainError(field="seat_limit", message=_l("Leave it empty for no limit, or give at least 1 seat."))

    mentor_ids = sorted(set(data.mentor_ids))
    mentors = list(session.scalars(sa.select(User).where(User.id.in_(mentor_ids), User.role == Role.MENTOR)
                                   .order_by(User.name, User.id))) if mentor_ids else []
    if len(mentors) != len(mentor_ids):
        raise DomainError(field="mentors", message=_l("Choose mentors from the list."))

    kind = data.robot_kind or None
    webhook = (data.robot_webhook or "").strip() or None
    if kind is None:
        if webhook:
            raise DomainError(field="robot_kind", message=_l("Choose which app the robot belongs to."))
        secret = None  # no robot: nothing of it is kept
    else:
        if kind not in ROBOT_KINDS:
            raise DomainError(field="robot_kind", message=_l("Choose a robot from the list."))
        if not webhook:
            raise DomainError(field="robot_webhook", message=_l("Enter the robot's webhook address: it starts with https://."))
        _check_webhook(webhook)
        secret = (data.robot_secret or "").strip() or (cohort.robot_secret if cohort is not None else None)
    return {"name": name, "start_date": data.start_date, "timezone": data.timezone, "invite_code": code,
            "invite_expires_at": expires.astimezone(timezone.utc) if expires is not None else None,
            "seat_limit": data.seat_limit, "rank_by_earnings": bool(data.rank_by_earnings),
            "robot_kind": kind, "robot_webhook": webhook,
            "robot_secret": secret, "mentors": mentors}


# Never written into the audit log as values: the webhook address carries its key.
_SECRET_FIELDS = {"robot_webhook", "robot_secret"}


def _audit_value(field: str, value):
    if field == "mentors":
        return [m.id for m in value]
    return value


def save_cohort(session: Session, actor: User, cohort: Cohort | None, data: CohortData, now: datetime) -> Cohort:
    """Create a cohort (cohort None) or update one; audited as cohort.create or cohort.update."""
    values = _clean(session, cohort, data)
    if cohort is None:
        cohort = Cohort(created_at=now)
        for field, value in values.items():
            setattr(cohort, field, value)
        session.add(cohort)
        session.flush()
        details = {f: _audit_value(f, v) for f, v in values.items() if f not in _SECRET_FIELDS}
        details["robot"] = bool(values["robot_webhook"])
        audit.record(session, actor, "cohort.create", cohort, **details).created_at = now
    else:
        changes = {}
        for field, value in values.items():
            old = getattr(cohort, field)
            if field == "mentors":
                if {m.id for m in old} == {m.id for m in value}:
                    continue
            elif old == value:
                continue
            changes[field] = "changed" if field in _SECRET_FIELDS else [_audit_value(field, old),
                                                                        _audit_value(field, value)]
            setattr(cohort, field, value)
        session.flush()
        audit.record(session, actor, "cohort.update", cohort, name=cohort.name, changes=changes).created_at = now
    return cohort


# --- users -------------------------------------------------------------------------------------

def _like(text: str) -> str:
    return "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"


def find_users(session: Session, q: str | None, page=1, per_page: int = PER_PAGE) -> Pagination:
    """Users whose name, email or mobile contains `q` (any case), by name; everyone when q is empty."""
    query = sa.select(User)
    q = (q or "").strip()
    if q:
        conditions = [sa.func.lower(User.name).like(_like(q.lower()), escape="\\"),
                      sa.func.lower(User.email).like(_like(q.lower()), escape="\\")]
        digits = re.sub(r"[\s\-()]", "", q)
        if digits:
            conditions.append(User.mobile.like(_like(digits), escape="\\"))
        query = query.where(sa.or_(*conditions))
    return paginate(query.order_by(User.name, User.id), page, per_page)


def cohort_choices(session: Session) -> list[Cohort]:
    """Cohorts a trainee can be moved into: the open ones, newest first."""
    return list(session.scalars(sa.select(Cohort).where(Cohort.is_archived.is_(False))
                                .order_by(Cohort.start_date.desc(), Cohort.id.desc())))


def move_user(session: Session, actor: User, user: User, cohort: Cohort | None, now: datetime) -> None:
    """Move a trainee into another cohort; audited as user.move."""
    if user.role != Role.TRAINEE:
        raise DomainError(field="cohort", message=_l("Only trainees belong to a cohort."))
    if cohort is None or cohort.is_archived:
        raise DomainError(field="cohort", message=_l("Choose a cohort from the list."))
    if user.cohort_id == cohort.id:
        raise DomainError(field="cohort", message=_l("She is already in this cohort."))
    before = user.cohort
    user.cohort = cohort
    session.flush()
    audit.record(session, actor, "user.move", user, name=user.name,
                 from_cohort=before.id if before else None, from_name=before.name if before else None,
                 to_cohort=cohort.id, to_name=cohort.name).created_at = now


def deactivate_user(session: Session, actor: User, user: User, now: datetime) -> None:
    """Close an account: nothing is deleted, she cannot log in, every session of hers ends now, and her API
    tokens are revoked (so reactivating her later does not bring them back)."""
    if user.id == actor.id:
        raise DomainError(_l("You cannot deactivate your own account."), status=409)
    if not user.is_active:
        raise DomainError(_l("This account is already deactivated."), status=409)
    user.is_active = False
    user.end_sessions()
    revoke_all(session, user, now)
    session.flush()
    audit.record(session, actor, "user.deactivate", user, name=user.name).created_at = now


def reactivate_user(session: Session, actor: User, user: User, now: datetime) -> None:
    if user.is_active:
        raise DomainError(_l("This account is already active."), status=409)
    user.is_active = True
    session.flush()
    audit.record(session, actor, "user.reactivate", user, name=user.name).created_at = now


def create_reset_link(session: Session, actor: User, user: User, now: datetime) -> str:
    """A one-time token for /reset/<token>, valid 72 hours; only its SHA-256 is stored.

    Her earlier unused links stop working: only the newest one counts.
    """
    if not user.is_active:
        raise DomainError(_l("Reactivate the account before creating a reset link."), status=409)
    session.execute(sa.update(PasswordReset).where(
        PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None), PasswordReset.expires_at > now)
        .values(expires_at=now))
    token = secrets.token_urlsafe(32)
    reset = PasswordReset(user_id=user.id, token_hash=hash_reset_token(token), created_by_id=actor.id,
                          created_at=now, expires_at=now + RESET_LINK_VALID)
    session.add(reset)
    session.flush()
    audit.record(session, actor, "user.reset_link", user, name=user.name,
                 expires_at=reset.expires_at).created_at = now
    return token


# --- the audit log -----------------------------------------------------------------------------

def audit_page(session: Session, page=1, per_page: int = PER_PAGE) -> tuple[Pagination, dict[str, str]]:
    """Entries newest first, and a readable name for each "user:N" / "cohort:N" target on the page."""
    result = paginate(audit.newest_first(), page, per_page)
    entries = result.items
    wanted: dict[str, set[int]] = {"user": set(), "cohort": set()}
    for entry in entries:
        kind, _, ident = entry.target.partition(":")
        if kind in wanted and ident.isdigit():
            wanted[kind].add(int(ident))
    names = {}
    if wanted["user"]:
        names |= {f"user:{i}": n for i, n in session.execute(
            sa.select(User.id, User.name).where(User.id.in_(wanted["user"])))}
    if wanted["cohort"]:
        names |= {f"cohort:{i}": n for i, n in session.execute(
            sa.select(Cohort.id, Cohort.name).where(Cohort.id.in_(wanted["cohort"])))}
    return result, names

