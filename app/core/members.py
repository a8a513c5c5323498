"""A cohort's members: its active trainees. One filter, so that every list and count agrees."""
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.core.access import Role


def active_trainees() -> tuple:
    """Trainees whose account is active, of any cohort (add `User.cohort_id == …` for one)."""
    return (User.role == Role.TRAINEE, User.is_active.is_(True))


def active_trainees_of(cohort_id) -> tuple:
    """The where-clauses for a cohort's active trainees (`cohort_id` a value or a column)."""
    return (User.cohort_id == cohort_id, *active_trainees())


def active_trainee_ids(cohort_id) -> sa.Select:
    return sa.select(User.id).where(*active_trainees_of(cohort_id))


def trainee_count(session: Session, cohort_id: int) -> int:
    return session.scalar(sa.select(sa.func.count(User.id)).where(*active_trainees_of(cohort_id)))
