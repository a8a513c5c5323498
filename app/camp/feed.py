"""The cohort's wins feed (晒单): shared 打卡, milestones reached and wins of their own; likes,
short comments; mentors pin, highlight and hide (audited); she deletes her own.

Who sees what:
  a post   her cohort's members while it is neither hidden nor deleted; mentors/admins who
           can_coach() the post's cohort (hidden ones too, to moderate); never anyone else.
  a photo  its owner; those who can_coach() her cohort; members of the cohort of a visible post
           that shows it (a win's own photos, or the photos of a shared check-in).
Earnings show on a post only while its author shares them (User.shares_earnings).
Functions flush, never commit: the caller commits, with the audit entry in the same transaction.
"""
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, joinedload, object_session

from app.accounts.models import User
from app.camp.models import FeedComment, FeedLike, FeedPost, Photo, TaskCheckin
from app.camp import photos as uploads
from app.camp.photos import MAX_PHOTOS
from app.checkins.models import Checkin, Milestone
from app.core import audit
from app.core.access import can_coach, is_staff
from app.cohorts.models import Cohort
from app.core.errors import DomainError

MAX_POST = 2000
MAX_COMMENT = 300
PER_PAGE = 20


def _not_found() -> DomainError:
    return DomainError(_l("No such post."), status=404)


def _signed_in(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False) and hasattr(user, "role")


# --- creating posts --------------------------------------------------------------------------

def share_checkin(session: Session, checkin: TaskCheckin, now: datetime) -> FeedPost | None:
    """Show her 打卡 to her cohort (called when she ticks "share"). Sharing again updates the same
    post; a post a mentor hid stays hidden; after she deleted one, a new one is made.
    None when she is in no cohort (there is nobody to show it to)."""
    user = session.get(User, checkin.user_id)
    if user is None or user.cohort_id is None:
        return None
    checkin.is_shared = True
    post = session.scalar(sa.select(FeedPost).where(FeedPost.checkin_id == checkin.id,
                                                    FeedPost.deleted_at.is_(None)))
    if post is None:
        post = FeedPost(cohort_id=user.cohort_id, user_id=user.id, kind=FeedPost.CHECKIN, checkin_id=checkin.id,
                        created_at=now)
        session.add(post)
    # The check-in's number is not copied: it may be money, which she has not agreed to show.
    post.text = checkin.text or ""
    session.flush()
    return post


def share_milestone(session: Session, user: User, milestone_key: str, now: datetime) -> FeedPost | None:
    """A milestone she reached, once (a second call returns the same post). Her earnings so far
    go with an earnings milestone only if she shares her earnings."""
    if user.cohort_id is None:
        return None
    post = session.scalar(sa.select(FeedPost).where(
        FeedPost.user_id == user.id, FeedPost.kind == FeedPost.MILESTONE, FeedPost.milestone_key == milestone_key,
        FeedPost.deleted_at.is_(None)))
    if post is not None:
        return post
    metric = session.scalar(sa.select(Milestone.metric).where(Milestone.key == milestone_key))
    earnings = None
    if user.shares_earnings and metric == "earnings":
        earnings = session.scalar(sa.select(sa.func.coalesce(sa.func.sum(Checkin.earnings_fen), 0))
                                  .where(Checkin.user_id == user.id))
    post = FeedPost(cohort_id=user.cohort_id, user_id=user.id, kind=FeedPost.MILESTONE,
                    milestone_key=milestone_key, earnings_fen=earnings, created_at=now)
    session.add(post)
    session.flush()
    return post


def publish_win(session: Session, user: User, text: str, files, now: datetime) -> FeedPost:
    """A win as the web form and the API send it, with the uploaded `files`; on a refusal (DomainError)
    no photo file stays behind and the caller rolls back."""
    saved = []
    try:
        saved = uploads.save_uploads(session, user, files, now)
        return post_win(session, user, text, saved, now)
    except BaseException:
        uploads.discard(saved)
        raise


def post_win(session: Session, user: User, text: str, photos: list[Photo], now: datetime) -> FeedPost:
    """A win of her own: a few lines and up to 3 photos (already stored by photos.save_uploads)."""
    text = (text or "").strip()
    if user.cohort_id is None:
        raise DomainError(_l("Join a cohort to share your wins with it."))
    if not text and not photos:
        raise DomainError(_l("Write a few words or add a photo first."))
    if len(text) > MAX_POST:
        raise DomainError(_l("At most %(n)d characters.", n=MAX_POST))
    if len(photos) > MAX_PHOTOS:
        raise DomainError(_l("At most %(n)d photos.", n=MAX_PHOTOS))
    if any(p.user_id != user.id or p.post_id is not None or p.checkin_id is not None for p in photos):
        raise DomainError(_l("No such photo."), status=404)  # only her own, unused photos
    post = FeedPost(cohort_id=user.cohort_id, user_id=user.id, kind=FeedPost.WIN, text=text, created_at=now)
    session.add(post)
    session.flush()
    for photo in photos:
        photo.post_id = post.id
    session.flush()
    return post


# --- who may see ---------------------------------------------------------------------------

def _coaches(session: Session, user: User, cohort_id: int | None) -> bool:
    if cohort_id is None or not is_staff(user):
        return False
    cohort = session.get(Cohort, cohort_id)
    return cohort is not None and can_coach(user, cohort)


def _visible(post: FeedPost) -> bool:
    return post.hidden_at is None and post.deleted_at is None


def can_see_post(user, post: FeedPost | None) -> bool:
    """Members of its cohort while it is visible; its cohort's mentors and admins even if hidden."""
    if not _signed_in(user) or post is None or post.deleted_at is not None:
        return False
    if is_staff(user):
        session = object_session(post)
        return session is not None and _coaches(session, user, post.cohort_id)
    return _visible(post) and user.cohort_id == post.cohort_id


def can_see_photo(session: Session, user, photo: Photo | None) -> bool:
    if not _signed_in(user) or photo is None:
        return False
    if photo.user_id == user.id:
        return True
    owner = session.get(User, photo.user_id)
    if owner is not None and _coaches(session, user, owner.cohort_id):
        return True
    # Otherwise only through a visible post that shows it.
    if photo.post_id is not None:
        posts = [session.get(FeedPost, photo.post_id)]
    elif photo.checkin_id is not None:
        checkin = session.get(TaskCheckin, photo.checkin_id)
        posts = [] if checkin is None or not checkin.is_shared else list(session.scalars(
            sa.select(FeedPost).where(FeedPost.checkin_id == checkin.id)))
    else:
        posts = []  # uploaded but not attached to anything yet: hers alone
    return any(post is not None and can_see_post(user, post) for post in posts)


# --- the feed ------------------------------------------------------------------------------

@dataclass
class PostView:
    """One post as a viewer sees it."""
    post: FeedPost
    photos: list[Photo] = field(default_factory=list)
    comments: list[FeedComment] = field(default_factory=list)
    like_count: int = 0
    liked: bool = False
    checkin: TaskCheckin | None = None
    milestone: Milestone | None = None
    earnings_fen: int | None = None     # None unless the author shares her earnings
    is_own: bool = False


@dataclass
class FeedPage:
    items: list[PostView]
    page: int
    has_more: bool


def feed_for(session: Session, viewer: User, cohort: Cohort, page: int = 1) -> FeedPage:
    """The cohort's visible posts, pinned first then newest, PER_PAGE a page. A fixed number of
    queries however many posts, likes, comments and photos there are. The caller checks that the
    viewer may see this cohort's feed (a member, or can_coach)."""
    page = max(1, page)
    posts = list(session.scalars(
        sa.select(FeedPost).options(joinedload(FeedPost.author))
        .where(FeedPost.cohort_id == cohort.id, FeedPost.hidden_at.is_(None), FeedPost.deleted_at.is_(None))
        .order_by(FeedPost.is_pinned.desc(), FeedPost.created_at.desc(), FeedPost.id.desc())
        .offset((page - 1) * PER_PAGE).limit(PER_PAGE + 1)))  # one more: is there a next page?
    has_more = len(posts) > PER_PAGE
    posts = posts[:PER_PAGE]
    if not posts:
        return FeedPage([], page, False)
    ids = [p.id for p in posts]
    checkin_ids = [p.checkin_id for p in posts if p.checkin_id is not None]
    milestone_keys = {p.milestone_key for p in posts if p.milestone_key}

    likes = dict(session.execute(sa.select(FeedLike.post_id, sa.func.count()).where(FeedLike.post_id.in_(ids))
                                 .group_by(FeedLike.post_id)).all())
    liked = set(session.scalars(sa.select(FeedLike.post_id).where(FeedLike.post_id.in_(ids),
                                                                   FeedLike.user_id == viewer.id)))
    comments: dict[int, list[FeedComment]] = {}
    for comment in session.scalars(sa.select(FeedComment).options(joinedload(FeedComment.author))
                                   .where(FeedComment.post_id.in_(ids), FeedComment.hidden_at.is_(None))
                                   .order_by(FeedComment.created_at, FeedComment.id)):
        comments.setdefault(comment.post_id, []).append(comment)
    photo_filter = Photo.post_id.in_(ids)
    if checkin_ids:
        photo_filter = sa.or_(photo_filter, Photo.checkin_id.in_(checkin_ids))
    by_post: dict[int, list[Photo]] = {}
    by_checkin: dict[int, list[Photo]] = {}
    for photo in session.scalars(sa.select(Photo).where(photo_filter).order_by(Photo.id)):
        if photo.post_id is not None:
            by_post.setdefault(photo.post_id, []).append(photo)
        else:
            by_checkin.setdefault(photo.checkin_id, []).append(photo)
    checkins = {c.id: c for c in session.scalars(sa.select(TaskCheckin).where(TaskCheckin.id.in_(checkin_ids)))
                } if checkin_ids else {}
    milestones = {m.key: m for m in session.scalars(sa.select(Milestone).where(Milestone.key.in_(milestone_keys)))
                  } if milestone_keys else {}

    items = []
    for post in posts:
        items.append(PostView(
            post=post, photos=by_post.get(post.id, []) + by_checkin.get(post.checkin_id, []),
            comments=comments.get(post.id, []), like_count=likes.get(post.id, 0), liked=post.id in liked,
            checkin=checkins.get(post.checkin_id), milestone=milestones.get(post.milestone_key),
            earnings_fen=post.earnings_fen if post.author.shares_earnings else None,
            is_own=post.user_id == viewer.id))
    return FeedPage(items, page, has_more)


# --- likes and comments --------------------------------------------------------------------

def like(session: Session, user: User, post: FeedPost, now: datetime) -> None:
    if not can_see_post(user, post):
        raise _not_found()
    # Two taps at once must not fail on the primary key: insert, or do nothing.
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(FeedLike).values(post_id=post.id, user_id=user.id, created_at=now)
                    .on_conflict_do_nothing(index_elements=["post_id", "user_id"]))


def unlike(session: Session, user: User, post: FeedPost) -> None:
    if not can_see_post(user, post):
        raise _not_found()
    session.execute(sa.delete(FeedLike).where(FeedLike.post_id == post.id, FeedLike.user_id == user.id))


def comment(session: Session, user: User, post: FeedPost, body: str, now: datetime) -> FeedComment:
    if not can_see_post(user, post):
        raise _not_found()
    body = (body or "").strip()
    if not body:
        raise DomainError(_l("Write something first."))
    if len(body) > MAX_COMMENT:
        raise DomainError(_l("At most %(n)d characters.", n=MAX_COMMENT))
    entry = FeedComment(post_id=post.id, user_id=user.id, body=body, created_at=now)
    session.add(entry)
    session.flush()
    return entry


# --- her own posts, and moderation ---------------------------------------------------------

def delete_own(session: Session, user: User, post: FeedPost, now: datetime) -> None:
    """She takes her post back. A shared check-in goes back to private too, so its photos stop
    being visible to the cohort; a win's own photos stay hers alone."""
    if not _signed_in(user) or post.user_id != user.id or post.deleted_at is not None:
        raise _not_found()
    post.deleted_at = now
    if post.checkin_id is not None:
        checkin = session.get(TaskCheckin, post.checkin_id)
        if checkin is not None:
            checkin.is_shared = False
    session.flush()


def _moderated(session: Session, mentor: User, post: FeedPost) -> None:
    if not _signed_in(mentor) or post.deleted_at is not None or not _coaches(session, mentor, post.cohort_id):
        raise _not_found()


def pin(session: Session, mentor: User, post: FeedPost, on: bool) -> None:
    _moderated(session, mentor, post)
    post.is_pinned = bool(on)
    audit.record(session, mentor, "feed.pin" if on else "feed.unpin", post, cohort=post.cohort_id)
    session.flush()


def highlight(session: Session, mentor: User, post: FeedPost, on: bool) -> None:
    _moderated(session, mentor, post)
    post.is_highlighted = bool(on)
    audit.record(session, mentor, "feed.highlight" if on else "feed.unhighlight", post, cohort=post.cohort_id)
    session.flush()


def hide(session: Session, mentor: User, post: FeedPost, now: datetime, *, reason: str = "") -> None:
    """Out of the feed for everyone; the audit log keeps who, when, whose post and why."""
    _moderated(session, mentor, post)
    if post.hidden_at is None:
        post.hidden_at, post.hidden_by_id = now, mentor.id
        audit.record(session, mentor, "feed.hide", post, cohort=post.cohort_id, author=post.user_id,
                     kind=post.kind, reason=(reason or "").strip()[:300])
    session.flush()
