"""The camp's rules at their boundaries: unlock time in her time zone, 补卡, streaks, the calendar, rankings."""
import itertools
from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from app.accounts.models import User
from app.core.access import Role
from app.camp import service
from app.camp.models import CampTask, Photo, TaskCheckin
from app.camp.service import record_task_checkin
from app.checkins.models import Checkin
from app.extensions import db
from app.core.errors import DomainError
from tests.conftest import count_queries, make_cohort, make_user
from tests.factories import SHANGHAI, START, at, camp_task, make_trainee, on, programme_date

UTC = timezone.utc
LA = "America/Los_Angeles"
_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def refusals_in_english(app):
    """Refusals are read in English here (the Chinese ones are checked by test_translations)."""
    with force_locale("en"):
        yield


def proof_for(t: CampTask) -> dict:
    """A complete proof for the task (photos: rows saved as app.camp.photos would)."""
    return {"text": "做完了" if "text" in t.proof else "", "number": 12 if "number" in t.proof else None}


def do(user, n: int, now: datetime, **extra):
    t = camp_task(n)
    photos = [photo_row(user)] if "photo" in t.proof else []
    checkin = record_task_checkin(db.session, user, t, **{**proof_for(t), "photos": photos, "share": False,
                                                          "now": now, **extra})
    db.session.commit()
    return checkin


def photo_row(user) -> Photo:
    photo = Photo(user_id=user.id, storage_key=f"test/{next(_numbers)}.jpg", width=10, height=10, size=100)
    db.session.add(photo)
    db.session.flush()
    return photo


@pytest.fixture
def mei(synced):
    return make_trainee(tz=SHANGHAI)


# --- the plan and unlocking ------------------------------------------------------------------------------

def test_the_plan_has_the_first_week_day_by_day_and_the_month_milestones(synced):
    days = [t.day for t in service.plan(db.session)]
    assert days[:7] == [1, 2, 3, 4, 5, 6, 7] and {10, 14, 21, 30} <= set(days)
    assert service.camp_rules(db.session) == service.CampRules()  # 08:00, 1 a week, 48 hours


@pytest.mark.parametrize("tz", [SHANGHAI, LA])
def test_a_task_opens_at_eight_in_her_own_time_zone(synced, tz):
    she = make_trainee(tz=tz)
    first = camp_task(1)
    assert not service.unlocked(first, she, on(1, "07:59:59", tz))
    assert service.unlocked(first, she, on(1, "08:00", tz))
    state = service.today(db.session, she, on(1, "07:59:59", tz))
    assert (state.programme_day, state.task.key, state.is_unlocked, state.is_done) == (1, first.key, False, False)
    assert state.unlocks_at == on(1, "08:00", tz) and state.next_task.day == 2
    with pytest.raises(DomainError, match="opens on 2026-05-04 at 08:00"):
        do(she, 1, on(1, "07:59:59", tz))
    assert service.today(db.session, she, on(1, "08:00", tz)).is_unlocked


def test_at_one_instant_a_task_is_open_in_shanghai_and_still_locked_in_los_angeles(synced):
    cohort = make_cohort("Both coasts", "COASTS", START)
    mei, ana = make_trainee(cohort=cohort, tz=SHANGHAI), make_trainee(cohort=cohort, tz=LA)
    now = datetime(2026, 5, 5, 10, 0, tzinfo=UTC)  # 18:00 on day 2 in Shanghai, 03:00 on day 2 in LA
    assert service.unlocked(camp_task(2), mei, now) and not service.unlocked(camp_task(2), ana, now)
    assert service.today(db.session, mei, now).is_unlocked and not service.today(db.session, ana, now).is_unlocked


def test_a_future_task_is_refused_and_listed_as_coming_with_its_unlock_time(mei):
    with pytest.raises(DomainError, match="Day 3's task opens on 2026-05-06 at 08:00"):
        do(mei, 3, on(1, "20:00"))
    upcoming = service.today(db.session, mei, on(1, "20:00")).upcoming
    assert [u.task.day for u in upcoming][:3] == [2, 3, 4] and upcoming[1].unlocks_at == on(3, "08:00")


def test_before_her_start_there_is_no_task_and_everything_is_coming(mei):
    state = service.today(db.session, mei, at("2026-05-02 12:00"))
    assert (state.programme_day, state.task, state.next_task.day, state.start) == (-1, None, 1, START)


def test_a_day_without_a_task_has_none_and_points_to_the_next(mei):
    state = service.today(db.session, mei, on(8, "20:00"))
    assert (state.task, state.next_task.day, state.is_unlocked) == (None, 10, False)


# --- the 打卡 and its proof ----------------------------------------------------------------------------------

def test_an_on_time_check_in_is_stored_once(mei):
    checkin = do(mei, 1, on(1, "20:00"), text="邀请了8个人", share=True)
    assert (checkin.day, checkin.number, checkin.text, checkin.is_makeup, checkin.is_shared) == (
        programme_date(1), 12, "邀请了8个人", False, True)
    assert service.today(db.session, mei, on(1, "21:00")).is_done
    with pytest.raises(DomainError, match="already checked in for day 1"):
        do(mei, 1, on(1, "21:00"))


@pytest.mark.parametrize("n, values, field", [
    (1, {"number": None}, "number"),             # day 1 asks for a number
    (1, {"number": "many"}, "number"),
    (1, {"number": "-3"}, "number"),
    (1, {"number": 2_000_000}, "number"),
    (3, {"text": "   "}, "text"),               # day 3 asks for a few lines
    (3, {"text": "字" * 2001}, "text"),
    (11, {"photos": []}, "photos"),             # day 11 asks for a photo
])
def test_missing_or_bad_proof_is_refused_naming_the_field(mei, n, values, field):
    with pytest.raises(DomainError) as refused:
        do(mei, n, on(n, "20:00"), **values)
    assert set(refused.value.fields) == {field}
    assert db.session.scalar(sa.select(sa.func.count(TaskCheckin.id))) == 0


def test_numbers_are_read_as_typed(mei):
    assert do(mei, 1, on(1, "20:00"), number=" 1,200 ").number == 1200
    assert do(mei, 5, on(5, "20:00"), number="0").number == 0  # nobody joined the first 接龙 yet: that is a finding


def test_up_to_three_photos_are_attached_to_her_check_in(mei):
    photos = [photo_row(mei) for _ in range(3)]
    checkin = do(mei, 4, on(4, "20:00"), photos=photos)
    assert [p.checkin_id for p in photos] == [checkin.id] * 3
    db.session.expire_all()
    assert len(db.session.get(TaskCheckin, checkin.id).photos) == 3


def test_a_fourth_photo_or_someone_else_s_is_refused(mei, synced):
    with pytest.raises(DomainError) as refused:
        do(mei, 4, on(4, "20:00"), photos=[photo_row(mei) for _ in range(4)])
    assert set(refused.value.fields) == {"photos"}
    db.session.rollback()
    other = make_trainee(tz=SHANGHAI)
    with pytest.raises(DomainError):
        do(mei, 4, on(4, "20:00"), photos=[photo_row(other)])


# --- 补卡: within 48 hours, once a programme week ---------------------------------------------------------------

def test_a_missed_day_can_be_made_up_until_48_hours_after_it_ended(mei):
    # Day 1 ends at midnight into day 2 (her time): the window closes at midnight into day 4.
    assert service.makeup_deadline(camp_task(1), mei, service.CampRules()) == on(4, "00:00")
    with pytest.raises(DomainError, match="can no longer be made up"):
        do(mei, 1, on(4, "00:00:01"))
    checkin = do(mei, 1, on(4, "00:00"))
    assert checkin.is_makeup and checkin.day == programme_date(1)


def test_a_make_up_just_after_midnight_counts_for_the_missed_day(mei):
    checkin = do(mei, 1, on(2, "00:30"))
    assert checkin.is_makeup and checkin.day == programme_date(1)


@pytest.mark.parametrize("tz", [SHANGHAI, LA])
def test_the_window_is_counted_from_her_own_midnight(synced, tz):
    she = make_trainee(tz=tz)
    assert do(she, 2, on(4, "23:59:59", tz)).is_makeup
    she = make_trainee(tz=tz)
    with pytest.raises(DomainError, match="closed on 2026-05-08 at 00:00"):
        do(she, 2, on(5, "00:00:01", tz))


def test_one_make_up_a_programme_week_then_the_next_week_brings_a_new_one(mei):
    assert service.makeup_left(db.session, mei, on(3, "20:00")) == 1
    do(mei, 1, on(2, "09:00"))                      # week 1's make-up
    assert service.makeup_left(db.session, mei, on(3, "20:00")) == 0
    with pytest.raises(DomainError, match="used this week's make-ups"):
        do(mei, 2, on(3, "09:00"))
    assert service.today(db.session, mei, on(3, "20:00")).makeups == []
    # Day 8 starts week 2: day 7, missed, may be made up again.
    assert service.makeup_left(db.session, mei, on(8, "20:00")) == 1
    assert [m.task.day for m in service.today(db.session, mei, on(8, "20:00")).makeups] == [6, 7]
    assert do(mei, 7, on(8, "20:00")).is_makeup
    with pytest.raises(DomainError, match="used this week's make-ups"):
        do(mei, 6, on(8, "21:00"))


def test_today_lists_the_days_she_may_still_make_up_with_their_deadline(mei):
    state = service.today(db.session, mei, on(3, "12:00"))
    assert [(m.task.day, m.unlocks_at) for m in state.makeups] == [(1, on(4, "00:00")), (2, on(5, "00:00"))]
    assert state.makeup_left == 1


# --- streaks and the calendar ---------------------------------------------------------------------------------

def test_streaks_count_task_days_in_a_row_made_up_days_included(mei):
    do(mei, 1, on(1, "20:00"))
    do(mei, 2, on(2, "20:00"))
    # day 3 missed for good
    do(mei, 4, on(4, "20:00"))
    do(mei, 5, on(6, "09:00"))                       # made up on day 6
    assert service.streak(db.session, mei, on(6, "10:00")) == (2, 2)   # today (6) not done yet: no break
    do(mei, 6, on(6, "11:00"))
    assert service.streak(db.session, mei, on(6, "12:00")) == (3, 3)
    do(mei, 7, on(7, "20:00"))
    assert service.streak(db.session, mei, on(9, "20:00")) == (4, 4)             # days 8 and 9 have no task
    assert service.streak(db.session, mei, on(10, "20:00")) == (4, 4)            # day 10 not done yet
    assert service.streak(db.session, mei, on(11, "20:00")) == (0, 4)            # day 10 missed


def test_the_calendar_marks_each_day_of_the_month(mei):
    do(mei, 1, on(1, "20:00"))
    do(mei, 2, on(3, "09:00"))                       # made up
    now = on(6, "12:00")                             # day 3 missed and closed, day 5 missed and open
    grid = service.calendar(db.session, mei, now)
    assert grid.month == date(2026, 5, 1)
    assert grid.weeks[0][:4] == [None] * 4 and grid.weeks[0][4].date == date(2026, 5, 1)  # Monday first
    states = {d.date: d.state for d in grid.days}
    assert [states[programme_date(n)] for n in range(1, 11)] == [
        "done", "made_up", "missed", "missed", "missed", "today", "locked", "none", "none", "locked"]
    assert states[date(2026, 5, 1)] == "none"
    assert not any(d.can_make_up for d in grid.days)   # this week's make-up is used
    assert (grid.streak, grid.makeup_left) == ((0, 2), 0)   # days 3 to 5 missed
    assert (grid.previous, grid.following) == (date(2026, 4, 1), date(2026, 6, 1))
    today = next(d for d in grid.days if d.is_today)
    assert (today.date, today.programme_day, today.task.day) == (programme_date(6), 6, 6)


def test_the_calendar_offers_a_make_up_where_one_is_still_possible(mei):
    grid = service.calendar(db.session, mei, on(6, "12:00"))
    assert [d.programme_day for d in grid.days if d.can_make_up] == [4, 5]


def test_another_month_of_the_calendar(mei):
    grid = service.calendar(db.session, mei, on(6, "20:00"), date(2026, 6, 15))
    assert grid.month == date(2026, 6, 1)
    assert {d.date: d.state for d in grid.days if d.task} == {programme_date(30): "locked"}


def test_the_calendar_reads_a_bounded_number_of_queries(mei):
    for n in range(1, 8):
        do(mei, n, on(n, "20:00"))
    db.session.expire_all()
    assert mei.cohort.start_date == START  # she is loaded, as on a page
    with count_queries() as queries:
        service.calendar(db.session, mei, on(12, "20:00"))
    assert queries() == 3   # the rules, the plan, her 打卡


# --- rankings ----------------------------------------------------------------------------------------------------

def camp_member(cohort, name: str, shares: bool = False) -> User:
    user = User(name=name, email=f"{name.lower()}{next(_numbers)}@example.com", password_hash="x",
                role=Role.TRAINEE, cohort=cohort, timezone=SHANGHAI, shares_earnings=shares,
                created_at=datetime(2026, 4, 1, tzinfo=UTC))
    db.session.add(user)
    db.session.flush()
    return user


def done(user, days: list[int], makeup: bool = False) -> None:
    for n in days:
        db.session.add(TaskCheckin(user_id=user.id, task_id=camp_task(n).id, day=programme_date(n), is_makeup=makeup,
                                   created_at=on(n, "20:00"), updated_at=on(n, "20:00")))


def earned(user, n: int, yuan: int) -> None:
    db.session.add(Checkin(user_id=user.id, day=programme_date(n), earnings_fen=yuan * 100, created_at=on(n, "20:00"),
                           updated_at=on(n, "20:00")))


@pytest.fixture
def team(synced):
    cohort = make_cohort("Spring", "SPRING", START)
    ann, bo, cy, di = (camp_member(cohort, "Ann", shares=True), camp_member(cohort, "Bo"), camp_member(cohort, "Cy", shares=True),
                       camp_member(cohort, "Di"))
    done(ann, [1, 2, 3, 4, 5, 6, 7, 10])
    done(bo, [1, 10])            # day 10 is in week 2
    done(cy, [1, 2, 10])
    earned(ann, 2, 30)
    earned(ann, 10, 12)
    earned(bo, 10, 99)
    earned(cy, 10, 5)
    mentor = make_user("mentor@example.com", Role.MENTOR, cohort)   # not ranked
    other = make_cohort("Autumn", "AUTUMN", START)
    done(camp_member(other, "Zed"), [1, 2, 3])
    db.session.commit()
    return {"cohort": cohort, "ann": ann, "bo": bo, "cy": cy, "di": di, "mentor": mentor}


def table(rows) -> list[tuple]:
    return [(r.rank, r.name, r.tasks_done, r.streak, r.earnings_fen) for r in rows]


def test_overall_rankings_by_tasks_then_streak_without_earnings_unless_the_cohort_shows_them(team):
    rows = service.rankings(db.session, team["cohort"], on(11, "20:00"), "all")
    assert table(rows) == [(1, "Ann", 8, 8, None), (2, "Cy", 3, 1, None), (3, "Bo", 2, 1, None),
                           (4, "Di", 0, 0, None)]


def test_earnings_only_for_members_who_share_them_when_the_cohort_ranks_by_earnings(team):
    team["cohort"].rank_by_earnings = True
    db.session.commit()
    assert table(service.rankings(db.session, team["cohort"], on(11, "20:00"), "all")) == [
        (1, "Ann", 8, 8, 4200), (2, "Cy", 3, 1, 500), (3, "Bo", 2, 1, None), (4, "Di", 0, 0, None)]


def test_weekly_rankings_count_this_camp_week_and_ties_share_a_rank(team):
    team["cohort"].rank_by_earnings = True
    db.session.commit()
    rows = service.rankings(db.session, team["cohort"], on(11, "20:00"), "week")   # week 2: days 8 to 14
    assert service.cohort_week(team["cohort"], on(11, "20:00")) == (programme_date(8), programme_date(14))
    assert table(rows) == [(1, "Ann", 1, 8, 1200), (2, "Bo", 1, 1, None), (2, "Cy", 1, 1, 500),
                           (4, "Di", 0, 0, None)]


def test_an_unknown_period_is_a_programming_error(team):
    with pytest.raises(ValueError):
        service.rankings(db.session, team["cohort"], on(11, "20:00"), "month")


def crowded_cohort(size: int):
    cohort = make_cohort(f"Crowd {size}", f"CROWD{size}", START)
    cohort.rank_by_earnings = True
    for i in range(size):
        user = camp_member(cohort, f"T{i:02d}", shares=i % 2 == 0)
        done(user, [n for n in range(1, 8) if (n + i) % 3], makeup=False)
        earned(user, 2, i)
    db.session.commit()
    db.session.expire_all()
    return db.session.get(type(cohort), cohort.id)


def test_rankings_and_the_calendar_read_as_many_queries_for_50_trainees_as_for_5(synced):
    counts = []
    for size in (5, 50):
        cohort = crowded_cohort(size)
        member = db.session.scalar(sa.select(User).where(User.cohort_id == cohort.id))
        with count_queries() as queries:
            for period in service.PERIODS:
                assert len(service.rankings(db.session, cohort, on(9, "20:00"), period)) == size
            service.calendar(db.session, member, on(9, "20:00"))
        counts.append(queries())
    assert counts[0] == counts[1] <= 12, counts

