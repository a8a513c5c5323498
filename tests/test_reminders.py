"""Reminder rules and dispatch, walked through a trainee's first 30 days with a fixed clock."""
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from app.accounts.models import Role
from app.checkins.service import record_checkin
from app.cohorts.models import Cohort, InboxMessage
from app.extensions import db
from app.learning.models import Lesson, LessonProgress
from app.reminders import outbox
from app.reminders.models import DeliveryTry, OutboxMessage, ReminderPreference
from app.reminders.rules import run_rules
from tests.conftest import make_user

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = date(2026, 3, 2)


def at(day: int, clock: str, zone=SHANGHAI) -> datetime:
    """Programme day `day` (1 = START) at a local time, in UTC."""
    hours, minutes = map(int, clock.split(":"))
    return datetime.combine(START + timedelta(days=day - 1), time(hours, minutes), zone).astimezone(timezone.utc)


@pytest.fixture
def camp(app, synced):
    cohort = Cohort(name="三月营", invite_code="MARCH1", start_date=START, timezone="Asia/Shanghai")
    db.session.add(cohort)
    db.session.commit()
    mei = make_user("mei@example.com", cohort=cohort, name="美美", mobile="13800000001")
    mei.created_at = at(-2, "10:00")
    db.session.commit()
    return cohort, mei


def tick(now: datetime):
    created = run_rules(db.session, now)
    db.session.commit()
    outcomes = outbox.dispatch(db.session, now)
    return created, outcomes


def check_in(user, day: int, clock: str, earnings: str, **counts):
    record_checkin(db.session, user, {"date": (START + timedelta(days=day - 1)).isoformat(), "earnings": earnings,
                                      **{k: str(v) for k, v in counts.items()}}, at(day, clock))
    db.session.commit()


def open_lesson(user, day: int, index: int = 0):
    lesson = db.session.scalars(sa.select(Lesson).order_by(Lesson.course_id, Lesson.position)).all()[index]
    db.session.add(LessonProgress(user_id=user.id, lesson_id=lesson.id, started_at=at(day, "12:00"),
                                  completed_at=at(day, "12:20")))
    db.session.commit()


def inbox_of(user) -> list[InboxMessage]:
    return list(db.session.scalars(sa.select(InboxMessage).where(InboxMessage.recipient_id == user.id)
                                   .order_by(InboxMessage.id)))


def test_rules_write_each_message_once_and_nothing_before_her_reminder_time(camp):
    cohort, mei = camp
    assert sum(run_rules(db.session, at(1, "19:59")).values()) == 0      # before 20:00: nothing yet
    created = run_rules(db.session, at(1, "20:00"))
    assert created == {"checkin_due": 1}
    assert sum(run_rules(db.session, at(1, "20:05")).values()) == 0      # the same occasion: nothing new
    db.session.commit()
    row = db.session.scalar(sa.select(OutboxMessage))
    assert row.key == f"user:{mei.id}/checkin_due/2026-03-02/inapp"
    assert row.expires_at == at(2, "00:00")


def test_nothing_is_written_or_sent_in_quiet_hours(camp):
    cohort, mei = camp
    assert sum(run_rules(db.session, at(1, "22:30")).values()) == 0
    db.session.add(ReminderPreference(user_id=mei.id, send_at="21:00", quiet_start="21:30", quiet_end="07:00"))
    db.session.commit()
    assert sum(run_rules(db.session, at(1, "20:30")).values()) == 0      # her own time is later
    assert run_rules(db.session, at(1, "21:10")) == {"checkin_due": 1}
    assert sum(run_rules(db.session, at(3, "21:45")).values()) == 0      # her quiet hours


def test_a_reminder_for_something_she_did_meanwhile_is_not_sent(camp):
    cohort, mei = camp
    run_rules(db.session, at(1, "20:00"))
    db.session.commit()
    check_in(mei, 1, "20:01", "12")
    assert outbox.dispatch(db.session, at(1, "20:02")) == {"skipped": 1}
    assert inbox_of(mei) == []


def test_an_expired_daily_reminder_is_dropped(camp):
    cohort, mei = camp
    run_rules(db.session, at(1, "20:00"))
    db.session.commit()
    assert outbox.dispatch(db.session, at(2, "09:00")) == {}
    assert db.session.scalar(sa.select(OutboxMessage.state)) == OutboxMessage.SKIPPED


def test_thirty_days_of_reminders_in_order_and_in_her_language(camp):
    """She checks in some days and not others, learns, falls behind, catches up. Each evening at
    20:30 and again at 23:00 the rules and one dispatch pass run; we check what reached her."""
    cohort, mei = camp
    mei.locale = "en"
    db.session.commit()
    plan = {  # day: what she does before the evening's reminders (and after, marked late)
        1: lambda: (check_in(mei, 1, "19:00", "0", group_members=20), open_lesson(mei, 1, 0)),
        3: lambda: None,
        6: lambda: None,
        10: lambda: (check_in(mei, 10, "18:00", "40", group_members=120), open_lesson(mei, 10, 1)),
        13: lambda: open_lesson(mei, 13, 2),
        14: lambda: check_in(mei, 14, "19:00", "300"),
        17: lambda: open_lesson(mei, 17, 3),
        21: lambda: check_in(mei, 21, "19:00", "600"),
        23: lambda: open_lesson(mei, 23, 4),
        28: lambda: open_lesson(mei, 28, 5),
    }
    late = {  # after the 20:30 run, before the 23:00 one
        3: lambda: check_in(mei, 3, "21:00", "10"),
        6: lambda: check_in(mei, 6, "21:00", "95"),
        30: lambda: check_in(mei, 30, "21:00", "80"),
    }
    received = []
    for day in range(1, 32):
        plan.get(day, lambda: None)()
        seen = len(inbox_of(mei))
        tick(at(day, "20:30"))
        late.get(day, lambda: None)()
        tick(at(day, "23:00"))
        assert sum(run_rules(db.session, at(day, "23:05")).values()) == 0
        received += [(day, m.title) for m in inbox_of(mei)[seen:]]
    assert received == [
        (3, "Check in today"),                                     # day 1 done before 20:00; day 3 not yet
        (4, "3 days without a lesson"),                            # her first lesson was on day 1
        (5, "Check in today"),
        (5, "\"¥100 in the first week\": not there yet"),          # ¥10 by day 5: under the line
        (6, "Your check-in for 2026-03-06 is still empty"),        # day 5 (03-02 is day 1)
        (6, "\"¥100 in the first week\": not there yet"),          # escalation: day 5, then day 6
        (6, "🎉 You reached \"¥100 in the first week\""),           # her ¥95 at 21:00, celebrated at 23:00
        (7, "Check in today"),
        (8, "Your check-in for 2026-03-08 is still empty"),
        (8, "7 days without a lesson"),                            # the second step: 3, then 7 days
        (10, "🎉 You reached \"100 members in your group\""),
        (16, "3 days without a lesson"),
        (20, "3 days without a lesson"),
        (21, "🎉 You reached \"¥1,000 in the first month\""),      # never behind on days 14 and 21
        (26, "3 days without a lesson"),
        (30, "Check in today"),                                    # nothing after her programme's last day
    ]
    # Each delivered once, with a recorded try; nothing pending or dead is left behind.
    states = dict(db.session.execute(sa.select(OutboxMessage.state, sa.func.count()).group_by(OutboxMessage.state)).all())
    assert states.get(OutboxMessage.PENDING, 0) == 0 and states.get(OutboxMessage.DEAD, 0) == 0
    assert db.session.scalar(sa.select(sa.func.count(DeliveryTry.id)).where(DeliveryTry.outcome == "sent")) == len(received)
