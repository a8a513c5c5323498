"""The mentor's table as a read model: one stored row per trainee (`TraineeSummary`), so that the dashboard,
the needs-attention list, the CSV export and the API are each one paged query, sorted and filtered in SQL.

The rules stay in `dashboard.py`; this module stores their results and keeps them current:

- every write that changes what a row shows bumps her `SummaryVersion` in the writer's own transaction
  (the session events below watch the models: check-ins, lesson progress, quiz attempts, camp 打卡,
  "contacted", and the user's cohort, activity and time zone); a change of content, programme or a
  cohort's start date bumps everyone's (user_id 0);
- the clock alone changes a row too (her midnight, 18:00 for today's task, days without activity, the
  end of "contacted"): each row keeps `stale_at`, the first such moment (`dashboard.valid_until`);
- before reading a cohort, `refresh()` works out again, in one pass of set-based queries, exactly the
  rows that are missing, older than their version or epoch, or past `stale_at`.

A row is written with the version read *before* the data it was worked out from, so a write that commits
meanwhile leaves it one version behind: it is worked out again on the next read, never left stale.
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.camp.models import CampTask, TaskCheckin
from app.checkins.models import Checkin, Milestone, Programme
from app.cohorts import dashboard
from app.cohorts.models import Cohort, MentorNote, SummaryVersion, TraineeSummary
from app.content import snapshot
from app.core.members import active_trainees_of
from app.database import Bilingual, UTCDateTime, read
from app.learning.models import Course, Lesson, LessonProgress
from app.quizzes.models import Quiz, QuizAttempt

EVERYONE = 0  # the SummaryVersion row whose bump makes every row out of date
STATUSES = ("achieved", "on_track", "behind", "missed")
ID_LIST_MAX = 500  # refresh this many rows or fewer by a list of ids, more by a subquery
MARK_CHUNK = 1000  # trainees marked per statement (SQLite allows 32,766 parameters in one)


# --- what changes a row ------------------------------------------------------------------------------

# Model -> (the attribute naming whose row it changes, the attributes that matter; None: all of them).
PER_TRAINEE = {
    Checkin: ("user_id", None),
    LessonProgress: ("user_id", None),
    QuizAttempt: ("user_id", ("state", "percent", "is_passed", "started_at", "submitted_at", "quiz_id", "user_id")),
    TaskCheckin: ("user_id", ("task_id", "day", "user_id")),
    MentorNote: ("trainee_id", ("kind", "created_at", "trainee_id")),
    User: ("id", ("cohort_id", "role", "is_active", "timezone", "created_at", "last_login_at")),
}
# Models whose change touches every row: the content (lessons, quizzes, milestones, camp plan), the
# programme's settings, a cohort's start date.
EVERY_TRAINEE = {Course: None, Lesson: None, Quiz: None, Milestone: None, CampTask: None, Programme: None,
                 Cohort: ("start_date",)}
_TABLES = {model.__table__.name: (model, attr) for model, (attr, _) in PER_TRAINEE.items()}
_TABLES.update((model.__table__.name, (model, None)) for model in EVERY_TRAINEE)


def _changed(obj, attributes) -> bool:
    if attributes is None:
        return True
    state = sa.inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in attributes)


def _matters(obj) -> bool:
    return not isinstance(obj, MentorNote) or obj.kind == MentorNote.CONTACTED


def mark_changed(connection, user_ids) -> None:
    """Bump these trainees' versions (EVERYONE for all): their rows are worked out again before the next read."""
    ids = sorted(set(user_ids))  # one order for every writer: no deadlock between two of them
    if not ids:
        return
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    table = SummaryVersion.__table__
    for start in range(0, len(ids), MARK_CHUNK):
        connection.execute(insert(table).values([{"user_id": i, "version": 1} for i in ids[start:start + MARK_CHUNK]])
                           .on_conflict_do_update(index_elements=[table.c.user_id],
                                                  set_={"version": table.c.version + 1}))


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, flush_context) -> None:
    """Mark the trainees whose rows this flush changed, in the same transaction as the change."""
    ids = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        model = type(obj)
        if model in PER_TRAINEE and _matters(obj):
            attr, attributes = PER_TRAINEE[model]
            if model is User and obj in session.new:
                continue  # a new trainee has no row yet: the first read works it out
            if obj in session.dirty and not _changed(obj, attributes):
                continue
            ids.add(getattr(obj, attr))
        elif model in EVERY_TRAINEE:
            if obj in session.dirty and not _changed(obj, EVERY_TRAINEE[model]):
                continue
            if model is Cohort and obj in session.new:
                continue
            ids.add(EVERYONE)
    ids.discard(None)
    if ids:
        mark_changed(session.connection(), ids)


@event.listens_for(Session, "do_orm_execute")
def _bulk_write(state) -> None:
    """Bulk statements skip the flush: an INSERT marks the trainees in its rows, an UPDATE or DELETE everyone."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    watched = _TABLES.get(getattr(table, "name", None))
    if watched is None:
        return
    model, attr = watched
    if state.is_insert and model in (User, Cohort):
        return  # new trainees have no row yet; a new cohort has no trainees
    ids = {EVERYONE}
    if state.is_insert and attr is not None:
        rows = state.parameters if isinstance(state.parameters, list) else [state.parameters or {}]
        key = model.__table__.c[attr].key if attr in model.__table__.c else attr
        if all(key in row for row in rows) and rows:
            ids = {row[key] for row in rows if model is not MentorNote or row.get("kind") == MentorNote.CONTACTED}
    mark_changed(state.session.connection(), ids)


# --- keeping the rows current ------------------------------------------------------------------------

def _out_of_date(cohort_id, now):
    """The cohort's active trainees whose row must be worked out again, with the versions to stamp it with."""
    s, v = TraineeSummary, SummaryVersion
    epoch = sa.func.coalesce(sa.select(v.version).where(v.user_id == EVERYONE).scalar_subquery(), 0)
    version = sa.func.coalesce(v.version, 0)
    return (sa.select(User.id.label("user_id"), version.label("version"), epoch.label("epoch"))
            .select_from(User).outerjoin(s, s.user_id == User.id).outerjoin(v, v.user_id == User.id)
            .where(*active_trainees_of(cohort_id),
                   # computed_at after now: the clock was set back (tests travel in time), so trust nothing.
                   sa.or_(s.user_id.is_(None), s.stale_at <= now, s.computed_at > now, s.version != version,
                          s.epoch != epoch)))


# Built once, run with each request's values: a statement object keeps its cache key, which takes about as
# long to work out as SQLite takes to run this query over a thousand trainees.
_OUT_OF_DATE = _out_of_date(sa.bindparam("cohort_id"), sa.bindparam("now", type_=UTCDateTime()))


def refresh(session: Session, cohort: Cohort, now: datetime) -> int:
    """Work out again the cohort's rows that are missing or out of date; returns how many. Flushes; the
    caller commits (a page does, so that the next one finds them current)."""
    stamps = read(session, _OUT_OF_DATE, {"cohort_id": cohort.id, "now": now}).all()
    if not stamps:
        return 0
    # The rules read the lessons and quizzes from the content snapshot, which a process checks only every
    # few seconds: check it now, after the epoch was read, so no row is stamped with an epoch newer than
    # the content it was worked out from (another process's `content sync` may have just committed).
    snapshot.current(session, fresh=True)
    ids = [stamp.user_id for stamp in stamps]
    members = (sa.select(User.id).where(User.id.in_(ids)) if len(ids) <= ID_LIST_MAX
               else sa.select(_out_of_date(cohort.id, now).subquery().c.user_id))
    by_id = {stamp.user_id: stamp for stamp in stamps}
    values = [summary_values(row, now, by_id[row.user.id].version, by_id[row.user.id].epoch)
              for row in dashboard.trainee_rows(session, members, now) if row.user.id in by_id]
    if values:
        insert = postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert
        statement = insert(TraineeSummary.__table__)
        session.execute(statement.on_conflict_do_update(
            index_elements=[TraineeSummary.__table__.c.user_id],
            set_={name: statement.excluded[name] for name in values[0] if name != "user_id"}), values)
    return len(values)


def summary_values(row: dashboard.TraineeRow, now: datetime, version: int = 0, epoch: int = 0) -> dict:
    """What is stored of a worked-out row (details of reasons by key or id, to be looked up when shown)."""
    return {
        "user_id": row.user.id, "version": version, "epoch": epoch, "computed_at": now,
        "stale_at": dashboard.valid_until(row, now), "programme_day": row.programme_day,
        "total_earnings_fen": row.total_earnings_fen, "status": row.status,
        "status_rank": dashboard.STATUS_ORDER[row.status],
        "milestones": [{"key": m.milestone.key, "status": m.status, "current": m.current} for m in row.milestones],
        "lessons_done": row.lessons_done, "lessons_total": row.lessons_total,
        "next_lesson_id": row.next_lesson.id if row.next_lesson else None,
        "quizzes_passed": row.quizzes_passed, "quizzes_total": row.quizzes_total,
        "essays_waiting": row.essays_waiting, "last_checkin": row.last_checkin,
        "last_active_at": row.last_active_at, "contacted_at": row.contacted_at, "task_done": row.task_done,
        "weakest": row.weakest, "attention": row.attention,
        "reasons": [{"code": r.code, "weight": r.weight, "detail": _plain(r.detail)} for r in row.reasons],
    }


def _plain(detail: dict) -> dict:
    out = {}
    for name, value in detail.items():
        if name == "milestone":
            value = value.milestone.key
        elif name == "quiz":
            value = value.id
        out[name] = value
    return out


# --- reading ------------------------------------------------------------------------------------------

@dataclass
class DashboardQuery:
    status: str = ""
    inactive: int | None = None
    stuck: str = ""          # lesson id she is on
    q: str = ""
    sort: str = "attention"
    page: int = 1
    per_page: int = 50


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _by_name(session: Session):
    """Names in code-point order on every backend (PostgreSQL's collation may be a language's)."""
    return User.name.collate("C") if _dialect(session) == "postgresql" else User.name


def _sorts(session: Session) -> dict:
    s, name = TraineeSummary, _by_name(session)
    return {
        "attention": (s.attention.desc(), name),
        "name": (name,),
        "status": (s.status_rank, name),
        "earnings": (s.total_earnings_fen.desc(), name),
        "lessons": (s.lessons_done.desc(), name),
        # The longest quiet first: never active, then the oldest activity.
        "last_active": (s.last_active_at.is_not(None), s.last_active_at, name),
    }


SORTS = ("attention", "name", "status", "earnings", "lessons", "last_active")


def _conditions(query: DashboardQuery, now: datetime) -> list:
    s, out = TraineeSummary, []
    if query.status:
        out.append(s.status == query.status)
    if query.inactive:
        out.append(sa.or_(s.last_active_at.is_(None), s.last_active_at <= now - timedelta(days=query.inactive)))
    if query.stuck:
        stuck = query.stuck
        out.append(s.next_lesson_id == int(stuck) if stuck.isascii() and stuck.isdecimal() and len(stuck) < 10
                   else sa.false())
    if query.q:
        needle = query.q.strip().lower()
        out.append(sa.or_(User.name.icontains(needle, autoescape=True),
                          User.mobile.contains(needle, autoescape=True),
                          User.email.contains(needle, autoescape=True)))
    return out


# What the pages show of a stored row (not its bookkeeping: version, epoch, times, the sort's rank).
SHOWN = [column for column in TraineeSummary.__table__.c
         if column.name not in ("version", "epoch", "computed_at", "stale_at", "status_rank")]


# The mentor's pages show her status, not each milestone: not reading (and decoding) those saves a tenth
# of the dashboard. The API's page and the CSV export have them.
ON_THE_PAGE = [column for column in SHOWN if column.name != "milestones"]


def _table(cohort_id, columns=SHOWN):
    """Plain rows, not ORM objects (loading those cost more than the query itself): her stored summary's
    columns and what a page shows of her account."""
    return (sa.select(*columns, User.id, User.name, User.mobile, User.email)
            .join(User, User.id == TraineeSummary.user_id).where(*active_trainees_of(cohort_id)))


@dataclass
class Line:
    """One row of the table as shown: her account (`id`, `name`, `mobile`, `email`), her stored summary, its
    reasons with their details."""
    user: sa.Row
    summary: sa.Row
    reasons: list = field(default_factory=list)       # dashboard.Reason, details looked up
    next_lesson: object | None = None

    def __getattr__(self, name):   # line.programme_day, line.status ...: the summary's
        return getattr(self.summary, name)


@dataclass
class Page:
    lines: list[Line]
    total: int          # matching the filters
    all_count: int      # the cohort's active trainees
    page: int
    pages: int
    flagged: int = 0    # the cohort's trainees with a reason for attention


class _Content(Bilingual):
    """A read-only copy of a content row's columns (`text("title", lang)`), plus the links given."""

    def __init__(self, row, **links):
        self.__dict__.update(row._mapping, **links)


_MILESTONES = sa.select(Milestone.key, Milestone.title_zh, Milestone.title_en)
_QUIZZES = sa.select(Quiz.id, Quiz.slug, Quiz.title_zh, Quiz.title_en)
_LESSONS = (sa.select(Lesson.id, Lesson.slug, Lesson.title_zh, Lesson.title_en, Lesson.position,
                      Course.slug.label("course_slug"), Course.position.label("course_position"))
            .join(Course, Course.id == Lesson.course_id))


class Lookup:
    """The milestones, quizzes and lessons that stored rows name by key or id: read once for a page (three
    small queries of plain rows, whatever the rows name), and shared by what else the page shows."""

    def __init__(self, session: Session):
        self.milestones = {m.key: m for m in map(_Content, read(session, _MILESTONES))}
        self.quizzes = {q.id: q for q in map(_Content, read(session, _QUIZZES))}
        self.lessons = {}
        for row in read(session, _LESSONS):
            self.lessons[row.id] = _Content(row, course=SimpleNamespace(slug=row.course_slug,
                                                                        position=row.course_position))

    def line(self, row) -> Line:
        reasons = []
        for stored in row.reasons:
            detail = dict(stored["detail"])
            if "milestone" in detail:
                detail["milestone"] = self.milestones.get(detail["milestone"])
            if "quiz" in detail:
                detail["quiz"] = self.quizzes.get(detail["quiz"])
            reasons.append(dashboard.Reason(stored["code"], stored["weight"], detail))
        return Line(row, row, reasons, self.lessons.get(row.next_lesson_id))


def _lines(session: Session, statement, lookup: Lookup | None, params: dict | None = None) -> list[Line]:
    found = read(session, statement, params).all()
    lookup = lookup or Lookup(session)
    return [lookup.line(row) for row in found]


def page(session: Session, cohort: Cohort, query: DashboardQuery, now: datetime,
         lookup: Lookup | None = None, milestones: bool = True) -> Page:
    """One page of the cohort's table, filtered and sorted in SQL (each line's milestones unless told
    not). Call refresh() first."""
    conditions = _conditions(query, now)
    matching = sa.and_(sa.true(), *conditions)
    # One pass over the cohort's rows counts them all, those matching, and those needing attention.
    all_count, total, flagged = read(session, sa.select(
        sa.func.count(), sa.func.coalesce(sa.func.sum(sa.case((matching, 1), else_=0)), 0),
        sa.func.coalesce(sa.func.sum(sa.case((TraineeSummary.attention > 0, 1), else_=0)), 0))
        .select_from(TraineeSummary).join(User, User.id == TraineeSummary.user_id)
        .where(*active_trainees_of(cohort.id))).one()
    pages = max(1, -(-total // query.per_page))
    number = min(query.page, pages)
    lines = _lines(session, _table(cohort.id, SHOWN if milestones else ON_THE_PAGE).where(*conditions)
                   .order_by(*_sorts(session)[query.sort], User.id)
                   .offset((number - 1) * query.per_page).limit(query.per_page), lookup)
    return Page(lines, total, all_count, number, pages, flagged)


def rows(session: Session, cohort: Cohort, query: DashboardQuery, now: datetime) -> list[Line]:
    """Every row matching the filters, sorted (the CSV export)."""
    return _lines(session, _table(cohort.id).where(*_conditions(query, now))
                  .order_by(*_sorts(session)[query.sort], User.id), None)


_FLAGGED_COUNT = sa.select(sa.func.count()).select_from(
    _table(sa.bindparam("cohort_id")).where(TraineeSummary.attention > 0).subquery())
_FLAGGED: dict = {}   # the list's statement, built once per kind of database (its order of names differs)


def needs_attention(session: Session, cohort: Cohort, limit: int, lookup: Lookup | None = None,
                    count: int | None = None) -> tuple[list[Line], int]:
    """Trainees with a reason, the most urgent first (then the longest inactive), at most `limit`; and how
    many there are in all (`count`, when the caller has it already: Page.flagged)."""
    params = {"cohort_id": cohort.id, "limit": limit}
    if count is None:
        count = read(session, _FLAGGED_COUNT, {"cohort_id": cohort.id}).scalar()
    statement = _FLAGGED.get(_dialect(session))
    if statement is None:
        s = TraineeSummary
        statement = _FLAGGED[_dialect(session)] = (
            _table(sa.bindparam("cohort_id"), ON_THE_PAGE).where(s.attention > 0)
            .order_by(s.attention.desc(), s.last_active_at.is_not(None), s.last_active_at, _by_name(session), User.id)
            .limit(sa.bindparam("limit")))
    return _lines(session, statement, lookup, params), count


_LESSONS_ON = (sa.select(TraineeSummary.next_lesson_id).distinct().join(User, User.id == TraineeSummary.user_id)
               .where(*active_trainees_of(sa.bindparam("cohort_id")), TraineeSummary.next_lesson_id.is_not(None)))


def lessons_on(session: Session, cohort: Cohort, lookup: Lookup) -> list:
    """The lessons someone of the cohort is on, in course order (the "stuck on" filter)."""
    ids = read(session, _LESSONS_ON, {"cohort_id": cohort.id}).scalars()
    lessons = [lookup.lessons[i] for i in ids if i in lookup.lessons]
    return sorted(lessons, key=lambda lesson: (lesson.course.position, lesson.position))
