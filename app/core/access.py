"""Who may do what: the three roles, and which cohorts a user may coach.

The one place that compares roles. Admins coach every cohort, mentors the cohorts they are named on,
trainees none; anything a user may not coach answers exactly like something missing (404).
"""
from enum import StrEnum
from functools import wraps

import sqlalchemy as sa
from flask import abort, current_app
from flask_login import current_user, login_required
from sqlalchemy.orm import Session

from app.cohorts.models import Cohort, cohort_mentors


class Role(StrEnum):
    TRAINEE = "trainee"
    MENTOR = "mentor"
    ADMIN = "admin"


STAFF = (Role.MENTOR, Role.ADMIN)


def is_trainee(user) -> bool:
    return user.role == Role.TRAINEE


def is_staff(user) -> bool:
    """Mentors and admins: the people who coach."""
    return user.role in STAFF


def is_admin(user) -> bool:
    return user.role == Role.ADMIN


def coached_cohort_ids(session: Session, user) -> list[int] | None:
    """The ids of the cohorts she may coach; None means every cohort (an admin)."""
    if is_admin(user):
        return None
    if not is_staff(user):
        return []
    return list(session.scalars(sa.select(cohort_mentors.c.cohort_id).where(cohort_mentors.c.user_id == user.id)))


def only_coached(query: sa.Select, user, cohort_id_column) -> sa.Select:
    """`query` narrowed to rows whose `cohort_id_column` is a cohort she coaches (one subquery, no round trip)."""
    if is_admin(user):
        return query
    if not is_staff(user):
        return query.where(sa.false())
    return query.where(cohort_id_column.in_(
        sa.select(cohort_mentors.c.cohort_id).where(cohort_mentors.c.user_id == user.id)))


def coached_cohorts(session: Session, user) -> list[Cohort]:
    """The cohorts she looks after, not archived, newest first."""
    query = sa.select(Cohort).where(Cohort.is_archived.is_(False)).order_by(Cohort.start_date.desc(), Cohort.id)
    return list(session.scalars(only_coached(query, user, Cohort.id)))


def can_coach(user, cohort: Cohort) -> bool:
    """The one rule for every mentor page, export and API: admins all, mentors their cohorts."""
    if is_admin(user):
        return True
    return is_staff(user) and any(m.id == user.id for m in cohort.mentors)


def can_view_cohort(user, cohort: Cohort) -> bool:
    """Her own cohort for a trainee; the coached ones for mentors and admins."""
    return can_coach(user, cohort) or (is_trainee(user) and user.cohort_id == cohort.id)


def require_admin():
    """For a blueprint's before_request: anonymous to the login page, anyone but an admin a 404
    (the admin pages do not exist for anyone else)."""
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if not is_admin(current_user):
        abort(404)
    return None


def admin_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        return require_admin() or view(*args, **kwargs)
    return wrapper


def staff_required(view):
    """Logged in (else the login page), and a mentor or admin (else 404)."""
    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not is_staff(current_user):
            abort(404)
        return view(*args, **kwargs)
    return wrapper
