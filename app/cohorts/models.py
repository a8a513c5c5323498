from datetime import date, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.database import UTCDateTime, utcnow
from app.extensions import db

if TYPE_CHECKING:
    from app.accounts.models import User

cohort_mentors = sa.Table(
    "cohort_mentors",
    db.metadata,
    sa.Column("cohort_id", sa.ForeignKey("cohorts.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)


class Cohort(db.Model):
    """A group of trainees who start the programme together, coached by their mentors."""

    __tablename__ = "cohorts"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(120))
    start_date: so.Mapped[date] = so.mapped_column(sa.Date)
    timezone: so.Mapped[str] = so.mapped_column(sa.String(64), default="Asia/Shanghai")
    invite_code: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    mentors: so.Mapped[list["User"]] = so.relationship(secondary=cohort_mentors, lazy="selectin")

    def __repr__(self) -> str:
        return f"<Cohort {self.invite_code} {self.name!r}>"
