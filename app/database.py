"""The SQLAlchemy base: naming convention, UTC timestamps, compact JSON, SQLite pragmas."""
import json
import sqlite3
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
import sqlalchemy.orm as so
from sqlalchemy.orm import DeclarativeBase, Session

# Named constraints let Alembic's SQLite batch mode drop and recreate them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class Bilingual:
    """For rows with `<field>_zh` and `<field>_en` columns: `row.text("title", lang)`."""

    def text(self, field: str, lang: str):
        return getattr(self, f"{field}_{'en' if lang == 'en' else 'zh'}")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def read(session: Session, statement, params: dict | None = None) -> sa.CursorResult:
    """A query of columns (never of ORM objects) run on the session's connection, in its transaction:
    the same rows as session.execute() without the ORM's handling of them, which costs as much
    again as the query itself (60 µs of 110 for a small one). For the small queries every page makes
    (a badge's count, her progress). Changes not yet flushed are flushed first, as the session would."""
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()
    return session.connection().execute(statement, params)


class UTCDateTime(sa.types.TypeDecorator):
    """Stored as naive UTC on every backend, always read back as an aware UTC datetime."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is expected")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Synced:
    """The columns of a row that `content sync` keeps (app/content/sync.py): the digest that tells whether
    it changed, and archived, never deleted, when it leaves the files (progress and attempts point at it)."""

    content_hash: so.Mapped[str] = so.mapped_column(sa.String(64), default="")
    is_archived: so.Mapped[bool] = so.mapped_column(default=False)
    updated_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)


class SyncedFromFile(Synced):
    """A synced row made from one file, which `content check` messages point at."""

    source_path: so.Mapped[str] = so.mapped_column(sa.String(300), default="")


def compact_json(value) -> str:
    """How JSON columns are written (the engine's json_serializer): no spaces, Chinese as UTF-8 rather than
    \\uXXXX escapes, so half the bytes for rows written often (a quiz attempt's answers). A value holding a
    lone surrogate (which no UTF-8 encoder takes) is escaped, as json.dumps does by default."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(value, separators=(",", ":"))
    return text


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    # WAL lets readers work while one writer writes; the timeout waits out short locks
    # instead of failing with "database is locked".
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL; SQLite overflows past 64 bits


def parse_id(raw: str) -> int | None:
    """A row id from a URL or a form, or None for anything that cannot be one (-1, 1e3, 10**20, "²")."""
    return int(raw) if raw.isascii() and raw.isdecimal() and 0 < int(raw) <= MAX_ID else None
