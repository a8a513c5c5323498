"""Check-ins, progress against the milestones, and the diagnosis. Plain functions, `now` passed in.

Money is integer fen from end to end: parsed from text with Decimal, summed as integers.
"""
import re
from collections import namedtuple
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.checkins.models import Checkin, CheckinRevision, Milestone, Programme
from app.content import snapshot
from app.content.diagnosis import FACTORS
from app.core.calendar import day_number, local_today, programme_start
from app.core.money import parse_yuan
from app.core.errors import DomainError
from app.database import read

COUNTERS = ("orders", "group_members", "active_members", "posts")
FIELDS = ("date", "earnings", *COUNTERS, "note")
MAX_COUNT = {"orders": 10_000, "group_members": 100_000, "active_members": 100_000, "posts": 1_000}
MAX_NOTE = 2000
CUMULATIVE = {"earnings": "earnings_fen", "orders": "orders", "posts": "posts"}
LATEST = {"group_members": "group_members", "active_members": "active_members"}


def _count(raw, name: str) -> int | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool) or isinstance(raw, float) and not raw.is_integer():
        raise ValueError(_l("Enter a whole number."))
    try:
        value = int(str(raw).strip()) if not isinstance(raw, (int, float)) else int(raw)
    except ValueError:
        raise ValueError(_l("Enter a whole number.")) from None
    if value < 0:
        raise ValueError(_l("Cannot be negative."))
    if value > MAX_COUNT[name]:
        raise ValueError(_l("That is more than %(n)d: check the number.", n=MAX_COUNT[name]))
    return value


ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def parse_date(raw) -> date:
    """A day written YYYY-MM-DD, and nothing else: date.fromisoformat() also takes 20260301, 2026-W09-7
    and other ISO 8601 forms no one means here. ValueError otherwise."""
    text = str(raw).strip()
    if not ISO_DATE.fullmatch(text):
        raise ValueError(text)
    return date.fromisoformat(text)


def parse_checkin(raw: dict, *, today: date | None = None, start: date | None = None,
                  correction_days: int | None = None) -> dict:
    """Check every field of a check-in at once; raise DomainError with a message per bad field.

    The day is also checked against her `today`, her programme's `start` and the correction window
    (`correction_days` days back; None: no limit) when they are given.
    """
    errors, values = {}, {}
    for name in sorted(set(raw) - set(FIELDS)):
        errors[name] = _l("Unknown field.")
    try:
        values["day"] = parse_date(raw.get("date", ""))
    except ValueError:
        errors["date"] = _l("Enter a date as YYYY-MM-DD.")
    else:
        if problem := _day_problem(values["day"], today, start, correction_days):
            errors["date"] = problem
    if "earnings" not in raw or raw["earnings"] in (None, ""):
        errors["earnings"] = _l("Enter what you earned, 0 if nothing yet.")
    else:
        try:
            values["earnings_fen"] = parse_yuan(raw["earnings"])
        except ValueError as e:
            errors["earnings"] = e.args[0]
    for name in COUNTERS:
        try:
            values[name] = _count(raw.get(name), name)
        except ValueError as e:
            errors[name] = e.args[0]
    if (values.get("active_members") is not None and values.get("group_members") is not None
            and values["active_members"] > values["group_members"]):
        errors["active_members"] = _l("Active members cannot be more than the group's members.")
    note = raw.get("note")
    note = "" if note is None else note  # null is no note; false, 0, [] are not text (they were stored as "")
    if not isinstance(note, str) or len(note) > MAX_NOTE or not storable_text(note):
        errors["note"] = _l("A note is text of at most %(n)d characters.", n=MAX_NOTE)
    values["note"] = note.strip() if isinstance(note, str) else ""
    if errors:
        raise DomainError(fields=errors)
    return values


def storable_text(text: str) -> bool:
    """Text a database, a page and a UTF-8 response can all hold: no NUL (PostgreSQL refuses it in text)
    and no lone surrogate (JSON can carry "\\ud800", which no UTF-8 encoder accepts)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _day_problem(day: date, today: date | None, start: date | None, correction_days: int | None):
    if today is not None and day > today:
        return _l("That day has not come yet.")
    if start is not None and day < start:
        return _l("Your programme started on %(d)s.", d=start.isoformat())
    if today is not None and correction_days is not None and day < today - timedelta(days=correction_days):
        return _l("Days more than %(n)d days ago can no longer be changed: ask your mentor.", n=correction_days)
    return None


def get_programme(session: Session) -> Programme:
    return session.scalar(sa.select(Programme).where(Programme.key == "default")) or Programme(
        checkin_days=[1, 3, 5, 7, 10, 14, 21, 30], behind_margin_percent=20, correction_days=7, diagnosis={})


def record_checkin(session: Session, user: User, raw: dict, now: datetime, *, source: str = "web",
                   changed_by: User | None = None, programme: Programme | None = None) -> tuple[Checkin, bool]:
    """Store her check-in for a day; a second one for the same day updates it and keeps the old values.

    Returns (check-in, created). Mentor imports (source="import") may fill any past day of hers.
    """
    programme = programme or get_programme(session)
    # Every problem at once, the day's included (a bad amount must not hide a day in the future).
    values = parse_checkin(raw, today=local_today(user, now), start=programme_start(user),
                           correction_days=None if source == "import" else programme.correction_days)
    day = values.pop("day")
    values["reported_earnings_fen"] = values.pop("earnings_fen")
    checkin = session.scalar(sa.select(Checkin).where(Checkin.user_id == user.id, Checkin.day == day))
    created = checkin is None
    if created:
        checkin = Checkin(user_id=user.id, day=day, created_at=now)
        session.add(checkin)
    else:
        # What she had reported (the day's figure when she had not: a day the shop alone filled).
        reported = checkin.earnings_fen if checkin.reported_earnings_fen is None else checkin.reported_earnings_fen
        previous = {"earnings_fen": reported, "note": checkin.note, "source": checkin.source,
                    **{name: getattr(checkin, name) for name in COUNTERS}}
        checkin.revisions.append(CheckinRevision(values=previous, changed_by_id=(changed_by or user).id,
                                                 changed_at=now))
    for name, value in values.items():
        setattr(checkin, name, value)
    checkin.earnings_fen = day_earnings(checkin.reported_earnings_fen, checkin.shop_earnings_fen)
    checkin.source, checkin.updated_at = source, now
    session.flush()
    return checkin, created


def day_earnings(reported_fen: int | None, shop_fen: int | None) -> int:
    """A day's earnings, never counted twice: once a shop reports orders for a day, its commission (orders not
    refunded) is the day's figure and what she typed for it is kept aside; otherwise what she reported."""
    return shop_fen if shop_fen is not None else (reported_fen or 0)


def set_shop_earnings(session: Session, user: User, day: date, shop_fen: int | None, now: datetime) -> None:
    """The shop's commission for her day changed: put it on the day's row (made for it if she has none)."""
    checkin = session.scalar(sa.select(Checkin).where(Checkin.user_id == user.id, Checkin.day == day))
    if checkin is None:
        if shop_fen is None:
            return
        checkin = Checkin(user_id=user.id, day=day, source="shop", created_at=now, updated_at=now)
        session.add(checkin)
    checkin.shop_earnings_fen = shop_fen
    checkin.earnings_fen = day_earnings(checkin.reported_earnings_fen, shop_fen)
    session.flush()


# Built once: the home and the progress page read her check-ins on every request.
_CHECKINS_OF = sa.select(Checkin).where(Checkin.user_id == sa.bindparam("user_id")).order_by(Checkin.day)


def checkins_of(session: Session, user_id: int) -> list[Checkin]:
    return list(session.scalars(_CHECKINS_OF, {"user_id": user_id}))


class CheckinFigures(namedtuple("CheckinColumns", [column.key for column in Checkin.__table__.columns])):
    """A check-in's columns as read-only values, with Checkin's is_reported and earnings_source: what the
    pages that only show and count her check-ins (home, progress, her mentor's view of her, the API's
    progress) need, read as plain rows. Making ORM objects of them was a seventh of the home's time.
    Code that changes a check-in loads the Checkin itself (checkins_of, record_checkin)."""

    __slots__ = ()
    is_reported = Checkin.is_reported
    earnings_source = Checkin.earnings_source


_CHECKIN_FIGURES = (sa.select(*(Checkin.__table__.c[key] for key in CheckinFigures._fields))
                    .where(Checkin.__table__.c.user_id == sa.bindparam("user_id"))
                    .order_by(Checkin.__table__.c.day))


def checkin_figures(session: Session, user_id: int) -> list[CheckinFigures]:
    """Her check-ins by day, read-only (see CheckinFigures)."""
    return list(map(CheckinFigures._make, read(session, _CHECKIN_FIGURES, {"user_id": user_id})))


# --- progress ------------------------------------------------------------------------------

ACHIEVED, ON_TRACK, BEHIND, MISSED = "achieved", "on_track", "behind", "missed"


@dataclass
class MilestoneProgress:
    milestone: Milestone
    current: int        # fen or count, up to the due date
    due: date
    days_left: int      # days still to go, today included
    status: str
    expected: int       # where the pro-rata line is today

    @property
    def percent(self) -> int:
        return min(100, 100 * self.current // self.milestone.target) if self.milestone.target else 100


def milestone_status(milestone: Milestone, checkins: list[Checkin], start: date, today: date,
                     margin_percent: int) -> MilestoneProgress:
    """The documented rule (docs/checkins.md):

    achieved  her total (earnings, orders, posts) or latest number (members) reached the target
              on or before the due date, day `by_day` of her programme;
    missed    not achieved and the due date is over;
    behind    not achieved, and under the pro-rata line of the days already over
              (target x (day - 1) / by_day) by more than the margin;
    on_track  otherwise.
    """
    due = start + timedelta(days=milestone.by_day - 1)
    counted = [c for c in checkins if c.day <= due]
    if milestone.metric in CUMULATIVE:
        current = sum(getattr(c, CUMULATIVE[milestone.metric]) or 0 for c in counted)
    else:
        reported = [getattr(c, LATEST[milestone.metric]) for c in counted if getattr(c, LATEST[milestone.metric]) is not None]
        current = reported[-1] if reported else 0
    day = (today - start).days + 1
    days_over = max(0, min(day - 1, milestone.by_day))
    expected = milestone.target * days_over // milestone.by_day
    if current >= milestone.target:
        status = ACHIEVED
    elif today > due:
        status = MISSED
    # Exact, in integers: the floored `expected` would put some "behind" counts on track (5 of 6.67 members).
    elif current * 100 * milestone.by_day < milestone.target * days_over * (100 - margin_percent):
        status = BEHIND
    else:
        status = ON_TRACK
    return MilestoneProgress(milestone, current, due, max(0, (due - today).days + 1), status, expected)


@dataclass
class Factor:
    name: str            # traffic, circulation, monetization
    value: float | None
    reference: float     # on track for her stage of the programme
    lesson: str          # course/lesson

    @property
    def ratio(self) -> float | None:
        return None if self.value is None else self.value / self.reference


@dataclass
class Diagnosis:
    factors: list[Factor] = field(default_factory=list)
    weakest: Factor | None = None
    has_data: bool = False
    stage: str | None = None     # the key of her stage in programme.yml


def stage_for_day(diagnosis: dict, day: int) -> dict | None:
    """The stage of milestones/programme.yml her programme day is in (the last one whose from_day
    she has reached), or None when the file gives no stages."""
    reached = [s for s in diagnosis.get("stages") or [] if s["from_day"] <= max(day, 1)]
    return max(reached, key=lambda s: s["from_day"]) if reached else None


def diagnose(checkins: list[Checkin], today: date, programme: Programme, day: int) -> Diagnosis:
    """The formula's three factors from her last week, each against the reference of her stage
    (`day`: her programme day). When several are under their reference, the first of the file's
    `order` is named: a quiet group is made lively before it is grown."""
    week = [c for c in checkins if today - timedelta(days=6) <= c.day <= today]
    members = next((c.group_members for c in reversed(week) if c.group_members is not None), None)
    active = next((c.active_members for c in reversed(week) if c.active_members is not None), None)
    orders = sum(c.orders or 0 for c in week) if any(c.orders is not None for c in week) else None
    values = {
        "traffic": members,
        "circulation": active / members if members and active is not None else None,
        "monetization": orders / active if active and orders is not None else None,
    }
    rules = programme.diagnosis or {}
    stage = stage_for_day(rules, day)
    if stage is None:
        return Diagnosis()
    factors = [Factor(name, values[name], stage["references"][name], rules["lessons"][name]) for name in FACTORS]
    known = [f for f in factors if f.ratio is not None]
    under = {f.name: f for f in known if f.ratio < 1}
    weakest = next((under[name] for name in rules.get("order", FACTORS) if name in under), None)
    return Diagnosis(factors, weakest, bool(known), stage["key"])


@dataclass
class Progress:
    programme_day: int
    today: date
    start: date
    milestones: list[MilestoneProgress]
    diagnosis: Diagnosis
    checkins: list[CheckinFigures]
    checked_in_today: bool

    def cumulative_earnings(self) -> list[tuple[date, int]]:
        total, series = 0, []
        for checkin in self.checkins:
            total += checkin.earnings_fen
            series.append((checkin.day, total))
        return series

    @property
    def total_earnings_fen(self) -> int:
        return sum(c.earnings_fen for c in self.checkins)


def progress(session: Session, user: User, now: datetime) -> Progress:
    """Everything the home, progress and API pages show about her line: her check-ins in one query,
    the programme and milestones from the shared content snapshot."""
    content = snapshot.current(session)
    programme = content.programme or get_programme(session)
    milestones = content.milestones
    checkins = checkin_figures(session, user.id)
    today, start = local_today(user, now), programme_start(user)
    return Progress(
        programme_day=day_number(start, today), today=today, start=start,
        milestones=[milestone_status(m, checkins, start, today, programme.behind_margin_percent) for m in milestones],
        diagnosis=diagnose(checkins, today, programme, (today - start).days + 1), checkins=checkins,
        checked_in_today=any(c.day == today and c.is_reported for c in checkins))


def milestones_by_key(session: Session, keys) -> list[Milestone]:
    """The milestones named by these keys (as the mentors' table stores them), in one query."""
    return list(session.scalars(sa.select(Milestone).where(Milestone.key.in_(list(keys))))) if keys else []
