"""`academy demo`: a demo cohort and one account of each role, created idempotently."""
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.accounts.models import User
from app.core.access import Role
from app.accounts.service import create_user
from app.checkins.service import record_checkin
from app.cohorts.models import Cohort
from app.core.calendar import default_timezone, today_in
from app.camp import service as camp

DEMO_CODE = "DEMO2026"
# Our trainees read Chinese first; "Demo cohort" stays in it, the name operators know it by.
DEMO_NAME = "小B成长营 · 演示班 (Demo cohort)"
DEMO_PASSWORD = "xiaob-demo-2026"
DEMO_ACCOUNTS = [
    ("admin@demo.local", "演示管理员", Role.ADMIN),
    ("mentor@demo.local", "王老师", Role.MENTOR),
    ("trainee@demo.local", "李小美", Role.TRAINEE),
]


# The demo trainee is on day 4 with three check-ins, so the line and the diagnosis have data.
DEMO_DAYS_AGO = 3
DEMO_CHECKINS = [  # (day of programme, earnings, orders, members, active, posts)
    (1, "0", 0, 32, 6, 2),
    (2, "12.50", 2, 41, 9, 3),
    (3, "23.80", 3, 45, 11, 2),
]


DEMO_TASK_TEXT = {  # the camp plan's first days (milestones/camp.yml)
    1: "学完了新手课，数了三个数。名单列了32个人，A档9个。",
    2: "私聊了8个人，6个说好，群建好了。",
    3: "群公告发了，欢迎语结尾问了一句“你家最近最快用完的是什么”，有4个人回了。",
}
DEMO_TASK_NUMBER = {1: 32, 2: 7}  # people on her list; people in the group, her included


def seed_demo(session, now: datetime) -> Cohort:
    today = today_in(default_timezone(), now)
    cohort = session.scalar(sa.select(Cohort).where(Cohort.invite_code == DEMO_CODE))
    if cohort is None:
        cohort = Cohort(name=DEMO_NAME, invite_code=DEMO_CODE, timezone=default_timezone(),
                        start_date=today - timedelta(days=DEMO_DAYS_AGO))
        session.add(cohort)
    for email, name, role in DEMO_ACCOUNTS:
        user = session.scalar(sa.select(User).where(User.email == email))
        if user is None:
            user = create_user(session, name=name, email=email, password=DEMO_PASSWORD, role=role,
                               cohort=cohort if role == Role.TRAINEE else None)
            user.created_at = now - timedelta(days=DEMO_DAYS_AGO)
            if role == Role.TRAINEE:
                session.flush()
                for day, earnings, orders, members, active, posts in DEMO_CHECKINS:
                    record_checkin(session, user, {
                        "date": (cohort.start_date + timedelta(days=day - 1)).isoformat(), "earnings": earnings,
                        "orders": orders, "group_members": members, "active_members": active, "posts": posts},
                        now, source="import")
                _demo_camp(session, user, now)
        if role == Role.MENTOR and user not in cohort.mentors:
            cohort.mentors.append(user)
    session.flush()
    return cohort


def _demo_camp(session, trainee: User, now: datetime) -> None:
    """Her camp tasks of the days before today, done; the last one shared with the cohort's feed."""
    done_days = [task for task in camp.plan(session) if task.day < DEMO_DAYS_AGO + 1]
    for task in done_days:
        moment = camp.unlocks_at(task, trainee, camp.camp_rules(session)) + timedelta(hours=2)
        number = DEMO_TASK_NUMBER.get(task.day, 24) if "number" in task.proof else None
        camp.record_task_checkin(session, trainee, task, text=DEMO_TASK_TEXT.get(task.day, "做完了。"), number=number,
                                 share=task is done_days[-1], now=moment)
