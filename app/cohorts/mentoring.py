"""What a mentor does for a trainee: notes, comments on check-ins, nudges, "contacted"."""
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, joinedload

from app.accounts.models import User
from app.core import audit
from app.core.access import Role
from app.camp.models import TaskCheckin
from app.checkins.models import Checkin
from app.cohorts.models import Cohort, MentorNote
from app.core.errors import DomainError
from app.reminders.notify import notify

MAX_TEXT = 2000


def trainee_in(session: Session, cohort: Cohort, trainee_id: int) -> User | None:
    return session.scalar(sa.select(User).where(User.id == trainee_id, User.cohort_id == cohort.id,
                                                User.role == Role.TRAINEE))


def trainees_in(session: Session, cohort: Cohort, trainee_ids) -> list[User]:
    """The ones of these ids that are trainees of the cohort (trainee_in() for many), by id."""
    return list(session.scalars(sa.select(User).where(User.id.in_(list(trainee_ids)), User.cohort_id == cohort.id,
                                                      User.role == Role.TRAINEE).order_by(User.id)))


def _text(body: str, required: bool = True) -> str:
    body = (body or "").strip()
    if required and not body:
        raise DomainError(_l("Write something first."))
    if len(body) > MAX_TEXT:
        raise DomainError(_l("At most %(n)d characters.", n=MAX_TEXT))
    return body


def add_note(session: Session, mentor: User, trainee: User, body: str, now: datetime,
             checkin_id: int | None = None, task_checkin_id: int | None = None) -> MentorNote:
    """A note on her page, or a comment on one of her check-ins or of her camp 打卡 (she sees comments)."""
    kind = MentorNote.NOTE
    if checkin_id is not None and task_checkin_id is not None:
        raise DomainError(_l("No such check-in."), status=404)
    if checkin_id is not None:
        owner = session.scalar(sa.select(Checkin.user_id).where(Checkin.id == checkin_id))
        if owner != trainee.id:
            raise DomainError(_l("No such check-in."), status=404)
        kind = MentorNote.CHECKIN_COMMENT
    if task_checkin_id is not None:
        owner = session.scalar(sa.select(TaskCheckin.user_id).where(TaskCheckin.id == task_checkin_id))
        if owner != trainee.id:
            raise DomainError(_l("No such check-in."), status=404)
        kind = MentorNote.TASK_COMMENT
    note = MentorNote(trainee_id=trainee.id, author_id=mentor.id, kind=kind, checkin_id=checkin_id,
                      task_checkin_id=task_checkin_id, body=_text(body), created_at=now)
    session.add(note)
    session.flush()
    return note


def mark_contacted(session: Session, mentor: User, trainee: User, body: str, now: datetime) -> MentorNote:
    note = MentorNote(trainee_id=trainee.id, author_id=mentor.id, kind=MentorNote.CONTACTED,
                      body=_text(body, required=False), created_at=now)
    session.add(note)
    session.flush()
    return note


def send_nudge(session: Session, mentor: User, trainee: User, body: str, now: datetime) -> list[int]:
    """A personal message: in her inbox at once, by email too when she takes mentors' messages by email
    (quiet hours respected). Returns the outbox ids."""
    return notify(session, trainee, "nudge", {"sender_id": mentor.id, "mentor": mentor.name, "text": _text(body)}, now,
                  category="nudge", occasion=f"{mentor.id}-{now.timestamp():.6f}")


BULK_ACTIONS = ("nudge", "note", "contacted")
BULK_MAX = 100   # a page of the table is 50


def act_on_each(session: Session, mentor: User, cohort: Cohort, action: str, trainee_ids: list[int], body: str,
                now: datetime) -> int:
    """The table's bulk action: a nudge, a note on her page, or "contacted" for each trainee picked, each
    audited as the single action on her page is. All or nothing: DomainError (404) when an id is not a
    trainee of the cohort, DomainError when the action or its words are refused; the caller rolls back.
    Returns how many trainees it reached."""
    if action not in BULK_ACTIONS:
        raise DomainError(_l("Choose what to do."))
    if not trainee_ids:
        raise DomainError(_l("Select at least one trainee."))
    if len(trainee_ids) > BULK_MAX:
        raise DomainError(_l("At most %(n)d trainees at once.", n=BULK_MAX))
    people = trainees_in(session, cohort, set(trainee_ids))
    if len(people) != len(trainee_ids):
        raise DomainError(_l("No such trainee."), status=404)
    for person in people:
        target = f"user:{person.id}"
        if action == "nudge":
            audit.record(session, mentor, "trainee.nudge", target, outbox=send_nudge(session, mentor, person, body, now))
        elif action == "note":
            audit.record(session, mentor, "trainee.note", target, note=add_note(session, mentor, person, body, now).id)
        else:
            audit.record(session, mentor, "trainee.contacted", target,
                         note=mark_contacted(session, mentor, person, body, now).id)
    return len(people)


def comments_on_checkins(session: Session, trainee: User) -> dict[int, list[MentorNote]]:
    """Mentors' comments per check-in id, for her own progress page."""
    notes = session.scalars(sa.select(MentorNote).where(
        MentorNote.trainee_id == trainee.id, MentorNote.kind == MentorNote.CHECKIN_COMMENT)
        .order_by(MentorNote.created_at))
    out: dict[int, list[MentorNote]] = {}
    for note in notes:
        out.setdefault(note.checkin_id, []).append(note)
    return out


# --- comments on her camp 打卡 -----------------------------------------------------------------

COMMENTS_SHOWN = 100    # her calendar shows at most this many comments for a month


def task_comments(notes) -> dict[int, list[MentorNote]]:
    """Comments per 打卡 id, oldest first, from notes already loaded (the trainee page has them all)."""
    out: dict[int, list[MentorNote]] = {}
    for note in sorted(notes, key=lambda n: (n.created_at, n.id)):
        if note.kind == MentorNote.TASK_COMMENT and note.task_checkin_id is not None:
            out.setdefault(note.task_checkin_id, []).append(note)
    return out


def comments_on(session: Session, checkin_ids) -> dict[int, list[MentorNote]]:
    """Comments per 打卡 id, oldest first, with their authors: one query (none for no ids)."""
    ids = list(checkin_ids)
    if not ids:
        return {}
    out: dict[int, list[MentorNote]] = {}
    for note in session.scalars(
            sa.select(MentorNote).options(joinedload(MentorNote.author))
            .where(MentorNote.task_checkin_id.in_(ids), MentorNote.kind == MentorNote.TASK_COMMENT)
            .order_by(MentorNote.created_at, MentorNote.id)):
        out.setdefault(note.task_checkin_id, []).append(note)
    return out


@dataclass
class CommentedDay:
    """One of her 打卡 with the comments mentors wrote on it."""
    checkin: TaskCheckin
    comments: list[MentorNote] = field(default_factory=list)


def her_comments(session: Session, user: User, first: date, following: date) -> list[CommentedDay]:
    """What mentors wrote on her 打卡 of the days [first, following), by day: one query, at most
    COMMENTS_SHOWN comments (the newest ones)."""
    rows = session.execute(
        sa.select(MentorNote, TaskCheckin).join(TaskCheckin, TaskCheckin.id == MentorNote.task_checkin_id)
        .options(joinedload(MentorNote.author))
        .where(MentorNote.trainee_id == user.id, TaskCheckin.user_id == user.id,
               MentorNote.kind == MentorNote.TASK_COMMENT, TaskCheckin.day >= first, TaskCheckin.day < following)
        .order_by(MentorNote.created_at.desc(), MentorNote.id.desc()).limit(COMMENTS_SHOWN)).all()
    days: dict[int, CommentedDay] = {}
    for note, checkin in reversed(rows):  # oldest first under each day
        days.setdefault(checkin.id, CommentedDay(checkin)).comments.append(note)
    return sorted(days.values(), key=lambda d: (d.checkin.day, d.checkin.id))
