"""The mentor's table as a read model (app/cohorts/summaries.py): after any sequence of writes and of time
passing, the stored rows the pages read equal the rows worked out from scratch by the rules
(app/cohorts/dashboard.py); and the table's bulk actions (nudge, note, contacted) are audited and refused
for anyone not of the cohort.
"""
import io
import json
import random
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine
from flask import current_app
from werkzeug.datastructures import FileStorage

from app.accounts.service import authenticate
from app.core.access import Role
from app.camp import service as camp_service
from app.camp.models import CampTask, TaskCheckin
from app.checkins import imports
from app.checkins.models import Checkin, Milestone
from app.checkins.service import record_checkin
from app.cohorts import admin, dashboard, mentoring, summaries
from app.cohorts.models import MentorNote, TraineeSummary
from app.content.snapshot import content_changed
from app.core import calendar
from app.core.audit import AuditEntry
from app.core.errors import DomainError
from app.core.members import active_trainees_of
from app.extensions import db
from app.learning import service as learning
from app.learning.models import Lesson, LessonProgress
from app.quizzes import grading, service as quizzes
from app.quizzes.models import QuizAttempt
from app.reminders.models import InboxMessage
from app.shops import service as shops
from app.shops.models import ShopOrder
from tests.conftest import count_queries
from tests.factories import PASSWORD, api_headers, client_as, jpeg, login, make_cohort, make_user
from tests.quiz_helpers import load_test_quizzes
from tests.test_dashboard import card_ids

UTC = timezone.utc
START = date(2026, 5, 10)
NOW = datetime(2026, 5, 12, 1, 0, tzinfo=UTC)     # 09:00 in Shanghai, day 3
BOOKKEEPING = ("computed_at", "version", "epoch")


def stored_rows(cohort) -> dict[int, dict]:
    """The cohort's stored rows as the pages read them (after bringing them up to date)."""
    table = TraineeSummary.__table__
    ids = sa.select(db.metadata.tables["users"].c.id).where(*active_trainees_of(cohort.id))
    return {row["user_id"]: {k: v for k, v in row.items() if k not in BOOKKEEPING}
            for row in db.session.execute(sa.select(table).where(table.c.user_id.in_(ids))).mappings()}


def from_scratch(cohort, now) -> dict[int, dict]:
    return {row.user.id: {k: v for k, v in summaries.summary_values(row, now).items() if k not in BOOKKEEPING}
            for row in dashboard.cohort_rows(db.session, cohort, now)}


def assert_current(cohorts, now):
    for cohort in cohorts:
        with time_machine.travel(now, tick=False):
            summaries.refresh(db.session, cohort, now)
            db.session.commit()
            expected = from_scratch(cohort, now)
        got = stored_rows(cohort)
        assert got.keys() == expected.keys()
        for user_id, row in expected.items():
            assert got[user_id] == row, (user_id, {k: (got[user_id][k], v) for k, v in row.items()
                                                   if got[user_id][k] != v})


@pytest.fixture
def camp(synced):
    sample, writing = load_test_quizzes()
    sample.max_attempts, sample.time_limit_minutes = 8, 20   # room for many tries, and some that run out of time
    writing.max_attempts = 8
    spring, autumn = make_cohort("Spring", "SPRING", START), make_cohort("Autumn", "AUTUMN", START - timedelta(days=4))
    people = []
    for n in range(8):
        user = make_user(f"t{n}@example.com", cohort=spring if n < 5 else autumn, name=f"T{n}",
                         mobile=f"1380000000{n}", timezone="America/Los_Angeles" if n == 3 else "Asia/Shanghai")
        user.created_at = datetime(2026, 5, 1, tzinfo=UTC)
        people.append(user)
    boss = make_user("boss@example.com", Role.ADMIN, name="Boss")
    shop = shops.create_shop(db.session, "Youzan store", NOW)
    db.session.commit()
    return {"cohorts": [spring, autumn], "people": people, "quizzes": [sample, writing], "boss": boss, "shop": shop}


# Every write that changes a row, as the web pages, the API (app/api/actions.py), the shops' order events and
# the mentors' and admins' pages make it: through the same service functions; and some as bare rows or bulk
# statements (what a script or a migration might do).
WRITES = ("checkin", "correct", "bulk_checkin", "import", "shop_order", "lesson_done", "lesson_undone",
          "lesson_open", "quiz", "quiz_start", "quiz_submit", "quiz_expire", "review", "review_row", "task",
          "task_row", "untask", "contacted", "login", "login_row", "move", "deactivate", "reactivate", "milestone",
          "start", "content")


def photo_upload() -> FileStorage:
    return FileStorage(io.BytesIO(jpeg()), "proof.jpg", content_type="image/jpeg")


def order_event(rng: random.Random, camp: dict, user, now: datetime) -> None:
    """A shop's signed order event, as `POST /api/v1/hooks/orders` receives it: a new order paid, or one of
    hers settled (at another figure) or refunded."""
    mine = db.session.scalars(sa.select(ShopOrder.order_id).where(ShopOrder.user_id == user.id)).all()
    kind = rng.choice(["paid", "paid", "settled", "refunded"]) if mine else "paid"
    order_id = f"{user.id}-{rng.randint(1, 10_000)}" if kind == "paid" else rng.choice(mine)
    body = json.dumps({"order_id": order_id, "event": kind, "mobile": user.mobile,
                       "commission": f"{rng.randint(1, 3000) / 100:.2f}",
                       "occurred_at": (now - timedelta(hours=rng.randint(0, 60))).isoformat()}).encode()
    shop, stamp = camp["shop"], str(int(now.timestamp()))
    shops.receive_order_event(db.session, shop.key, stamp, shops.sign(shop.secret, stamp, body), body, now)


def random_answers(rng: random.Random, attempt: QuizAttempt) -> dict:
    """Right, wrong or no answers (an essay gets a few words: a mentor scores it)."""
    answers = {}
    for question in attempt.questions:
        if question["type"] == "essay":
            answers[question["id"]] = "Welcome! What do you sell?"
        elif question["type"] != "description" and rng.random() < 0.7:
            answers[question["id"]] = grading.correct_answer(question)
    return answers


def random_write(kind: str, rng: random.Random, camp: dict, now: datetime) -> None:
    """One write of the given kind by the services (or as a bulk statement), for a random trainee."""
    user = rng.choice(camp["people"])
    boss = camp["boss"]
    today = calendar.local_today(user, now)
    start = calendar.programme_start(user)
    days = [start + timedelta(days=k) for k in range(max(0, (today - start).days) + 1)]
    lessons = db.session.scalars(sa.select(Lesson).where(Lesson.is_archived.is_(False))).all()
    try:
        _write(kind, rng, camp, now, user, boss, today, days, lessons)
    except (DomainError, shops.HookRefused, imports.ImportFailed):
        db.session.rollback()    # refused, as the page or the API would: nothing stored
        return
    db.session.commit()


def _write(kind, rng, camp, now, user, boss, today, days, lessons) -> None:
    if kind in ("checkin", "correct") and days:
        record_checkin(db.session, user, {"date": rng.choice(days).isoformat(), "earnings": str(rng.randint(0, 90)),
                                          "group_members": rng.choice(["", "40", "120"]), "orders": rng.randint(0, 5),
                                          "active_members": rng.choice(["", "10"])},
                       now, source=rng.choice(["web", "api", "import"]))
    elif kind == "bulk_checkin" and days:
        day = rng.choice(days)
        if not db.session.scalar(sa.select(Checkin.id).where(Checkin.user_id == user.id, Checkin.day == day)):
            db.session.execute(sa.insert(Checkin), [{"user_id": user.id, "day": day, "earnings_fen": 5000,
                                                     "note": "", "source": "import", "created_at": now,
                                                     "updated_at": now}])
    elif kind == "import" and days:
        imports.apply_import(db.session, boss, f"email,date,earnings,orders\n{user.email},{rng.choice(days)},"
                                               f"{rng.randint(0, 9000) / 100:.2f},{rng.randint(0, 4)}\n", now)
    elif kind == "shop_order":
        order_event(rng, camp, user, now)
    elif kind == "lesson_done":
        learning.mark_lesson_done(db.session, user, rng.choice(lessons), now)
    elif kind == "lesson_undone":
        learning.mark_lesson_not_done(db.session, user, rng.choice(lessons), now)
    elif kind == "lesson_open":
        lesson = rng.choice(lessons)
        if not db.session.scalar(sa.select(LessonProgress.id).where(LessonProgress.user_id == user.id,
                                                                     LessonProgress.lesson_id == lesson.id)):
            db.session.add(LessonProgress(user_id=user.id, lesson_id=lesson.id, started_at=now))
    elif kind == "quiz":
        quiz = rng.choice(camp["quizzes"])
        passed = rng.choice([True, False, False, None])
        number = 1 + db.session.scalar(sa.select(sa.func.count(QuizAttempt.id)).where(
            QuizAttempt.user_id == user.id, QuizAttempt.quiz_id == quiz.id))
        db.session.add(QuizAttempt(quiz_id=quiz.id, user_id=user.id, number=number, questions=[], answers={},
                                   results={}, max_score=10, started_at=now - timedelta(minutes=5), submitted_at=now,
                                   state=QuizAttempt.AWAITING_REVIEW if passed is None else QuizAttempt.GRADED,
                                   percent=None if passed is None else (90 if passed else 20), is_passed=passed))
    elif kind == "quiz_start":
        quizzes.start_attempt(db.session, user, rng.choice(camp["quizzes"]), now, rng=rng)
    elif kind == "quiz_submit":
        # Her open attempt (anyone's), submitted as the quiz page and the API do; with none open, one started
        # and submitted at once (`POST /api/v1/quizzes/<slug>/attempts`).
        attempt = db.session.scalar(sa.select(QuizAttempt).where(QuizAttempt.state == QuizAttempt.IN_PROGRESS)
                                    .order_by(QuizAttempt.id)) or quizzes.start_attempt(
            db.session, user, rng.choice(camp["quizzes"]), now, rng=rng)
        try:
            quizzes.submit_attempt(db.session, attempt, random_answers(rng, attempt), now)
        except DomainError:   # time is up: graded as it stood, as the API and the page then do
            quizzes.expire_overdue(db.session, attempt.user_id, now)
    elif kind == "quiz_expire":
        # What opening the quiz page or resuming through the API does: her attempts past their time are graded.
        attempt = db.session.scalar(sa.select(QuizAttempt).where(QuizAttempt.state == QuizAttempt.IN_PROGRESS)
                                    .order_by(QuizAttempt.id))
        quizzes.expire_overdue(db.session, attempt.user_id if attempt else user.id, now)
    elif kind == "review":
        waiting = db.session.scalar(sa.select(QuizAttempt).where(QuizAttempt.state == QuizAttempt.AWAITING_REVIEW,
                                                                 QuizAttempt.score.is_not(None)))
        if waiting:
            quizzes.review_essay(db.session, boss, waiting, "welcome", [rng.randint(0, 5), rng.randint(0, 5)], "",
                                 now)
    elif kind == "review_row":
        waiting = db.session.scalar(sa.select(QuizAttempt).where(QuizAttempt.state == QuizAttempt.AWAITING_REVIEW))
        if waiting:
            waiting.state, waiting.percent, waiting.is_passed = QuizAttempt.GRADED, 80, True
    elif kind == "task":
        # Her 打卡 as the camp page and the API send it: mostly today's, else a missed day's (补卡), with its proof.
        done = db.session.scalars(sa.select(TaskCheckin.task_id).where(TaskCheckin.user_id == user.id)).all()
        open_ = db.session.scalars(sa.select(CampTask).where(
            CampTask.day <= calendar.programme_day(user, now), CampTask.is_archived.is_(False),
            CampTask.id.not_in(done)).order_by(CampTask.day.desc())).all()
        if open_:
            task = open_[0] if rng.random() < 0.7 else rng.choice(open_)
            camp_service.submit_task_checkin(db.session, user, task, text="Done: posted it", number=3,
                                             share=rng.random() < 0.3,
                                             files=[photo_upload()] if "photo" in task.proof else [], now=now)
    elif kind == "task_row":
        day = calendar.programme_day(user, now)
        task = db.session.scalar(sa.select(CampTask).where(CampTask.day == day))
        if task and not db.session.scalar(sa.select(TaskCheckin.id).where(TaskCheckin.user_id == user.id,
                                                                            TaskCheckin.task_id == task.id)):
            db.session.add(TaskCheckin(user_id=user.id, task_id=task.id, day=today, created_at=now, updated_at=now))
    elif kind == "untask":
        done = db.session.scalar(sa.select(TaskCheckin).where(TaskCheckin.user_id == user.id))
        if done:
            db.session.delete(done)
    elif kind == "contacted":
        mentoring.mark_contacted(db.session, boss, user, "", now)
    elif kind == "login":
        authenticate(db.session, user.email, PASSWORD, "10.0.0.1", now, current_app.config)
    elif kind == "login_row":
        user.last_login_at = now    # what the WeChat and SMS logins do
    elif kind == "move":
        admin.move_user(db.session, boss, user, rng.choice(camp["cohorts"]), now)
    elif kind == "deactivate":
        admin.deactivate_user(db.session, boss, user, now)
    elif kind == "reactivate":
        admin.reactivate_user(db.session, boss, user, now)
    elif kind == "milestone":
        milestone = rng.choice(db.session.scalars(sa.select(Milestone)).all())
        milestone.target = max(1, milestone.target + rng.choice([-2000, 2000]))
    elif kind == "start":
        cohort = rng.choice(camp["cohorts"])
        cohort.start_date = cohort.start_date + timedelta(days=rng.choice([-1, 1]))
    elif kind == "content":
        # `content sync` archiving a lesson or bringing it back, with a new content version.
        lesson = rng.choice(db.session.scalars(sa.select(Lesson)).all())
        lesson.is_archived = not lesson.is_archived
        content_changed(db.session, now)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_stored_rows_equal_the_rows_worked_out_from_scratch_after_random_writes_and_time(camp, seed):
    rng = random.Random(seed)
    now = NOW
    assert_current(camp["cohorts"], now)
    for step in range(100):
        roll = rng.random()
        if roll < 0.3:
            # Time passes: a few minutes, across 18:00 or a midnight, or days at once.
            now += rng.choice([timedelta(minutes=rng.randint(1, 90)), timedelta(hours=rng.randint(1, 12)),
                               timedelta(days=rng.randint(1, 4), minutes=rng.randint(0, 600))])
        else:
            with time_machine.travel(now, tick=False):
                random_write(rng.choice(WRITES), rng, camp, now)
        if roll < 0.3 or rng.random() < 0.5:   # read now and then: several writes may gather in between
            assert_current(camp["cohorts"], now)
    assert_current(camp["cohorts"], now)


def test_a_write_marks_only_her_row_and_the_clock_the_rows_it_changes(camp):
    spring = camp["cohorts"][0]
    assert summaries.refresh(db.session, spring, NOW) == 5
    db.session.commit()
    assert summaries.refresh(db.session, spring, NOW) == 0          # all current: nothing to do
    mei = camp["people"][1]
    record_checkin(db.session, mei, {"date": "2026-05-11", "earnings": "20"}, NOW)
    db.session.commit()
    assert summaries.refresh(db.session, spring, NOW) == 1          # hers only
    db.session.commit()
    mei.name = "Renamed"                                            # names are read from her account
    db.session.commit()
    assert summaries.refresh(db.session, spring, NOW) == 0
    # NOW is 09:00 in Shanghai (four of them) and 18:00 the day before in Los Angeles (T3).
    for hour, changed in ((6, 0), (7, 1),      # her midnight in Los Angeles: her new programme day
                          (9, 0), (10, 4),     # 18:00 in Shanghai: today's task is missing
                          (15, 0), (16, 4)):   # midnight in Shanghai
        assert summaries.refresh(db.session, spring, datetime(2026, 5, 12, hour, 0, 1, tzinfo=UTC)) == changed, hour
        db.session.commit()


def test_reading_a_current_table_writes_nothing_and_reads_as_many_queries_for_any_size(app, camp):
    spring = camp["cohorts"][0]
    summaries.refresh(db.session, spring, NOW)
    db.session.commit()
    query = summaries.DashboardQuery(sort="earnings")
    assert spring.name  # loaded, as on a page
    with count_queries() as n:
        assert summaries.refresh(db.session, spring, NOW) == 0
        page = summaries.page(db.session, spring, query, NOW)
    # Out of date? Counts; the page; the milestones, quizzes and lessons its rows name.
    assert page.all_count == 5 and n() == 6


# --- each way a write arrives ---------------------------------------------------------------------------------------

def _lesson(n: int):
    """The course's and the lesson's slugs of the n-th lesson (she did the first the day before)."""
    lesson = db.session.scalars(sa.select(Lesson).where(Lesson.is_archived.is_(False)).order_by(Lesson.id)).all()[n]
    return lesson.course.slug, lesson.slug


def _api_quiz(client, headers):
    started = client.post("/api/v1/quizzes/sample/start", headers=headers)
    assert started.status_code == 201, started.text
    attempt = db.session.get(QuizAttempt, started.json["id"])
    return client.post(f"/api/v1/attempts/{attempt.id}/submit", headers=headers,
                       json={"answers": {q["id"]: grading.correct_answer(q) for q in attempt.questions
                                         if q["type"] != "description"}})


def _shop_hook(client, camp, mei):
    shop, stamp = camp["shop"], str(int(NOW.timestamp()))
    body = json.dumps({"order_id": "A1", "event": "paid", "mobile": mei.mobile, "commission": "12.50",
                       "occurred_at": NOW.isoformat()}).encode()
    return client.post("/api/v1/hooks/orders", data=body, headers={
        "Content-Type": "application/json", "X-Shop-Id": shop.key, "X-Timestamp": stamp,
        "X-Signature": shops.sign(shop.secret, stamp, body)})


# Each write a trainee, a shop or the web makes, through its real endpoint (NOW: day 3, 09:00 in Shanghai).
WAYS = {
    "api today's 打卡": lambda c, h, camp, mei: c.post("/api/v1/today/checkins", headers=h,
                                                       json={"text": "Posted it", "number": 3}),
    "api 补卡 of day 1": lambda c, h, camp, mei: c.post("/api/v1/today/checkins", headers=h, json={
        "task_key": db.session.scalar(sa.select(CampTask.key).where(CampTask.day == 1)), "text": "late", "number": 3}),
    "api check-in": lambda c, h, camp, mei: c.post("/api/v1/checkins", headers=h,
                                                   json={"date": "2026-05-12", "earnings": "12.00"}),
    "api correction": lambda c, h, camp, mei: c.put("/api/v1/checkins/2026-05-11", headers=h,
                                                    json={"earnings": "30.00"}),
    "api lesson done": lambda c, h, camp, mei: c.put("/api/v1/courses/{}/lessons/{}/done".format(*_lesson(1)),
                                                     headers=h),
    "api lesson not done": lambda c, h, camp, mei: c.delete(
        "/api/v1/courses/{}/lessons/{}/done".format(*_lesson(0)), headers=h),
    "api quiz in steps": lambda c, h, camp, mei: _api_quiz(c, h),
    "api quiz at once": lambda c, h, camp, mei: c.post("/api/v1/quizzes/writing/attempts", headers=h, json={
        "answers": {q["id"]: "Hello! What do you sell?" if q["type"] == "essay" else grading.correct_answer(q)
                    for q in camp["quizzes"][1].questions}}),
    "shop order event": lambda c, h, camp, mei: _shop_hook(c, camp, mei),
    "web check-in": lambda c, h, camp, mei: c.post("/checkin", data={"date": "2026-05-12", "earnings": "8"}),
    "web lesson done": lambda c, h, camp, mei: c.post("/courses/{}/{}/done".format(*_lesson(1))),
    "web 打卡": lambda c, h, camp, mei: c.post(
        f"/today/{camp_service.today(db.session, mei, NOW).task.key}", data={"text": "Posted it", "number": "3"}),
}


@pytest.mark.parametrize("way", list(WAYS))
def test_each_way_a_write_arrives_marks_her_row_and_only_hers(app, camp, way):
    spring, mei = camp["cohorts"][0], camp["people"][1]
    with time_machine.travel(NOW, tick=False):
        record_checkin(db.session, mei, {"date": "2026-05-11", "earnings": "20"}, NOW)
        learning.mark_lesson_done(db.session, mei, db.session.scalar(sa.select(Lesson).order_by(Lesson.id)),
                                  NOW - timedelta(days=1))
        db.session.commit()
        headers = api_headers(mei)
        client = app.test_client()
        assert login(client, mei.email).status_code == 302       # a login is a write of hers too
        assert summaries.refresh(db.session, spring, NOW) == 5
        db.session.commit()
        response = WAYS[way](client, headers, camp, mei)
        assert response.status_code in (200, 201, 302), response.text
        assert summaries.refresh(db.session, spring, NOW) == 1
        db.session.commit()
    assert_current([spring], NOW)


def test_a_login_marks_her_row(app, camp):
    spring, mei = camp["cohorts"][0], camp["people"][1]
    with time_machine.travel(NOW, tick=False):
        summaries.refresh(db.session, spring, NOW)
        db.session.commit()
        assert login(app.test_client(), mei.email).status_code == 302
        assert summaries.refresh(db.session, spring, NOW) == 1
        db.session.commit()
    assert stored_rows(spring)[mei.id]["last_active_at"] == NOW


def test_no_row_is_worked_out_from_an_older_content_than_the_database_s(make_app, app, camp):
    """Another process's `content sync` commits while this one's content snapshot is still within its check
    interval: the refresh checks the content version first, so no row gets the new epoch with the old lessons."""
    spring = camp["cohorts"][0]
    slow = make_app(CONTENT_CHECK_SECONDS=3600)
    with slow.app_context():
        summaries.refresh(db.session, spring, NOW)
        db.session.commit()
        before = db.session.scalar(sa.select(TraineeSummary.lessons_total).limit(1))
        db.session.remove()
    lesson = db.session.scalar(sa.select(Lesson).where(Lesson.is_archived.is_(False)).order_by(Lesson.id.desc()))
    lesson.is_archived = True                       # what `content sync` does in the other process
    content_changed(db.session, NOW)
    db.session.commit()
    with slow.app_context():
        assert summaries.refresh(db.session, spring, NOW) == 5
        db.session.commit()
        assert set(db.session.scalars(sa.select(TraineeSummary.lessons_total))) == {before - 1}
        db.session.remove()


# --- bulk actions from the table -----------------------------------------------------------------------------------

@pytest.fixture
def team(camp):
    spring = camp["cohorts"][0]
    mentor = make_user("mentor@example.com", Role.MENTOR, spring, name="王老师", locale="en")
    return {"spring": spring, "mentor": mentor, "mine": camp["people"][:5], "other": camp["people"][5]}


def bulk(client, cohort_id, action, ids, body="hello"):
    return client.post(f"/cohorts/{cohort_id}/bulk", data={"action": action, "body": body,
                                                           "trainee": [str(i) for i in ids]})


def audit() -> list[tuple[str, str]]:
    return [(e.action, e.target) for e in db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id))]


@pytest.mark.parametrize("action, audited, model", [
    ("nudge", "trainee.nudge", InboxMessage), ("note", "trainee.note", MentorNote),
    ("contacted", "trainee.contacted", MentorNote)])
def test_a_bulk_action_reaches_each_selected_trainee_and_is_audited_for_each(app, team, action, audited, model):
    with time_machine.travel(NOW, tick=False):
        client = client_as(app, team["mentor"])
        picked = [p.id for p in team["mine"][:3]]
        response = bulk(client, team["spring"].id, action, picked)
        assert response.status_code == 302 and response.location.endswith(f"/cohorts/{team['spring'].id}/dashboard")
    assert audit() == [(audited, f"user:{i}") for i in picked]
    owner = InboxMessage.recipient_id if model is InboxMessage else MentorNote.trainee_id
    assert sorted(db.session.scalars(sa.select(owner))) == picked


def test_contacted_in_bulk_takes_them_off_the_attention_list(app, team):
    with time_machine.travel(NOW + timedelta(days=2), tick=False):   # day 5: everyone is behind and quiet
        client = client_as(app, team["mentor"])
        attention = f"/cohorts/{team['spring'].id}/attention"
        before = client.get(attention).text
        assert all(f'data-trainee="{p.id}"' in before for p in team["mine"])
        bulk(client, team["spring"].id, "contacted", [p.id for p in team["mine"][:2]], body="")
        after = client.get(attention).text
        assert [f'data-trainee="{p.id}"' in after for p in team["mine"]] == [False, False, True, True, True]


@pytest.mark.parametrize("ids", ["other", "mentor", "missing"])
def test_a_bulk_action_with_anyone_not_of_the_cohort_is_refused_whole(app, team, ids):
    client = client_as(app, team["mentor"])
    stranger = {"other": team["other"].id, "mentor": team["mentor"].id, "missing": 999_999}[ids]
    assert bulk(client, team["spring"].id, "nudge", [team["mine"][0].id, stranger]).status_code == 404
    assert audit() == [] and db.session.scalar(sa.select(sa.func.count(InboxMessage.id))) == 0


def test_a_bulk_action_needs_a_selection_an_action_and_for_a_nudge_words(app, team):
    client = client_as(app, team["mentor"])
    spring, first = team["spring"].id, team["mine"][0].id
    for response in (bulk(client, spring, "nudge", []), bulk(client, spring, "delete", [first]),
                     bulk(client, spring, "nudge", [first], body="  ")):
        assert response.status_code == 302
    assert audit() == [] and db.session.scalar(sa.select(sa.func.count(InboxMessage.id))) == 0


def test_another_cohort_s_mentor_or_a_trainee_cannot_act_in_bulk(app, team):
    autumn_mentor = make_user("autumn@example.com", Role.MENTOR, team["other"].cohort, name="Other")
    for user in (autumn_mentor, team["mine"][1]):
        client = client_as(app, user)
        assert bulk(client, team["spring"].id, "nudge", [team["mine"][0].id]).status_code == 404
    assert audit() == []


def test_the_table_offers_to_select_everyone_on_the_page(app, team):
    with time_machine.travel(NOW, tick=False):
        client = client_as(app, team["mentor"])
        html = client.get(f"/cohorts/{team['spring'].id}/dashboard?sort=name").text
        assert sorted(card_ids(html)) == sorted(p.id for p in team["mine"]) and 'form="bulk-form" checked' not in html
        assert 'id="pick-all"' in html and 'name="csrf_token"' in html
        picked = client.get(f"/cohorts/{team['spring'].id}/dashboard?sort=name&all=1").text
        assert picked.count('form="bulk-form" checked') == 5
