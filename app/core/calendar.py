"""Her calendar: the academy's default time zone, her local today, her programme's start and day.

Day 1 of her programme is the later of her cohort's start date and the day she registered, both
counted in her own time zone. Every domain (lessons, camp, check-ins, numbers, reminders) asks here.
"""
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

FALLBACK_TIMEZONE = "Asia/Shanghai"


def default_timezone() -> str:
    """`ACADEMY_TIMEZONE`: the zone of new users and cohorts unless they choose another."""
    if has_app_context():
        return current_app.config.get("ACADEMY_TIMEZONE") or FALLBACK_TIMEZONE
    return FALLBACK_TIMEZONE


@lru_cache(maxsize=64)
def zone(name: str | None) -> ZoneInfo:
    return ZoneInfo(name or default_timezone())


def today_in(timezone: str | None, now: datetime) -> date:
    """Today's date in a time zone (a cohort's, or a user's read as a column)."""
    return now.astimezone(zone(timezone)).date()


def local_today(user, now: datetime) -> date:
    """Today's date where she lives."""
    return today_in(user.timezone, now)


def start_date(registered_at: datetime, timezone: str | None, cohort_start: date | None) -> date:
    """Her start from plain values, for set-based jobs that read columns rather than users."""
    if cohort_start is not None and registered_at.date() < cohort_start - timedelta(days=1):
        return cohort_start  # registered well before: no zone conversion needed (hot in reminder runs)
    registered = registered_at.astimezone(zone(timezone)).date()
    return registered if cohort_start is None else max(cohort_start, registered)


def programme_start(user) -> date:
    """Her start: her cohort's start date, or the day she registered if that is later."""
    return start_date(user.created_at, user.timezone, user.cohort.start_date if user.cohort else None)


def day_number(start: date, today: date) -> int:
    """Day 1 is the start date itself."""
    return (today - start).days + 1


def programme_day(user, now: datetime) -> int:
    """Her programme day now, counted in her own time zone."""
    return day_number(programme_start(user), local_today(user, now))
