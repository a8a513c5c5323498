"""Reminder rules and dispatch, walked through a trainee's first 30 days with a fixed clock."""
from datetime import date, datetime

import pytest
import sqlalchemy as sa

from app.core.access import Role
from app.camp.models import CampTask
from app.cohorts.models import Cohort
from app.reminders.models import InboxMessage
from app.extensions import db
from app.learning.models import Lesson, LessonProgress
from app.reminders import outbox
from app.reminders.models import DeliveryTry, OutboxMessage, ReminderPreference
from app.reminders.rules import run_rules
from tests.factories import check_in, make_trainee, on
from tests.conftest import make_user

START = date(2026, 3, 2)


@pytest.fixture
def camp(app, synced):
    """A cohort on the programme, without the camp's daily tasks (see test_camp_reminders for those)."""
    db.session.execute(sa.update(CampTask).values(is_archived=True))
    cohort = Cohort(name="三月营", invite_code="MARCH1", start_date=START, timezone="Asia/Shanghai")
    db.session.add(cohort)
    db.session.commit()
    return cohort, early_trainee("mei@example.com", cohort, "美美", "13800000001")


def early_trainee(email, cohort, name, mobile):
    """A trainee who registered before the cohort started, reading Chinese."""
    return make_trainee(email, cohort, name=name, mobile=mobile, joined=on(-2, "10:00", start=START), locale=None)


def tick(now: datetime):
    created = run_rules(db.session, now)
    db.session.commit()
    outcomes = outbox.dispatch(db.session, now)
    return created, outcomes


def open_lesson(user, day: int, index: int = 0):
    lesson = db.session.scalars(sa.select(Lesson).order_by(Lesson.course_id, Lesson.position)).all()[index]
    db.session.add(LessonProgress(user_id=user.id, lesson_id=lesson.id, started_at=on(day, "12:00", start=START),
                                  completed_at=on(day, "12:20", start=START)))
    db.session.commit()


def inbox_of(user) -> list[InboxMessage]:
    return list(db.session.scalars(sa.select(InboxMessage).where(InboxMessage.recipient_id == user.id)
                                   .order_by(InboxMessage.id)))


def test_rules_write_each_message_once_and_nothing_before_her_reminder_time(camp):
    cohort, mei = camp
    assert sum(run_rules(db.session, on(1, "21:39", start=START)).values()) == 0      # before 21:40: nothing yet
    created = run_rules(db.session, on(1, "21:40", start=START))
    assert created == {"checkin_due": 1}
    assert sum(run_rules(db.session, on(1, "21:45", start=START)).values()) == 0      # the same occasion: nothing new
    db.session.commit()
    row = db.session.scalar(sa.select(OutboxMessage))
    assert row.key == f"user:{mei.id}/checkin_due/2026-03-02/inapp"
    assert row.expires_at == on(2, "00:00", start=START)


def test_nothing_is_written_or_sent_in_quiet_hours(camp):
    cohort, mei = camp
    assert sum(run_rules(db.session, on(1, "22:30", start=START)).values()) == 0
    db.session.add(ReminderPreference(user_id=mei.id, send_at="21:00", quiet_start="21:30", quiet_end="07:00"))
    db.session.commit()
    assert sum(run_rules(db.session, on(1, "21:45", start=START)).values()) == 0      # her own time is later
    assert run_rules(db.session, on(1, "21:10", start=START)) == {"checkin_due": 1}
    assert sum(run_rules(db.session, on(3, "21:45", start=START)).values()) == 0      # her quiet hours


def test_a_reminder_for_something_she_did_meanwhile_is_not_sent(camp):
    cohort, mei = camp
    run_rules(db.session, on(1, "21:40", start=START))
    db.session.commit()
    check_in(mei, 1, "12", clock="21:41", start=START)
    assert outbox.dispatch(db.session, on(1, "21:42", start=START)) == {"skipped": 1}
    assert inbox_of(mei) == []


def test_an_expired_daily_reminder_is_dropped(camp):
    cohort, mei = camp
    run_rules(db.session, on(1, "21:40", start=START))
    db.session.commit()
    assert outbox.dispatch(db.session, on(2, "09:00", start=START)) == {}
    assert db.session.scalar(sa.select(OutboxMessage.state)) == OutboxMessage.SKIPPED


def test_thirty_days_of_reminders_in_order_and_in_her_language(camp):
    """She checks in some days and not others, learns, falls behind, catches up. Each evening at
    21:45 and again at 23:00 the rules and one dispatch pass run; we check what reached her."""
    cohort, mei = camp
    mei.locale = "en"
    db.session.commit()
    plan = {  # day: what she does before the evening's reminders (and after, marked late)
        1: lambda: (check_in(mei, 1, "0", clock="19:00", start=START, group_members=20), open_lesson(mei, 1, 0)),
        3: lambda: None,
        6: lambda: None,
        10: lambda: (check_in(mei, 10, "40", clock="18:00", start=START, group_members=120), open_lesson(mei, 10, 1)),
        13: lambda: open_lesson(mei, 13, 2),
        14: lambda: check_in(mei, 14, "300", clock="19:00", start=START),
        17: lambda: open_lesson(mei, 17, 3),
        21: lambda: check_in(mei, 21, "600", clock="19:00", start=START),
        23: lambda: open_lesson(mei, 23, 4),
        28: lambda: open_lesson(mei, 28, 5),
    }
    late = {  # after the 21:45 run, before the 23:00 one
        3: lambda: check_in(mei, 3, "10", clock="22:00", start=START),
        6: lambda: check_in(mei, 6, "95", clock="22:00", start=START),
        30: lambda: check_in(mei, 30, "80", clock="22:00", start=START),
    }
    received = []
    for day in range(1, 32):
        plan.get(day, lambda: None)()
        seen = len(inbox_of(mei))
        tick(on(day, "21:45", start=START))
        late.get(day, lambda: None)()
        tick(on(day, "23:00", start=START))
        assert sum(run_rules(db.session, on(day, "23:05", start=START)).values()) == 0
        received += [(day, m.title) for m in inbox_of(mei)[seen:]]
    assert received == [
        (3, "Check in today"),                                     # day 1 done before 21:40; day 3 not yet
        (4, "3 days without a lesson"),                            # her first lesson was on day 1
        (5, "Check in today"),
        (5, "\"¥100 in the first week\": not there yet"),          # ¥10 by day 5: under the line
        (6, "Your check-in for 2026-03-06 is still empty"),        # day 5 (03-02 is day 1)
        (6, "\"¥100 in the first week\": not there yet"),          # escalation: day 5, then day 6
        (6, "🎉 You reached \"¥100 in the first week\""),           # her ¥95 at 22:00, celebrated at 23:00
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


# --- through the real channels: an SMTP server and robot webhooks on loopback ---------------------

from tests.servers import http_sink, smtp_sink  # noqa: E402,F401


@pytest.fixture
def mail(app, smtp_sink):
    app.config.update(smtp_sink.config, SMTP_FROM="小B学院 <academy@example.com>", BASE_URL="https://xb.example.com")
    return smtp_sink


def test_email_in_her_language_once_with_an_unsubscribe_link(camp, mail):
    cohort, mei = camp
    tick(on(1, "21:45", start=START))
    tick(on(1, "21:50", start=START))
    assert len(mail.messages) == 1
    email = mail.messages[0]
    assert email["To"] == "美美 <mei@example.com>" and email["Subject"] == "今天记得打卡"
    text = email.get_body(("plain",)).get_content()
    html = email.get_body(("html",)).get_content()
    assert "今天是你的第 1 天" in text and "https://xb.example.com/checkin" in text
    assert "今天是你的第 1 天" in html
    unsubscribe = email["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith("https://xb.example.com/unsubscribe/")
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert [m.title for m in inbox_of(mei)] == ["今天记得打卡"]


def test_an_email_due_in_quiet_hours_waits_for_the_morning(camp, mail):
    cohort, mei = camp
    check_in(mei, 1, "120", clock="22:40", start=START)                   # ¥100 reached at 22:40: celebrate, but quietly
    assert tick(on(1, "22:45", start=START))[1] == {"sent": 1, "later": 1}   # the inbox now; the email is held
    assert mail.messages == [] and len(inbox_of(mei)) == 1
    assert tick(on(2, "07:59", start=START))[1] == {}
    assert tick(on(2, "08:00", start=START))[1] == {"sent": 1}
    assert [m["Subject"] for m in mail.messages] == ["🎉 你完成了「第一周赚到 ¥100」"]


def test_she_can_mute_a_category_for_email(camp, mail):
    cohort, mei = camp
    db.session.add(ReminderPreference(user_id=mei.id, email_muted=["checkin"]))
    db.session.commit()
    tick(on(1, "21:45", start=START))
    assert mail.messages == [] and len(inbox_of(mei)) == 1


def robot(cohort, kind: str, url: str, secret: str | None = None):
    cohort.robot_kind, cohort.robot_webhook, cohort.robot_secret = kind, url, secret
    db.session.commit()


def test_the_cohort_group_gets_one_digest_mentioning_who_has_not_checked_in(camp, http_sink):
    cohort, mei = camp
    lan = early_trainee("lan@example.com", cohort, "兰兰", "13800000002")
    quiet = early_trainee("yu@example.com", cohort, "雨", "13800000003")
    db.session.add(ReminderPreference(user_id=quiet.id, group_mention=False))
    db.session.commit()
    robot(cohort, "wecom", http_sink.url("/cgi-bin/webhook/send?key=k1"))
    check_in(lan, 3, "20", clock="19:00", start=START)
    tick(on(3, "21:45", start=START))
    tick(on(3, "22:10", start=START))
    assert len(http_sink.accepted) == 1
    request = http_sink.accepted[0]
    assert request.path == "/cgi-bin/webhook/send" and request.query == {"key": "k1"}
    assert request.json == {"msgtype": "text", "text": {
        "content": "第 3 天打卡提醒\n今天还有 2 位同学没打卡，记一下今天的收入和群人数吧。\nhttp://127.0.0.1:5000/checkin",
        "mentioned_mobile_list": ["13800000001"]}}


def test_no_digest_when_everyone_checked_in(camp, http_sink):
    cohort, mei = camp
    robot(cohort, "dingtalk", http_sink.url("/robot/send?access_token=t"), "SEC123")
    check_in(mei, 1, "5", clock="19:00", start=START)
    assert tick(on(1, "21:45", start=START))[1] == {"skipped": 1}
    assert http_sink.requests == []


def test_dingtalk_digest_is_signed(camp, http_sink):
    import base64
    import hashlib
    import hmac
    cohort, mei = camp
    robot(cohort, "dingtalk", http_sink.url("/robot/send?access_token=t"), "SEC123")
    tick(on(1, "21:45", start=START))
    request = http_sink.accepted[0]
    stamp = request.query["timestamp"]
    expected = base64.b64encode(hmac.new(b"SEC123", f"{stamp}\nSEC123".encode(), hashlib.sha256).digest()).decode()
    assert request.query["sign"] == expected and request.query["access_token"] == "t"
    assert request.json["at"] == {"atMobiles": ["13800000001"], "isAtAll": False}


def test_a_failing_robot_is_retried_with_growing_waits_then_dead_lettered(camp, http_sink, app):
    cohort, mei = camp
    app.config.update(REMINDER_MAX_TRIES=4, REMINDER_BACKOFF_SECONDS=60)
    robot(cohort, "wecom", http_sink.url("/send?key=k"))
    http_sink.default = (500, {"errcode": -1})
    moment = on(1, "21:45", start=START)
    run_rules(db.session, moment)
    db.session.commit()
    waits = []
    for _ in range(10):
        outbox.dispatch(db.session, moment)
        message = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.channel == "wecom"))
        if message.state == OutboxMessage.DEAD:
            break
        waits.append((message.next_try_at - moment).total_seconds())
        moment = message.next_try_at
    assert message.state == OutboxMessage.DEAD and message.tries == 4 and len(http_sink.requests) == 4
    assert [30 <= waits[0] <= 90, 60 <= waits[1] <= 180, 120 <= waits[2] <= 360] == [True] * 3
    assert [t.outcome for t in message.tries_log] == ["retry", "retry", "retry", "dead"]
    # An admin fixes the robot and retries: it goes out once.
    http_sink.default = (200, {"errcode": 0, "errmsg": "ok"})
    assert outbox.retry_dead(db.session, None, moment) == 1
    db.session.commit()
    assert outbox.dispatch(db.session, moment) == {"sent": 1}
    assert len(http_sink.accepted) == 1


def test_a_robot_that_times_out_is_retried(camp, http_sink, app):
    cohort, mei = camp
    app.config.update(REMINDER_HTTP_TIMEOUT=0.3)
    robot(cohort, "webhook", http_sink.url("/hook"), "s3cret")
    http_sink.answer(200, {}, delay=1.0)
    moment = on(1, "21:45", start=START)
    assert tick(moment)[1] == {"sent": 1, "retry": 1}          # the inbox; the robot timed out
    message = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.channel == "webhook"))
    assert message.state == OutboxMessage.PENDING and "time" in message.last_error.lower()
    assert outbox.dispatch(db.session, message.next_try_at) == {"sent": 1}


def test_an_invalid_webhook_is_dead_at_once_and_admins_are_told(camp, http_sink):
    cohort, mei = camp
    admin = make_user("boss@example.com", role=Role.ADMIN, name="Boss")
    robot(cohort, "wecom", http_sink.url("/send?key=gone"))
    http_sink.default = (200, {"errcode": 93000, "errmsg": "invalid webhook url"})
    tick(on(1, "21:45", start=START))
    message = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.channel == "wecom"))
    assert message.state == OutboxMessage.DEAD and message.tries == 1
    tick(on(1, "21:46", start=START))
    assert [m.title for m in inbox_of(admin)] == ["三月营 的群机器人无法使用"]


def test_a_mentor_nudge_reaches_her_inbox_now_and_her_email_through_the_outbox(camp, mail):
    from app.cohorts import mentoring
    cohort, mei = camp
    mentor = make_user("coach@example.com", role=Role.MENTOR, cohort=cohort, name="王老师")
    ids = mentoring.send_nudge(db.session, mentor, mei, "今天发一条朋友圈试试", on(2, "10:00", start=START))
    db.session.commit()
    assert len(ids) == 2
    assert [(m.title, m.body) for m in inbox_of(mei)] == [("王老师 给你留言", "今天发一条朋友圈试试")]
    assert outbox.dispatch(db.session, on(2, "10:01", start=START)) == {"sent": 1}
    assert mail.messages[0]["Subject"] == "王老师 给你留言"


# --- the camp's daily task ---------------------------------------------------------------------

@pytest.fixture
def camper(app, synced):
    cohort = Cohort(name="七日营", invite_code="CAMP1", start_date=START, timezone="Asia/Shanghai")
    db.session.add(cohort)
    db.session.commit()
    return cohort, early_trainee("xiaoman@example.com", cohort, "小满", "13900000001")


def do_task(user, day: int, clock: str):
    from app.camp import service as camp
    task = db.session.scalar(sa.select(CampTask).where(CampTask.day == day))
    number = 12 if "number" in task.proof else None
    camp.record_task_checkin(db.session, user, task, text="做完了", number=number, now=on(day, clock, start=START))
    db.session.commit()


def test_the_days_task_is_announced_when_it_unlocks_and_not_once_done(camper):
    cohort, xiaoman = camper
    assert run_rules(db.session, on(1, "07:59", start=START)) == {}
    assert run_rules(db.session, on(1, "08:00", start=START)) == {"task_unlocked": 1}
    db.session.commit()
    tick(on(1, "08:01", start=START))
    assert [m.title for m in inbox_of(xiaoman)] == ["第 1 天任务已解锁：学完新手课，数三个数，写下30个熟人"]
    # Day 2: the rules write it at 08:00; she does the task at 08:01, before the dispatcher's pass.
    run_rules(db.session, on(2, "08:00", start=START))
    db.session.commit()
    do_task(xiaoman, 2, "08:01")
    assert outbox.dispatch(db.session, on(2, "08:02", start=START)) == {"skipped": 1}
    # Day 3: done before 08:00? It cannot be: locked until then. Done at 09:00, nothing more is written.
    tick(on(3, "08:30", start=START))
    do_task(xiaoman, 3, "09:00")
    assert sum(run_rules(db.session, on(3, "09:30", start=START)).values()) == 0
    assert [m.title.split("：")[0] for m in inbox_of(xiaoman)] == ["第 1 天任务已解锁", "第 3 天任务已解锁"]


def test_each_mentor_gets_one_morning_digest_of_who_needs_her(camp, mail):
    cohort, mei = camp
    coach = make_user("coach@example.com", role=Role.MENTOR, cohort=cohort, name="王老师")
    other = make_user("idle@example.com", role=Role.MENTOR, name="No cohort")
    assert run_rules(db.session, on(6, "08:59", start=START)).get("mentor_digest", 0) == 0
    tick(on(6, "09:00", start=START))                 # day 6: no check-in since her start, behind ¥100
    tick(on(6, "10:00", start=START))
    digest = [m for m in inbox_of(coach)]
    assert [m.title for m in digest] == ["今天有 1 位学员需要你关注"] and "• 美美" in digest[0].body
    assert inbox_of(other) == []
    assert [m["To"] for m in mail.messages if "需要你关注" in m["Subject"]] == ["王老师 <coach@example.com>"]
    assert run_rules(db.session, on(6, "13:05", start=START)).get("mentor_digest", 0) == 0   # past the morning window
    assert run_rules(db.session, on(7, "09:30", start=START)).get("mentor_digest", 0) == 2   # the next morning: in-app, email


def test_she_hears_once_when_her_essay_has_been_reviewed(camp):
    from app.learning.models import Course
    from app.quizzes.models import EssayReview, Quiz, QuizAttempt
    cohort, mei = camp
    course = db.session.scalar(sa.select(Course).order_by(Course.position))
    quiz = Quiz(slug="writing", course_id=course.id, title_zh="写一条朋友圈", title_en="Write a Moments post")
    db.session.add(quiz)
    db.session.flush()
    attempt = QuizAttempt(quiz_id=quiz.id, user_id=mei.id, number=1, state=QuizAttempt.AWAITING_REVIEW, questions=[],
                          answers={}, results={}, max_score=10, started_at=on(2, "10:00", start=START), submitted_at=on(2, "10:20", start=START))
    db.session.add(attempt)
    db.session.commit()
    assert run_rules(db.session, on(2, "11:00", start=START)).get("essay_reviewed", 0) == 0      # waiting for review
    attempt.state = QuizAttempt.GRADED
    db.session.add(EssayReview(attempt_id=attempt.id, question_id="q1", points=8, reviewed_at=on(2, "15:00", start=START)))
    db.session.commit()
    tick(on(2, "15:05", start=START))
    tick(on(2, "16:05", start=START))
    assert [m.title for m in inbox_of(mei)] == ["导师批改了你的作业"]
    assert "《写一条朋友圈》已批改" in inbox_of(mei)[0].body
    assert inbox_of(mei)[0].link.endswith(f"/attempts/{attempt.id}/result")
