"""The camp seen by her mentors: her 打卡 with their photos, pins, and the proof photos waiting to be
looked at (the comments on them are mentoring's: app/cohorts/mentoring.py).

Access is the caller's: the views check `can_coach` (coached_cohort_or_404 + trainee_in) first, and
every function here takes the trainee, or the mentor whose cohorts bound what is read. Each reads a
fixed number of queries, however many 打卡, photos or comments there are. Nothing is committed.
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, selectinload

from app.accounts.models import User
from app.core.access import Role
from app.camp import feed
from app.camp.models import FeedPost, Photo, TaskCheckin
from app.cohorts.mentoring import comments_on
from app.cohorts.models import MentorNote
from app.core.access import is_staff, only_coached
from app.core.errors import DomainError

PROOF_DAYS = 7          # the review queue shows the proof photos of this many days back
PROOF_SHOWN = 50        # and at most this many 打卡


def task_checkins_of(session: Session, trainee: User) -> list[TaskCheckin]:
    """Her 打卡, newest day first, with their tasks and photos: two queries (one 打卡 a task, so bounded)."""
    return list(session.scalars(
        sa.select(TaskCheckin).where(TaskCheckin.user_id == trainee.id)
        .options(selectinload(TaskCheckin.photos))
        .order_by(TaskCheckin.day.desc(), TaskCheckin.id.desc())))


def pin(session: Session, mentor: User, trainee: User, checkin_id: int, on: bool | None = None) -> TaskCheckin:
    """Pin her 打卡 (on=None: the other way round from now). When she shared it, its post on the
    cohort's feed is pinned too (feed.pin, which audits that). DomainError (404) unless it is hers."""
    checkin = session.get(TaskCheckin, checkin_id)
    if checkin is None or checkin.user_id != trainee.id:
        raise DomainError(_l("No such check-in."), status=404)
    checkin.is_pinned = (not checkin.is_pinned) if on is None else bool(on)
    if checkin.is_shared:
        post = session.scalar(sa.select(FeedPost).where(FeedPost.checkin_id == checkin.id,
                                                        FeedPost.deleted_at.is_(None)))
        if post is not None and post.is_pinned != checkin.is_pinned:
            try:
                feed.pin(session, mentor, post, checkin.is_pinned)
            except DomainError:
                pass  # a post in a cohort she has left, which this mentor does not coach: the 打卡's pin stands
    session.flush()
    return checkin


@dataclass
class Proof:
    """A recent 打卡 with photos, for the review queue."""
    checkin: TaskCheckin
    user: User
    comments: list[MentorNote] = field(default_factory=list)


def proof_photos(session: Session, mentor: User, now: datetime) -> list[Proof]:
    """The latest 打卡 with photos of the last PROOF_DAYS days (newest first, at most PROOF_SHOWN) of
    the trainees of the mentor's cohorts (an admin's: every cohort's): three queries (the 打卡 with
    their trainees and tasks, their photos, their comments)."""
    if not is_staff(mentor):
        return []
    query = (sa.select(TaskCheckin, User).join(User, User.id == TaskCheckin.user_id)
             .where(User.role == Role.TRAINEE, User.cohort_id.is_not(None),
                    TaskCheckin.created_at >= now - timedelta(days=PROOF_DAYS),
                    sa.exists().where(Photo.checkin_id == TaskCheckin.id))
             .options(selectinload(TaskCheckin.photos))
             .order_by(TaskCheckin.created_at.desc(), TaskCheckin.id.desc()).limit(PROOF_SHOWN))
    rows = session.execute(only_coached(query, mentor, User.cohort_id)).all()
    comments = comments_on(session, [checkin.id for checkin, _ in rows])
    return [Proof(checkin, user, comments.get(checkin.id, [])) for checkin, user in rows]
