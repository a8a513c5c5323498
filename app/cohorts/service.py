import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.accounts.models import Role, User
from app.cohorts.models import Cohort


def can_view_cohort(user: User, cohort: Cohort) -> bool:
    """Admins see every cohort, mentors the ones they coach, trainees their own."""
    if user.role == Role.ADMIN:
        return True
    if user.role == Role.MENTOR:
        return any(mentor.id == user.id for mentor in cohort.mentors)
    return user.cohort_id == cohort.id


def trainee_count(session: Session, cohort: Cohort) -> int:
    return session.scalar(sa.select(sa.func.count(User.id)).where(
        User.cohort_id == cohort.id, User.role == Role.TRAINEE, User.is_active.is_(True)))
