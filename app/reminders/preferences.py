"""A user's reminder choices, the programme's defaults behind them, unsubscribe links and quiet hours.

    eff = effective(programme.reminders, get_preference(session, user))
    if eff.wants_email("checkin"): ...
    next_allowed(local_now, eff.quiet_start, eff.quiet_end)   # when a message may go out

In-app inbox messages always arrive; these choices govern email, her daily reminder time, her
quiet hours and whether the cohort's group robot may @-mention her. A NULL column (or no row at
all) means "the programme's default" from milestones/reminders.yml, so a change there reaches
everyone who has not chosen otherwise. Plain functions over a session: the caller commits.
"""
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.reminders.models import CATEGORIES, ReminderPreference
from app.core.errors import DomainError
from app.checkins.service import get_programme
from app.accounts.models import User

# Used only when the programme has no reminders settings yet (content never synced); the same
# values as the shipped milestones/reminders.yml.
FALLBACK_SEND_AT = "20:00"
FALLBACK_QUIET = ("22:00", "08:00")

# What each category is called on the preferences and unsubscribe pages.
CATEGORY_LABELS = {
    "checkin": _l("Check-in reminders"),
    "learning": _l("Lesson reminders"),
    "progress": _l("Milestone progress"),
    "celebration": _l("Milestones reached"),
    "review": _l("Reviewed assignments"),
    "nudge": _l("Messages from your mentor"),
    "digest": _l("Daily list of trainees who need you"),
}
# Which categories reach whom: trainees get everything but the mentors' digest.
TRAINEE_CATEGORIES = ("checkin", "learning", "progress", "celebration", "review", "nudge")
MENTOR_CATEGORIES = ("digest",)

_CLOCK = re.compile(r"^(\d{1,2})[:：](\d{2})(?:[:：](\d{2}))?$")  # a full-width colon from a Chinese keyboard
_UNSET = object()


@dataclass(frozen=True)
class Effective:
    """What applies to one user: her choices where she made them, the programme's elsewhere."""

    email_enabled: bool
    email_muted: frozenset[str]
    group_mention: bool
    send_at: str        # "HH:MM", her local time
    quiet_start: str    # "HH:MM"; equal to quiet_end means no quiet hours
    quiet_end: str

    def wants_email(self, category: str) -> bool:
        return self.email_enabled and category not in self.email_muted

    def reminder_held_until(self) -> str | None:
        """The end of her quiet hours when her daily reminder time falls inside them, else None."""
        if in_quiet_hours(_time(self.send_at), self.quiet_start, self.quiet_end):
            return self.quiet_end
        return None


def _time(clock: str) -> time:
    hours, minutes = clock.split(":")
    return time(int(hours), int(minutes))


def clock(text: str | None) -> str | None:
    """"HH:MM" from what she typed ("8:05", "20:00", "20:00:00", "20：00"); None when empty.

    ValueError when it is not a time of day."""
    text = (text or "").strip()
    if not text:
        return None
    match = _CLOCK.match(text)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59 or int(match.group(3) or 0) > 59:
        raise ValueError(f"not a time of day: {text!r}")
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def _programme_clock(value, fallback: str) -> str:
    try:
        return clock(value) or fallback
    except (TypeError, ValueError):
        return fallback


def programme_defaults(programme_reminders: dict | None) -> tuple[str, str, str]:
    """(send_at, quiet_start, quiet_end) of the programme, "HH:MM" each."""
    reminders = programme_reminders or {}
    if not reminders:
        return FALLBACK_SEND_AT, *FALLBACK_QUIET
    quiet = reminders.get("quiet_hours") or {}
    return (_programme_clock(reminders.get("send_at"), FALLBACK_SEND_AT),
            _programme_clock(quiet.get("start"), FALLBACK_QUIET[0]),
            _programme_clock(quiet.get("end"), FALLBACK_QUIET[1]))


def effective(programme_reminders: dict | None, pref: ReminderPreference | None) -> Effective:
    """Her choices over the programme's defaults (`Programme.reminders`); pref None means all defaults."""
    send_at, quiet_start, quiet_end = programme_defaults(programme_reminders)
    if pref is None:
        return Effective(True, frozenset(), True, send_at, quiet_start, quiet_end)
    if pref.quiet_start and pref.quiet_end:  # quiet hours are chosen as a pair
        quiet_start, quiet_end = pref.quiet_start, pref.quiet_end
    return Effective(
        email_enabled=pref.email_enabled is not False,
        email_muted=frozenset(pref.email_muted or ()) & frozenset(CATEGORIES),
        group_mention=pref.group_mention is not False,
        send_at=pref.send_at or send_at, quiet_start=quiet_start, quiet_end=quiet_end)


def categories_for(user) -> tuple[str, ...]:
    """The categories that can reach her by email, for her preferences page."""
    return TRAINEE_CATEGORIES if user.is_trainee else MENTOR_CATEGORIES


def get_preference(session: Session, user) -> ReminderPreference | None:
    return session.get(ReminderPreference, user.id)


def effective_for(session: Session, user) -> Effective:
    return effective(get_programme(session).reminders, get_preference(session, user))


def update_settings(session: Session, user, *, now: datetime, shares_earnings=_UNSET, **choices) -> ReminderPreference:
    """Her settings as the preferences page and the API send them: the email choices count only when she has
    an email, the group mention and sharing her earnings only for a trainee (otherwise they are ignored).
    Raises DomainError (nothing changed) like save_preference."""
    if not user.email:
        choices.pop("email_enabled", None)
        choices.pop("email_categories", None)
    if not user.is_trainee:
        choices.pop("group_mention", None)
        shares_earnings = _UNSET
    pref = save_preference(session, user, now=now, **choices)
    if shares_earnings is not _UNSET:
        user.shares_earnings = bool(shares_earnings)
    session.flush()
    return pref


def save_preference(session: Session, user, *, now: datetime, email_enabled=_UNSET, email_categories=_UNSET,
                    group_mention=_UNSET, send_at=_UNSET, quiet_start=_UNSET, quiet_end=_UNSET) -> ReminderPreference:
    """Store the choices given; whatever is not given keeps its current value.

    email_categories: {category: True to get it by email, False to mute it}; others unchanged.
    send_at, quiet_start, quiet_end: "HH:MM" as typed; empty means the programme's default, and so
    does the programme's own value (she keeps following the programme if it changes later).
    Quiet hours go in pairs: both times or neither. Raises DomainError with every problem.
    """
    if (quiet_start is _UNSET) != (quiet_end is _UNSET):
        raise TypeError("quiet_start and quiet_end go together")
    default_send_at, default_start, default_end = programme_defaults(get_programme(session).reminders)
    errors, times = {}, {}
    for field, value in (("send_at", send_at), ("quiet_start", quiet_start), ("quiet_end", quiet_end)):
        if value is _UNSET:
            continue
        try:
            times[field] = clock(value)
        except ValueError:
            errors[field] = _l("Enter a time like 20:00.")
    if "quiet_start" in times and "quiet_end" in times and (times["quiet_start"] is None) != (
            times["quiet_end"] is None):
        missing = "quiet_start" if times["quiet_start"] is None else "quiet_end"
        errors[missing] = _l("Give both times, or leave both empty for the programme's quiet hours.")
    if email_categories is not _UNSET:
        unknown = set(email_categories) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"unknown categories: {sorted(unknown)}")
    if errors:
        raise DomainError(fields=errors)

    pref = get_preference(session, user)
    if pref is None:
        try:  # a mail client may send the one-click POST twice at once: the second finds the first's row
            with session.begin_nested():
                session.add(ReminderPreference(user_id=user.id, email_enabled=True, group_mention=True,
                                               email_muted=[]))
        except IntegrityError:
            pass
        pref = get_preference(session, user)
    if email_enabled is not _UNSET:
        pref.email_enabled = bool(email_enabled)
    if group_mention is not _UNSET:
        pref.group_mention = bool(group_mention)
    if email_categories is not _UNSET:
        muted = set(pref.email_muted or ())
        muted |= {c for c, wanted in email_categories.items() if not wanted}
        muted -= {c for c, wanted in email_categories.items() if wanted}
        pref.email_muted = [c for c in CATEGORIES if c in muted]  # a new list: JSON columns see changes by value
    if "send_at" in times:
        pref.send_at = None if times["send_at"] in (None, default_send_at) else times["send_at"]
    if "quiet_start" in times:
        pair = (times["quiet_start"], times["quiet_end"])
        following = pair in ((None, None), (default_start, default_end))
        pref.quiet_start, pref.quiet_end = (None, None) if following else pair
    pref.updated_at = now
    session.flush()
    return pref


# --- unsubscribe links -------------------------------------------------------------------------

def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="unsubscribe")


def unsubscribe_token(user_id: int, category: str) -> str:
    """The token in an email's unsubscribe link. It never expires: an old email's link must still work."""
    return _serializer().dumps([user_id, category])


def read_unsubscribe_token(token: str) -> tuple[int, str] | None:
    """(user id, category), or None for a token we did not sign."""
    try:
        data = _serializer().loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    if (not isinstance(data, list) or len(data) != 2 or type(data[0]) is not int
            or data[1] not in CATEGORIES):
        return None
    return data[0], data[1]


def unsubscribe(session: Session, user_id: int, category: str, now: datetime) -> bool:
    """Mute `category` for her emails. True when it is (now) muted, whether or not it already was;
    False when there is no such user or category."""
    user = session.get(User, user_id)
    if user is None or category not in CATEGORIES:
        return False
    save_preference(session, user, now=now, email_categories={category: False})
    return True


# --- quiet hours -------------------------------------------------------------------------------

def in_quiet_hours(local_time: time, start: str | None, end: str | None) -> bool:
    """Whether her local time of day is inside the quiet window [start, end).

    Windows may cross midnight (22:00-08:00) or not (12:00-14:00); start == end, or either
    missing, means no quiet hours."""
    if not start or not end or start == end:
        return False
    begin, finish, now = _time(start), _time(end), local_time.replace(tzinfo=None)
    if begin < finish:
        return begin <= now < finish
    return now >= begin or now < finish


def next_allowed(local_dt: datetime, start: str | None, end: str | None) -> datetime:
    """The earliest moment from local_dt that is outside quiet hours: the window's end (in the
    same time zone) when inside it, else local_dt itself."""
    if not in_quiet_hours(local_dt.timetz(), start, end):
        return local_dt
    finish = _time(end)
    allowed = local_dt.replace(hour=finish.hour, minute=finish.minute, second=0, microsecond=0)
    if allowed <= local_dt:  # across midnight, before it: the window ends tomorrow
        allowed += timedelta(days=1)
    return allowed
