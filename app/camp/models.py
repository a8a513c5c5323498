"""The first-week camp: a task a day, 打卡 with proof, photos, the cohort's wins feed."""
from datetime import date, datetime
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.database import Bilingual, SyncedFromFile, UTCDateTime, utcnow
from app.extensions import db


class CampTask(Bilingual, SyncedFromFile, db.Model):
    """One day's task, as synced from milestones/camp.yml."""

    __tablename__ = "camp_tasks"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    key: so.Mapped[str] = so.mapped_column(sa.String(80), unique=True)
    day: so.Mapped[int] = so.mapped_column(index=True)               # programme day, 1 = her start
    title_zh: so.Mapped[str] = so.mapped_column(sa.String(200))
    title_en: so.Mapped[str] = so.mapped_column(sa.String(200))
    body_html_zh: so.Mapped[str] = so.mapped_column(sa.Text, default="")   # what to do, rendered
    body_html_en: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    lesson_key: so.Mapped[Optional[str]] = so.mapped_column(sa.String(160))  # course/lesson
    proof: so.Mapped[list] = so.mapped_column(sa.JSON, default=list)      # text, photo, number
    number_label_zh: so.Mapped[str] = so.mapped_column(sa.String(120), default="")
    number_label_en: so.Mapped[str] = so.mapped_column(sa.String(120), default="")


class TaskCheckin(db.Model):
    """Her 打卡 for one day's task: a few lines, a number, photos; made up later or on time."""

    __tablename__ = "task_checkins"
    __table_args__ = (sa.UniqueConstraint("user_id", "task_id", name="uq_task_checkins_user_task"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    task_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("camp_tasks.id", ondelete="CASCADE"))
    day: so.Mapped[date] = so.mapped_column(sa.Date)         # her local date of the task's day
    text: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    number: so.Mapped[Optional[int]] = so.mapped_column()
    is_makeup: so.Mapped[bool] = so.mapped_column(default=False)   # 补卡
    is_shared: so.Mapped[bool] = so.mapped_column(default=False)   # she chose to show it to her cohort
    is_pinned: so.Mapped[bool] = so.mapped_column(default=False)   # a mentor pinned it
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    task: so.Mapped[CampTask] = so.relationship(lazy="joined")
    photos: so.Mapped[list["Photo"]] = so.relationship(back_populates="checkin", order_by="Photo.id")


class Photo(db.Model):
    """An uploaded image, re-encoded without its metadata; the file lives in storage under `storage_key`,
    its smaller sizes (a thumbnail for lists, a medium size) beside it (app.camp.photos.sized_key).
    `thumb_width` is None until they are made (photos uploaded before sizes existed: `academy photos
    sizes` makes them)."""

    __tablename__ = "photos"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    checkin_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("task_checkins.id", ondelete="CASCADE"),
                                                            index=True)
    post_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("feed_posts.id", ondelete="CASCADE"),
                                                         index=True)
    storage_key: so.Mapped[str] = so.mapped_column(sa.String(200), unique=True)
    content_type: so.Mapped[str] = so.mapped_column(sa.String(40), default="image/jpeg")
    width: so.Mapped[int] = so.mapped_column()
    height: so.Mapped[int] = so.mapped_column()
    size: so.Mapped[int] = so.mapped_column()
    thumb_width: so.Mapped[Optional[int]] = so.mapped_column()
    thumb_height: so.Mapped[Optional[int]] = so.mapped_column()
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    checkin: so.Mapped[Optional[TaskCheckin]] = so.relationship(back_populates="photos")


class FeedPost(db.Model):
    """A win shown to her cohort (晒单): a shared 打卡, a milestone, or a post of its own."""

    __tablename__ = "feed_posts"

    WIN, CHECKIN, MILESTONE = "win", "checkin", "milestone"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    cohort_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("cohorts.id", ondelete="CASCADE"), index=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(16), default=WIN)
    text: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    checkin_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("task_checkins.id", ondelete="CASCADE"))
    milestone_key: so.Mapped[Optional[str]] = so.mapped_column(sa.String(80))
    earnings_fen: so.Mapped[Optional[int]] = so.mapped_column(sa.BigInteger)   # only when she opted in
    is_pinned: so.Mapped[bool] = so.mapped_column(default=False)
    is_highlighted: so.Mapped[bool] = so.mapped_column(default=False)
    hidden_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)   # by a mentor (audited)
    hidden_by_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    deleted_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)  # by her
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow, index=True)

    author = so.relationship("User", foreign_keys=[user_id])
    photos: so.Mapped[list[Photo]] = so.relationship(order_by="Photo.id", foreign_keys=[Photo.post_id])


class FeedLike(db.Model):
    __tablename__ = "feed_likes"

    post_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("feed_posts.id", ondelete="CASCADE"), primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)


class FeedComment(db.Model):
    __tablename__ = "feed_comments"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    post_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("feed_posts.id", ondelete="CASCADE"), index=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    body: so.Mapped[str] = so.mapped_column(sa.Text)
    hidden_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    author = so.relationship("User")
