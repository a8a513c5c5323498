"""Which reminders work: per rule and channel over a period, how many were sent, failed (at least one
try failed), dead, and acted on within 24 hours of being sent (she did the thing it asked).

Set-based: one grouped query for the states, one for failed tries, one per kind of action (an
EXISTS over her check-ins, 打卡 or lessons in the 24 hours after each message).
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.camp.models import TaskCheckin
from app.checkins.models import Checkin
from app.learning.models import LessonProgress
from app.reminders.models import DeliveryTry, OutboxMessage

WINDOW = timedelta(hours=24)
# What each rule asks her to do, and the row that shows she did it.
ACTIONS = {
    "checkin_due": ("checkin",), "checkin_missed": ("checkin",), "behind": ("checkin", "lesson"),
    "no_lesson": ("lesson",), "task_unlocked": ("task",),
}
EVIDENCE = {"checkin": (Checkin.user_id, Checkin.updated_at), "task": (TaskCheckin.user_id, TaskCheckin.created_at),
            "lesson": (LessonProgress.user_id, LessonProgress.started_at)}


@dataclass
class Line:
    rule: str
    channel: str
    sent: int = 0
    failed: int = 0
    dead: int = 0
    acted: int | None = None   # None: the rule asks for nothing we can see (a celebration, a review)

    @property
    def acted_percent(self) -> int | None:
        return None if self.acted is None or not self.sent else round(100 * self.acted / self.sent)


def _a_day_after(session: Session, column):
    if session.get_bind().dialect.name == "sqlite":   # naive UTC stored as text
        return sa.func.strftime("%Y-%m-%d %H:%M:%f", column, "+1 day")
    return column + sa.literal_column("interval '24 hours'")


def report(session: Session, start: datetime, end: datetime) -> list[Line]:
    """Messages to people (not group robots) written in [start, end)."""
    period = (OutboxMessage.created_at >= start, OutboxMessage.created_at < end, OutboxMessage.user_id.is_not(None))
    lines: dict[tuple[str, str], Line] = {}
    for rule, channel, sent, dead in session.execute(
            sa.select(OutboxMessage.rule, OutboxMessage.channel,
                      sa.func.count().filter(OutboxMessage.state == OutboxMessage.SENT),
                      sa.func.count().filter(OutboxMessage.state == OutboxMessage.DEAD))
            .where(*period).group_by(OutboxMessage.rule, OutboxMessage.channel)):
        lines[rule, channel] = Line(rule, channel, sent, 0, dead, 0 if rule in ACTIONS else None)
    for rule, channel, failed in session.execute(
            sa.select(OutboxMessage.rule, OutboxMessage.channel, sa.func.count(sa.distinct(OutboxMessage.id)))
            .join(DeliveryTry, DeliveryTry.message_id == OutboxMessage.id)
            .where(*period, DeliveryTry.outcome.in_(("retry", "dead")))
            .group_by(OutboxMessage.rule, OutboxMessage.channel)):
        if (rule, channel) in lines:
            lines[rule, channel].failed = failed
    until = _a_day_after(session, OutboxMessage.sent_at)
    acted_rules = sorted(ACTIONS)
    evidence = []
    for kind, (user_column, at_column) in EVIDENCE.items():
        rules = [rule for rule in acted_rules if kind in ACTIONS[rule]]
        evidence.append((rules, sa.exists().where(user_column == OutboxMessage.user_id, at_column >= OutboxMessage.sent_at,
                                                   at_column < until)))
    # A message counts once, whichever of its actions she took.
    did = sa.or_(*(sa.and_(OutboxMessage.rule.in_(rules), found) for rules, found in evidence))
    for rule, channel, acted in session.execute(
            sa.select(OutboxMessage.rule, OutboxMessage.channel, sa.func.count())
            .where(*period, OutboxMessage.state == OutboxMessage.SENT, OutboxMessage.rule.in_(acted_rules), did)
            .group_by(OutboxMessage.rule, OutboxMessage.channel)):
        lines[rule, channel].acted = acted
    return sorted(lines.values(), key=lambda line: (line.rule, line.channel))
