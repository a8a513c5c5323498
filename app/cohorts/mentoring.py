"""What a mentor does for a trainee: notes, comments on check-ins, nudges, "contacted"."""
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.core.access import Role
from app.camp.models import TaskCheckin
from app.checkins.models import Checkin
from app.cohorts.models import Cohort, InboxMessage, MentorNote
from app.core.errors import DomainError

MAX_TEXT = 2000


def trainee_in(session: Session, cohort: Cohort, trainee_id: int) -> User | None:
    return session.scalar(sa.select(User).where(User.id == trainee_id, User.cohort_id == cohort.id,
                                                User.role == Role.TRAINEE))


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
    """A personal message through the reminders' outbox: in her inbox at once, by email too when she
    takes mentors' messages by email (quiet hours respected). Returns the outbox ids."""
    from app.reminders import outbox
    from app.reminders.models import OutboxMessage
    from app.reminders.preferences import effective, get_preference
    from app.checkins.service import get_programme
    text = _text(body)
    prefs = effective(get_programme(session).reminders or {}, get_preference(session, trainee))
    channels = ["inapp"] + (["email"] if trainee.email and prefs.wants_email("nudge")
                            and current_app.config.get("SMTP_HOST") else [])
    occasion = f"{mentor.id}-{now.timestamp():.6f}"
    params = {"sender_id": mentor.id, "mentor": mentor.name, "text": text}
    outbox.write(session, [{"key": outbox.key_for(f"user:{trainee.id}", "nudge", occasion, channel),
                            "rule": "nudge", "category": "nudge", "occasion": occasion, "channel": channel,
                            "user_id": trainee.id, "params": params, "due_at": now} for channel in channels], now)
    ids = list(session.scalars(sa.select(OutboxMessage.id).where(
        OutboxMessage.rule == "nudge", OutboxMessage.occasion == occasion, OutboxMessage.user_id == trainee.id)))
    inapp = session.scalars(sa.select(OutboxMessage.id).where(OutboxMessage.id.in_(ids),
                                                              OutboxMessage.channel == "inapp")).all()
    outbox.deliver_now(session, list(inapp), now)
    return ids


def inbox(session: Session, user: User) -> list[InboxMessage]:
    return list(session.scalars(sa.select(InboxMessage).where(InboxMessage.recipient_id == user.id)
                                .order_by(InboxMessage.created_at.desc()).limit(100)))


def unread_count(session: Session, user: User) -> int:
    return session.scalar(sa.select(sa.func.count(InboxMessage.id)).where(
        InboxMessage.recipient_id == user.id, InboxMessage.read_at.is_(None)))


def mark_read(session: Session, user: User, now: datetime) -> int:
    result = session.execute(sa.update(InboxMessage).where(
        InboxMessage.recipient_id == user.id, InboxMessage.read_at.is_(None)).values(read_at=now))
    return result.rowcount


def comments_on_checkins(session: Session, trainee: User) -> dict[int, list[MentorNote]]:
    """Mentors' comments per check-in id, for her own progress page."""
    notes = session.scalars(sa.select(MentorNote).where(
        MentorNote.trainee_id == trainee.id, MentorNote.kind == MentorNote.CHECKIN_COMMENT)
        .order_by(MentorNote.created_at))
    out: dict[int, list[MentorNote]] = {}
    for note in notes:
        out.setdefault(note.checkin_id, []).append(note)
    return out
