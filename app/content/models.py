from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.database import UTCDateTime, utcnow
from app.extensions import db


class ContentVersion(db.Model):
    """Which version of the content the database holds (one row): a new token whenever a sync changes
    something, so that every web worker, on any machine, knows when what it built from the content is
    out of date (app/content/snapshot.py)."""

    __tablename__ = "content_versions"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    version: so.Mapped[str] = so.mapped_column(sa.String(32))
    changed_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
