"""The mentor's table as a read model (app/cohorts/summaries.py): after any sequence of writes and of time
passing, the stored rows the pages read equal the rows worked out from scratch by the rules
(app/cohorts/dashboard.py); and the table's bulk actions (nudge, note, contacted) are audited and refused
for anyone not of the cohort.
"""
import random
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from app.core.access import Role
from app.camp.models import CampTask, TaskCheckin
from app.checkins.models import Checkin, Milestone
from app.checkins.service import record_checkin
from app.cohorts import dashboard, mentoring, summaries
from app.cohorts.models import MentorNote, TraineeSummary
from app.core import calendar
from app.core.audit import AuditEntry
from app.core.members import active_trainees_of
from app.extensions import db
from app.learning import service as learning
from app.learning.models import Lesson, LessonProgress
from app.quizzes.models import QuizAttempt
from app.reminders.models import InboxMessage
from tests.conftest import count_queries, make_cohort, make_user
from tests.quiz_helpers import load_test_quizzes
from tests.test_dashboard import as_user, card_ids

UTC = timezone.utc
START = date(2026, 5, 10)
NOW = datetime(2026, 5, 12, 1, 0, tzinfo=UTC)     # 09:00 in Shanghai, day 3
BOOKKEEPING = ("computed_at", "version", "epoch")


def stored(cohort) -> dict[int, dict]:
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
        got = stored(cohort)
        assert got.keys() == expected.keys()
        for user_id, row in expected.items():
            assert got[user_id] == row, (user_id, {k: (got[user_id][k], v) for k, v in row.items()
                                                   if got[user_id][k] != v})


@pytest.fixture
def camp(synced):
    sample, writing = load_test_quizzes()
    spring, autumn = make_cohort("Spring", "SPRING", START), make_cohort("Autumn", "AUTUMN", START - timedelta(days=4))
    people = []
    for n in range(8):
        user = make_user(f"t{n}@example.com", cohort=spring if n < 5 else autumn, name=f"T{n}",
                         timezone="America/Los_Angeles" if n == 3 else "Asia/Shanghai")
        user.created_at = datetime(2026, 5, 1, tzinfo=UTC)
        people.append(user)
    db.session.commit()
    return {"cohorts": [spring, autumn], "people": people, "quizzes": [sample, writing]}


WRITES = ("checkin", "correct", "bulk_checkin", "lesson_done", "lesson_undone", "lesson_open", "quiz", "review",
          "task", "untask", "contacted", "login", "move", "deactivate", "reactivate", "milestone", "start")


def write(kind: str, rng: random.Random, camp: dict, now: datetime) -> None:
    """One write of the given kind by the services (or as a bulk statement), for a random trainee."""
    user = rng.choice(camp["people"])
    today = calendar.local_today(user, now)
    start = calendar.programme_start(user)
    days = [start + timedelta(days=k) for k in range(max(0, (today - start).days) + 1)]
    lessons = db.session.scalars(sa.select(Lesson).where(Lesson.is_archived.is_(False))).all()
    if kind in ("checkin", "correct") and days:
        record_checkin(db.session, user, {"date": rng.choice(days).isoformat(), "earnings": str(rng.randint(0, 90)),
                                          "group_members": rng.choice(["", "40", "120"]), "orders": rng.randint(0, 5),
                                          "active_members": rng.choice(["", "10"])},
                       now, source="import")
    elif kind == "bulk_checkin" and days:
        day = rng.choice(days)
        if not db.session.scalar(sa.select(Checkin.id).where(Checkin.user_id == user.id, Checkin.day == day)):
            db.session.execute(sa.insert(Checkin), [{"user_id": user.id, "day": day, "earnings_fen": 5000,
                                                     "note": "", "source": "import", "created_at": now,
                                                     "updated_at": now}])
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
    elif kind == "review":
        waiting = db.session.scalar(sa.select(QuizAttempt).where(QuizAttempt.state == QuizAttempt.AWAITING_REVIEW))
        if waiting:
            waiting.state, waiting.percent, waiting.is_passed = QuizAttempt.GRADED, 80, True
    elif kind == "task":
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
        mentoring.mark_contacted(db.session, camp["people"][0], user, "", now)
    elif kind == "login":
        user.last_login_at = now
    elif kind == "move":
        user.cohort = rng.choice(camp["cohorts"])
    elif kind == "deactivate":
        user.is_active = False
    elif kind == "reactivate":
        user.is_active = True
    elif kind == "milestone":
        milestone = rng.choice(db.session.scalars(sa.select(Milestone)).all())
        milestone.target = max(1, milestone.target + rng.choice([-2000, 2000]))
    elif kind == "start":
        cohort = rng.choice(camp["cohorts"])
        cohort.start_date = cohort.start_date + timedelta(days=rng.choice([-1, 1]))
    db.session.commit()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_stored_rows_equal_the_rows_worked_out_from_scratch_after_random_writes_and_time(camp, seed):
    rng = random.Random(seed)
    now = NOW
    assert_current(camp["cohorts"], now)
    for step in range(45):
        roll = rng.random()
        if roll < 0.3:
            # Time passes: a few minutes, across 18:00 or a midnight, or days at once.
            now += rng.choice([timedelta(minutes=rng.randint(1, 90)), timedelta(hours=rng.randint(1, 12)),
                               timedelta(days=rng.randint(1, 4), minutes=rng.randint(0, 600))])
        else:
            with time_machine.travel(now, tick=False):
                write(rng.choice(WRITES), rng, camp, now)
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
        client = as_user(app, team["mentor"])
        picked = [p.id for p in team["mine"][:3]]
        response = bulk(client, team["spring"].id, action, picked)
        assert response.status_code == 302 and response.location.endswith(f"/cohorts/{team['spring'].id}/dashboard")
    assert audit() == [(audited, f"user:{i}") for i in picked]
    owner = InboxMessage.recipient_id if model is InboxMessage else MentorNote.trainee_id
    assert sorted(db.session.scalars(sa.select(owner))) == picked


def test_contacted_in_bulk_takes_them_off_the_attention_list(app, team):
    with time_machine.travel(NOW + timedelta(days=2), tick=False):   # day 5: everyone is behind and quiet
        client = as_user(app, team["mentor"])
        attention = f"/cohorts/{team['spring'].id}/attention"
        before = client.get(attention).text
        assert all(f'data-trainee="{p.id}"' in before for p in team["mine"])
        bulk(client, team["spring"].id, "contacted", [p.id for p in team["mine"][:2]], body="")
        after = client.get(attention).text
        assert [f'data-trainee="{p.id}"' in after for p in team["mine"]] == [False, False, True, True, True]


@pytest.mark.parametrize("ids", ["other", "mentor", "missing"])
def test_a_bulk_action_with_anyone_not_of_the_cohort_is_refused_whole(app, team, ids):
    client = as_user(app, team["mentor"])
    stranger = {"other": team["other"].id, "mentor": team["mentor"].id, "missing": 999_999}[ids]
    assert bulk(client, team["spring"].id, "nudge", [team["mine"][0].id, stranger]).status_code == 404
    assert audit() == [] and db.session.scalar(sa.select(sa.func.count(InboxMessage.id))) == 0


def test_a_bulk_action_needs_a_selection_an_action_and_for_a_nudge_words(app, team):
    client = as_user(app, team["mentor"])
    spring, first = team["spring"].id, team["mine"][0].id
    for response in (bulk(client, spring, "nudge", []), bulk(client, spring, "delete", [first]),
                     bulk(client, spring, "nudge", [first], body="  ")):
        assert response.status_code == 302
    assert audit() == [] and db.session.scalar(sa.select(sa.func.count(InboxMessage.id))) == 0


def test_another_cohort_s_mentor_or_a_trainee_cannot_act_in_bulk(app, team):
    autumn_mentor = make_user("autumn@example.com", Role.MENTOR, team["other"].cohort, name="Other")
    for user in (autumn_mentor, team["mine"][1]):
        client = as_user(app, user)
        assert bulk(client, team["spring"].id, "nudge", [team["mine"][0].id]).status_code == 404
    assert audit() == []


def test_the_table_offers_to_select_everyone_on_the_page(app, team):
    with time_machine.travel(NOW, tick=False):
        client = as_user(app, team["mentor"])
        html = client.get(f"/cohorts/{team['spring'].id}/dashboard?sort=name").text
        assert sorted(card_ids(html)) == sorted(p.id for p in team["mine"]) and 'form="bulk-form" checked' not in html
        assert 'id="pick-all"' in html and 'name="csrf_token"' in html
        picked = client.get(f"/cohorts/{team['spring'].id}/dashboard?sort=name&all=1").text
        assert picked.count('form="bulk-form" checked') == 5
