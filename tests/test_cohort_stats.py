"""Cohort numbers: exact figures on a small hand-made cohort, access, constant queries, a clean page."""
import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import time_machine

from app.core.access import Role
from app.checkins.models import Checkin
from app.cohorts import stats
from app.content.sync import SyncReport, sync_quizzes
from app.database import utcnow
from app.demo.scale import seed_scale
from app.extensions import db
from app.learning.models import Course, Lesson, LessonProgress
from app.quizzes.models import QuizAttempt
from app.core.members import trainee_count
from tests.conftest import count_queries, login, make_cohort, make_user
from tests.quiz_helpers import load_test_quizzes

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 7, 12, 0, tzinfo=SHANGHAI).astimezone(timezone.utc)  # day 35 of the cohort
START = date(2026, 5, 4)
XSS = "<script>alert(1)</script>"


def registered(user, days_after_start: int):
    """She registered that many days after the cohort's start (negative: before it)."""
    user.created_at = datetime.combine(START + timedelta(days=days_after_start), datetime.min.time().replace(hour=10),
                                       SHANGHAI)
    return user


def checkin(user, start: date, day: int, yuan: str = "0", **counts):
    fen = int(round(float(yuan) * 100))
    db.session.add(Checkin(user_id=user.id, day=start + timedelta(days=day - 1), earnings_fen=fen, **counts))


def add_attempt(user, quiz, number: int, state: str, passed: bool | None = None):
    db.session.add(QuizAttempt(user_id=user.id, quiz_id=quiz.id, number=number, state=state, questions=[],
                               is_passed=passed if state == QuizAttempt.GRADED else None,
                               percent=(100.0 if passed else 10.0) if state == QuizAttempt.GRADED else None,
                               started_at=NOW - timedelta(days=3)))


def lessons_in_order():
    return db.session.scalars(sa.select(Lesson).join(Lesson.course).where(Lesson.is_archived.is_(False))
                              .order_by(Course.position, Lesson.position)).all()


@pytest.fixture
def small(app, synced):
    """Five active trainees of a cohort on its day 35, one inactive, and an outsider, all known by heart.

    A  ¥100 by day 7 exactly, ¥1,000 by day 30 exactly, 150 members on day 20; passes the sample quiz.
    B  ¥99.99 by day 7 and 1 fen on day 8 (misses week one by a fen); fails the sample quiz twice.
    C  ¥5 on day 1, then nothing (quiet).
    D  joined on the cohort's day 11 (her day 25): ¥120 on her day 5, 200 members on her day 24.
    E  joined on the cohort's day 32 (her day 4): ¥50 and 120 members on her day 1; a name with a script.
    """
    sample, writing = load_test_quizzes()
    cohort = make_cohort("Small cohort", "SMALL1", START)
    mentor = make_user("coach@example.com", role=Role.MENTOR, cohort=cohort)
    a, b, c = (registered(make_user(f"{n}@example.com", cohort=cohort, name=n.upper()), -3) for n in "abc")
    d = registered(make_user("d@example.com", cohort=cohort, name="D"), 10)
    e = registered(make_user("e@example.com", cohort=cohort, name=XSS), 31)
    gone = registered(make_user("gone@example.com", cohort=cohort, name="Gone"), -3)
    gone.is_active = False
    other = make_cohort("Other cohort", "OTHER1", START)
    outsider = registered(make_user("out@example.com", cohort=other, name="Out"), -3)
    db.session.commit()

    checkin(a, START, 3, "40")
    checkin(a, START, 7, "60")
    checkin(a, START, 20, "900", group_members=150)
    checkin(a, START, 33, group_members=150, active_members=60, orders=20)      # all at their reference
    checkin(b, START, 7, "99.99")
    checkin(b, START, 8, "0.01")
    checkin(b, START, 34, group_members=50, active_members=20, orders=5)        # traffic the weakest
    checkin(c, START, 1, "5")
    d_start, e_start = START + timedelta(days=10), START + timedelta(days=31)
    checkin(d, d_start, 5, "120")
    checkin(d, d_start, 24, group_members=200, active_members=20, orders=10)    # circulation the weakest
    checkin(e, e_start, 1, "50", group_members=120, active_members=60, orders=3)  # monetization the weakest
    for someone in (gone, outsider):
        checkin(someone, START, 2, "5000", group_members=300, active_members=100, orders=100)

    lessons = lessons_in_order()
    for user, done in ((a, 3), (b, 1), (d, 2), (gone, 5), (outsider, 5), (mentor, 5)):
        for lesson in lessons[:done]:
            db.session.add(LessonProgress(user_id=user.id, lesson_id=lesson.id, started_at=NOW, completed_at=NOW))
    db.session.add(LessonProgress(user_id=d.id, lesson_id=lessons[2].id, started_at=NOW))  # started, not done

    add_attempt(a, sample, 1, QuizAttempt.GRADED, True)
    add_attempt(b, sample, 1, QuizAttempt.GRADED, False)
    add_attempt(b, sample, 2, QuizAttempt.GRADED, False)
    add_attempt(c, sample, 1, QuizAttempt.IN_PROGRESS)
    add_attempt(d, sample, 1, QuizAttempt.GRADED, False)
    add_attempt(d, sample, 2, QuizAttempt.GRADED, True)
    add_attempt(a, writing, 1, QuizAttempt.AWAITING_REVIEW)
    add_attempt(b, writing, 1, QuizAttempt.GRADED, True)
    add_attempt(b, writing, 2, QuizAttempt.AWAITING_REVIEW)     # passed already: not waiting on her account
    add_attempt(outsider, sample, 1, QuizAttempt.GRADED, True)
    add_attempt(gone, writing, 1, QuizAttempt.AWAITING_REVIEW)
    db.session.commit()
    return {"cohort": cohort, "other": other, "mentor": mentor, "sample": sample, "writing": writing,
            "lessons": lessons, **dict(zip("abcde", (a, b, c, d, e)))}


# --- the figures, called directly ---------------------------------------------------------------

def test_the_cohort_trainees_are_the_active_ones_each_on_her_own_day(small):
    people = {p.name: p for p in stats.trainees(db.session, small["cohort"], NOW)}
    assert sorted(people) == sorted(["A", "B", "C", "D", XSS])
    assert [people[n].day for n in ("A", "B", "C", "D", XSS)] == [35, 35, 35, 25, 4]
    assert people["D"].start == START + timedelta(days=10)


def test_milestones_count_only_the_trainees_whose_due_day_is_over(small):
    figures = {f.milestone.key: f for f in stats.milestone_figures(db.session, small["cohort"], NOW)}
    week, month, members = figures["first-week"], figures["first-month"], figures["first-100-members"]
    # Week one is over for A, B, C, D: A and D reached ¥100 in time, B missed it by one fen.
    assert (week.eligible, week.reached, week.rate) == (4, 2, 50)
    assert (week.reached_early, week.on_track, week.behind) == (0, 1, 0)       # E: ¥50 by her day 4
    # Day 30 is over for A, B, C only: A has exactly ¥1,000.
    assert (month.eligible, month.reached, month.rate) == (3, 1, 33)
    assert (month.reached_early, month.on_track, month.behind) == (0, 0, 2)    # D and E under the line
    # Members: A reported 150 before her day 30; B's 50 came after it. D and E are there already.
    assert (members.eligible, members.reached, members.reached_early) == (3, 1, 2)


def test_median_cumulative_earnings_by_day_count_the_days_that_are_over(small):
    medians = {m.day: m for m in stats.median_earnings(db.session, small["cohort"], NOW)}
    assert len(medians) == stats.DAYS
    assert (medians[1].trainees, medians[1].median_fen) == (5, 0)          # 0, 0, 5, 0, 50 yuan
    assert (medians[3].trainees, medians[3].median_fen) == (5, 500)        # 40, 0, 5, 0, 50
    assert (medians[4].trainees, medians[4].median_fen) == (4, 250)        # E's day 4 is today: 40, 0, 5, 0
    assert (medians[5].trainees, medians[5].median_fen) == (4, 2250)       # 40, 0, 5, 120
    assert (medians[7].trainees, medians[7].median_fen) == (4, 10000)      # 100, 99.99, 5, 120: 99.995 -> ¥100.00
    assert (medians[24].trainees, medians[24].median_fen) == (4, 11000)    # 1000, 100, 5, 120
    assert (medians[25].trainees, medians[25].median_fen) == (3, 10000)    # D's day 25 is today: 1000, 100, 5
    assert (medians[30].trainees, medians[30].median_fen) == (3, 10000)


def test_the_median_of_nothing_is_none_and_an_even_count_rounds_half_up():
    assert stats.median([]) is None
    assert stats.median([3]) == 3 and stats.median([1, 2]) == 2 and stats.median([2, 4, 9, 1]) == 3


def test_lesson_funnel_in_catalogue_order(small):
    funnel = stats.lesson_funnel(db.session, small["cohort"])
    assert [f.lesson.id for f in funnel] == [lesson.id for lesson in small["lessons"]]
    assert [f.completed for f in funnel[:4]] == [3, 2, 1, 0]      # A, B, D / A, D / A; D only started the third
    assert [f.rate for f in funnel[:4]] == [60, 40, 20, 0]
    assert sum(f.completed for f in funnel) == 6


def test_quiz_pass_rates(small):
    figures = {f.quiz.slug: f for f in stats.quiz_figures(db.session, small["cohort"])}
    sample, writing = figures["sample"], figures["writing"]
    # C only has an attempt in progress: not attempted. B failed twice; D failed, then passed.
    assert (sample.attempted, sample.passed, sample.rate, sample.awaiting_review, sample.failed_twice) == (3, 2, 67, 0, 1)
    # A waits for a review; B passed, and her second attempt waiting does not make her "waiting".
    assert (writing.attempted, writing.passed, writing.rate, writing.awaiting_review, writing.failed_twice) == (2, 1, 50, 1, 0)


def test_weakest_factors_and_quiet_trainees(small):
    assert stats.weakest_factors(db.session, small["cohort"], NOW) == {
        "traffic": 1, "circulation": 1, "monetization": 1, "none": 1, "no_data": 1}
    people = stats.trainees(db.session, small["cohort"], NOW)
    assert [p.name for p in stats.quiet_trainees(people)] == sorted(["C", XSS])


def test_an_empty_cohort_has_no_rates_and_no_medians(app, synced):
    cohort = make_cohort("Empty", "EMPTY1", START)
    numbers = stats.cohort_numbers(db.session, cohort, NOW)
    assert numbers.trainees == 0 and all(f.rate is None and f.eligible == 0 for f in numbers.milestones)
    assert all(m.median_fen is None for m in numbers.medians)
    assert numbers.lessons_per_trainee is None and numbers.quiz_rate is None and numbers.most_common_weakness is None


def test_the_headline_numbers(small):
    numbers = stats.cohort_numbers(db.session, small["cohort"], NOW)
    assert numbers.trainees == 5 and numbers.median_on(7).median_fen == 10000
    assert numbers.lessons_per_trainee == 6 / 5
    assert (numbers.quiz_attempted, numbers.quiz_passed, numbers.quiz_rate) == (5, 3, 60)
    assert numbers.awaiting_review == 1
    assert numbers.most_common_weakness == "traffic"  # a tie of one each: the formula's order


# --- the pages: who may see them (on the cohort's day 35, as above) ---------------------------------

@pytest.fixture
def frozen(small):
    with time_machine.travel(NOW, tick=False):
        yield small


def numbers_url(cohort) -> str:
    return f"/cohorts/{cohort.id}/numbers"


def test_the_mentor_sees_her_cohort_numbers(client, frozen):
    login(client, "coach@example.com")
    response = client.get(numbers_url(frozen["cohort"]))
    assert response.status_code == 200
    assert 'data-milestone="first-week"' in response.text


def test_anyone_else_gets_a_404_like_a_missing_cohort(client, frozen):
    make_user("far@example.com", role=Role.MENTOR, cohort=frozen["other"])
    login(client, "far@example.com")
    assert client.get(numbers_url(frozen["cohort"])).status_code == 404
    assert client.get(numbers_url(frozen["other"])).status_code == 200
    assert client.get("/cohorts/999999/numbers").status_code == 404
    client.post("/logout")
    login(client, "a@example.com")  # a trainee, even of this cohort
    assert client.get(numbers_url(frozen["cohort"])).status_code == 404
    assert client.get("/cohorts/compare").status_code == 404


def test_nobody_signed_in_is_sent_to_log_in(client, frozen):
    assert client.get(numbers_url(frozen["cohort"])).status_code == 302
    assert client.get("/cohorts/compare").status_code == 302


def test_an_admin_sees_every_cohort_and_compares_them(client, frozen):
    make_user("boss@example.com", role=Role.ADMIN)
    login(client, "boss@example.com")
    for cohort in (frozen["cohort"], frozen["other"]):
        assert client.get(numbers_url(cohort)).status_code == 200
    response = client.get(f"/cohorts/compare?ids={frozen['cohort'].id},{frozen['other'].id}")
    assert response.status_code == 200
    heads = re.findall(r'<th scope="col" data-cohort="(\d+)"', response.text)
    assert heads == [str(frozen["cohort"].id), str(frozen["other"].id)]
    row = re.search(r'<tr data-milestone="first-week">(.*?)</tr>', response.text, re.S).group(1)
    assert re.findall(r">([^<>]+)</span>", row) == ["50%", "2/4", "100%", "1/1"]  # the outsider made ¥5,000 on day 2
    both = client.get(f"/cohorts/compare?ids={frozen['cohort'].id}&ids={frozen['other'].id}")
    assert re.findall(r'data-cohort="(\d+)"', both.text) == heads
    assert client.get("/cohorts/compare").status_code == 200  # no ids: the latest cohorts
    assert client.get("/cohorts/compare?ids=1,x").status_code == 400
    assert client.get("/cohorts/compare?ids=999999").status_code == 404


def test_a_mentor_compares_only_her_own_cohorts(client, frozen):
    mentor = frozen["mentor"]
    second = make_cohort("Second cohort", "SECOND1", START)
    second.mentors.append(mentor)
    db.session.commit()
    login(client, "coach@example.com")
    mine = f"{frozen['cohort'].id},{second.id}"
    assert client.get(f"/cohorts/compare?ids={mine}").status_code == 200
    assert client.get(f"/cohorts/compare?ids={mine},{frozen['other'].id}").status_code == 404
    assert client.get(f"/cohorts/compare?ids={frozen['other'].id}").status_code == 404
    page = client.get("/cohorts/compare").text  # no ids: her cohorts, and only hers
    assert sorted(re.findall(r'data-cohort="(\d+)"', page)) == sorted([str(frozen["cohort"].id), str(second.id)])
    assert "Other cohort" not in page


# --- the page: constant queries, escaped, no script, no remote URL ------------------------------------

def test_the_numbers_page_takes_as_many_queries_for_200_trainees_as_for_10(client, app, synced, content):
    sync_quizzes(db.session, content.quizzes, utcnow(), SyncReport())
    now = utcnow()
    cohort = seed_scale(db.session, 10, now)
    db.session.commit()
    login(client, "mentor@demo.local", "xiaob-demo-2026")
    url = numbers_url(cohort)
    client.get(url)  # warm up
    with count_queries() as small_count:
        assert client.get(url).status_code == 200
    seed_scale(db.session, 200, now)
    db.session.commit()
    with count_queries() as large_count:
        response = client.get(url)
    assert response.status_code == 200 and "Demo cohort (200 trainees)" in response.text
    assert large_count() == small_count(), (small_count(), large_count())
    assert trainee_count(db.session, cohort.id) == 200


def test_the_page_escapes_names_and_has_no_script_and_no_remote_url(client, frozen):
    login(client, "coach@example.com")
    page = client.get(numbers_url(frozen["cohort"]), headers={"Accept-Language": "en"}).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page      # E is quiet: her name is listed, escaped
    assert "<script" not in page.lower()
    assert set(re.findall(r"https?://[^\s\"'<>]*", page)) <= {"http://www.w3.org/2000/svg",
                                                               "http://www.w3.org/1999/xlink"}
    svgs = re.findall(r"<svg\b[^>]*>", page)
    charts = [svg for svg in svgs if "pygal-chart" in svg]
    assert len(charts) == 5
    assert all('role="img"' in svg and re.search(r'aria-label="[^"]{20,}"', svg) for svg in charts)
    assert all('aria-hidden="true"' in svg for svg in svgs if svg not in charts)   # the header's icon
    for table in ("milestones", "medians", "lessons", "quizzes", "weakest"):  # each chart has its table
        assert f'id="{table}-table"' in page and f'id="{table}-chart"' in page
    assert 'viewBox="0 0 390' in page  # drawn for a phone, scaled to the screen


def test_the_numbers_page_shows_the_figures(client, frozen):
    login(client, "coach@example.com")
    page = client.get(numbers_url(frozen["cohort"]), headers={"Accept-Language": "en"}).text
    assert re.search(r'data-milestone="first-week">.*?data-rate="50"', page, re.S)
    lesson = frozen["lessons"][0]
    row = re.search(rf'<tr data-lesson="{lesson.course.slug}/{lesson.slug}">(.*?)</tr>', page, re.S).group(1)
    assert "<td>3</td><td>60%</td>" in row
    row = re.search(r'<tr data-quiz="sample">(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r"<td>([^<]*)</td>", row) == ["3", "2", "67%", "0", "1"]
