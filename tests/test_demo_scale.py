"""`academy demo --trainees N`: a big synthetic cohort with plausible spreads, fast, idempotent."""
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.checkins.models import Checkin
from app.cohorts import stats
from app.cohorts.models import Cohort
from app.content.sync import SyncReport, sync_quizzes
from app.demo.seed import DEMO_PASSWORD
from app.demo.scale import SCALE_CODE, Content, Rows, _activity, _content, _trainee, seed_scale
from app.extensions import db
from app.learning.models import LessonProgress
from app.quizzes.models import EssayReview, QuizAttempt
from app.core.members import trainee_count

NOW = datetime(2026, 6, 7, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(timezone.utc)
TABLES = (User, Checkin, LessonProgress, QuizAttempt, EssayReview, Cohort)


@pytest.fixture
def content_synced(synced, content):
    sync_quizzes(db.session, content.quizzes, NOW, SyncReport())
    db.session.commit()


def fingerprint() -> dict:
    """Row counts per table and a fingerprint of what the synthetic trainees did."""
    counts = {model.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(model)) for model in TABLES}
    checkins = db.session.execute(sa.select(User.mobile, Checkin.day, Checkin.earnings_fen, Checkin.orders,
                                            Checkin.group_members, Checkin.active_members)
                                  .join(User, User.id == Checkin.user_id).order_by(User.mobile, Checkin.day)).all()
    attempts = db.session.execute(sa.select(User.mobile, QuizAttempt.quiz_id, QuizAttempt.number, QuizAttempt.state,
                                            QuizAttempt.percent)
                                  .join(User, User.id == QuizAttempt.user_id)
                                  .order_by(User.mobile, QuizAttempt.quiz_id, QuizAttempt.number)).all()
    users = db.session.execute(sa.select(User.mobile, User.name, User.password_hash, User.session_token, User.created_at)
                               .order_by(User.id)).all()
    return {"counts": counts, "checkins": checkins, "attempts": attempts, "users": users}


def scale_cohort() -> Cohort:
    return db.session.scalar(sa.select(Cohort).where(Cohort.invite_code == SCALE_CODE))


def test_fifty_trainees_show_every_spread_and_a_second_run_changes_nothing(app, content_synced):
    cohort = seed_scale(db.session, 50, NOW)
    db.session.commit()
    assert cohort.name == "Demo cohort (50 trainees)" and cohort.invite_code == SCALE_CODE
    assert "mentor@demo.local" in [m.email for m in cohort.mentors]
    assert NOW.astimezone(ZoneInfo("Asia/Shanghai")).date() - cohort.start_date == timedelta(days=34)

    trainees = db.session.scalars(sa.select(User).where(User.cohort_id == cohort.id)).all()
    assert len(trainees) == 50
    assert len({t.mobile for t in trainees}) == 50 and all(t.mobile.startswith("199") and len(t.mobile) == 11
                                                           for t in trainees)
    assert {t.name for t in trainees} == {f"学员{i:04d}" for i in range(1, 51)}
    assert len({t.password_hash for t in trainees}) == 1 and trainees[0].check_password(DEMO_PASSWORD)
    assert len({t.session_token for t in trainees}) == 50

    numbers = stats.cohort_numbers(db.session, cohort, NOW)
    week, month = (next(f for f in numbers.milestones if f.milestone.key == key) for key in ("first-week", "first-month"))
    assert 0 < week.reached < week.eligible and 0 < month.reached < month.eligible  # ahead, and not
    people = stats.trainees(db.session, cohort, NOW)
    week_totals = sorted(p.earnings_through(7) for p in people if p.is_over(7))
    assert week_totals[0] < 50_00 <= 100_00 <= week_totals[-1]               # behind, and ahead
    middle = [t for t in week_totals if 30_00 <= t < 100_00]
    assert len(middle) >= len(week_totals) // 4                               # many in the middle
    stopped = [p for p in people if p.checkins and p.day > 10 and (p.checkins[-1].day - p.start).days + 1 <= 6]
    assert stopped and [p for p in people if not p.checkins]                  # quiet, and never
    assert numbers.quiet
    assert numbers.awaiting_review > 0                                        # essays wait for a mentor
    assert sum(f.failed_twice for f in numbers.quizzes) > 0                   # a few failed a quiz twice
    assert 0 < numbers.quiz_rate < 100
    assert numbers.lessons[0].completed > numbers.lessons[-1].completed       # the funnel narrows
    assert sum(numbers.weakest[f] for f in stats.FACTORS) > 0 and numbers.weakest[stats.NO_DATA] > 0

    # Plausible numbers: 20-300 members, 5-40% active, orders that fit the earnings, nothing in the future.
    rows = db.session.scalars(sa.select(Checkin).join(User, User.id == Checkin.user_id)
                              .where(User.cohort_id == cohort.id)).all()
    assert rows and all(c.day < NOW.astimezone(ZoneInfo("Asia/Shanghai")).date() for c in rows)
    counted = [c for c in rows if c.group_members is not None]
    assert all(20 <= c.group_members <= 300 for c in counted)
    assert all(0.05 * c.group_members <= c.active_members <= 0.4 * c.group_members for c in counted)
    assert all(c.orders >= 0 and (c.orders == 0 or c.earnings_fen / c.orders >= 250) for c in counted
               if c.orders is not None)
    attempts = db.session.scalars(sa.select(QuizAttempt).join(User, User.id == QuizAttempt.user_id)
                                  .where(User.cohort_id == cohort.id)).all()
    for a in attempts:  # each attempt is consistent with its own answers and results
        if a.state == QuizAttempt.GRADED:
            assert a.percent == round(100 * a.score / a.max_score, 2)
            assert a.is_passed == (a.percent >= a.quiz.pass_mark)
            assert a.score == round(sum(r["points"] for r in a.results.values()), 4)
        assert a.started_at <= NOW and (a.submitted_at is None or a.started_at <= a.submitted_at <= NOW)
    reviewed = db.session.scalars(sa.select(EssayReview)).all()
    assert reviewed and all(r.attempt.state == QuizAttempt.GRADED for r in reviewed)

    before = fingerprint()
    again = seed_scale(db.session, 50, NOW + timedelta(days=3))
    db.session.commit()
    assert again.id == cohort.id and fingerprint() == before


def test_a_larger_n_adds_the_missing_trainees_only(app, content_synced):
    seed_scale(db.session, 20, NOW)
    db.session.commit()
    first = db.session.execute(sa.select(User.mobile, Checkin.day, Checkin.earnings_fen)
                               .join(User, User.id == Checkin.user_id).order_by(User.mobile, Checkin.day)).all()
    cohort = seed_scale(db.session, 30, NOW)
    db.session.commit()
    assert cohort.name == "Demo cohort (30 trainees)"
    after = db.session.execute(sa.select(User.mobile, Checkin.day, Checkin.earnings_fen)
                               .join(User, User.id == Checkin.user_id).order_by(User.mobile, Checkin.day)).all()
    assert [row for row in after if (row.mobile or "") <= "19900000020"] == first


def test_the_generator_is_deterministic(app, content_synced):
    cohort = Cohort(id=1, name="x", invite_code="X", start_date=NOW.date() - timedelta(days=34))
    content = _content(db.session, 7)
    today = NOW.astimezone(ZoneInfo("Asia/Shanghai")).date()

    def generate() -> tuple:
        rows = Rows()
        users = []
        for number in range(1, 41):
            user, rng = _trainee(number, ["ahead", "middle", "behind", "quiet"][number % 4], cohort, today, NOW, 7)
            _activity(number, user, rng, content, today, NOW, rows)
            users.append({k: v for k, v in user.items() if k != "session_token"})
        return users, rows.checkins, rows.progress, rows.attempts, rows.reviews

    assert generate() == generate()
    assert isinstance(content, Content) and content.lessons and content.quizzes


def test_three_hundred_trainees_seed_in_reasonable_time(app, content_synced, capsys):
    began = time.perf_counter()
    cohort = seed_scale(db.session, 300, NOW)
    db.session.commit()
    seconds = time.perf_counter() - began
    with capsys.disabled():
        print(f"\nseed_scale(300) on {db.engine.dialect.name}: {seconds:.2f} s")
    assert trainee_count(db.session, cohort.id) == 300
    assert seconds < 30  # about 2 s on a laptop; N=1000 takes about 6 s on SQLite


def test_the_demo_command_takes_a_number_of_trainees(app, content_synced):
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["demo", "--trainees", "12"])
        assert result.exit_code == 0, result.output
        assert "Demo cohort (12 trainees)" in result.output and SCALE_CODE in result.output
    assert trainee_count(db.session, scale_cohort().id) == 12
    assert runner.invoke(args=["demo", "--trainees", "0"]).exit_code != 0
    result = runner.invoke(args=["demo"])  # without the option: the small demo only, as before
    assert result.exit_code == 0 and "trainees)" not in result.output


def test_without_content_it_seeds_check_ins_only(app):
    cohort = seed_scale(db.session, 20, NOW)
    db.session.commit()
    assert trainee_count(db.session, cohort.id) == 20
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Checkin)) > 20
    assert db.session.scalar(sa.select(sa.func.count()).select_from(QuizAttempt)) == 0
