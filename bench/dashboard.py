"""The cohort dashboard at scale: seed a large cohort, then time its page against /healthz.

`seed_trainees()` is also what tests/test_dashboard.py uses to check that the dashboard's queries
do not grow with the cohort, so the tests and the benchmark look at the same kind of data.
"""
import argparse
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import datetime, time as clock, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from app.accounts.models import User
from app.core.access import Role
from app.checkins.models import Checkin
from app.cohorts.models import Cohort, MentorNote
from app.learning.models import Course, Lesson, LessonProgress
from app.quizzes.models import Quiz, QuizAttempt

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "tidal-lantern-orchard-42"  # not built on the mentor's name or email (the password rules refuse that)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["美", "小美", "丽", "芳", "静", "敏", "婷", "雪", "晓燕", "佳", "欣怡", "思琪", "梦", "悦", "慧"]


def seed_trainees(session, cohort: Cohort, n: int, now: datetime, *, checkins_each: int = 15,
                  seed: int = 0, password_hash: str | None = None, first: int = 0) -> list[int]:
    """n active trainees in the cohort, in bulk (one password hash for all: scrypt per user is far
    too slow), each with about `checkins_each` check-ins, some lessons done, quiz attempts (passed,
    failed twice, an essay waiting) and, for a few, a mentor's "contacted". Returns their ids.

    `first` numbers them on from an earlier call (mobile numbers stay unique).
    """
    rng = random.Random(seed * 1_000_003 + first)
    zone = ZoneInfo(cohort.timezone or "Asia/Shanghai")
    today = now.astimezone(zone).date()
    days_so_far = max(1, (today - cohort.start_date).days + 1)
    joined = datetime.combine(cohort.start_date - timedelta(days=3), clock(9), zone).astimezone(timezone.utc)
    password_hash = password_hash or generate_password_hash(PASSWORD)

    users = []
    for i in range(first, first + n):
        last_login = now - timedelta(hours=rng.randint(1, 24 * 12)) if rng.random() < 0.9 else None
        users.append({"name": f"{rng.choice(SURNAMES)}{rng.choice(GIVEN)}{i:04d}", "mobile": f"139{i:08d}",
                      "email": None, "password_hash": password_hash, "role": Role.TRAINEE.value,
                      "timezone": cohort.timezone or "Asia/Shanghai", "locale": None, "cohort_id": cohort.id,
                      "is_active": True, "session_token": secrets.token_urlsafe(32), "created_at": joined,
                      "last_login_at": last_login})
    ids = list(session.scalars(sa.insert(User).returning(User.id, sort_by_parameter_order=True), users))

    lessons = session.scalars(sa.select(Lesson).join(Lesson.course).where(
        Lesson.is_archived.is_(False), Course.is_archived.is_(False)).order_by(Course.position, Lesson.position)).all()
    quizzes = session.scalars(sa.select(Quiz).where(Quiz.is_archived.is_(False)).order_by(Quiz.position)).all()
    checkins, progress, attempts, notes = [], [], [], []
    for user_id in ids:
        profile = rng.random()  # < 0.1: gone quiet early; < 0.3: slow; else: working at it
        stop = days_so_far if profile >= 0.1 else rng.randint(1, max(1, days_so_far // 3))
        days = sorted(rng.sample(range(stop), min(checkins_each, stop)))
        members = rng.randint(5, 40)
        for d in days:
            day = cohort.start_date + timedelta(days=d)
            at = datetime.combine(day, clock(rng.randint(8, 22), rng.randint(0, 59)), zone).astimezone(timezone.utc)
            members += rng.randint(0, 8)
            active = rng.randint(0, members // 2)
            fen = 0 if rng.random() < 0.25 else rng.randint(100, 6000 if profile < 0.3 else 15000)
            checkins.append({"user_id": user_id, "day": day, "earnings_fen": fen,
                             "orders": rng.randint(0, 6) if rng.random() < 0.8 else None,
                             "group_members": members if rng.random() < 0.7 else None,
                             "active_members": active if rng.random() < 0.6 else None,
                             "posts": rng.randint(0, 5) if rng.random() < 0.5 else None,
                             "note": rng.choice(["", "", "", "第一次接龙 🎉", "=1+1 复购"]), "source": "web",
                             "created_at": at, "updated_at": at})
        done = rng.randint(0, len(lessons))
        for k, lesson in enumerate(lessons[:done + 1]):
            started = joined + timedelta(days=k / 2, hours=rng.randint(0, 12))
            progress.append({"user_id": user_id, "lesson_id": lesson.id, "started_at": started,
                             "completed_at": started + timedelta(minutes=12) if k < done else None})
        for quiz in quizzes:
            roll = rng.random()
            outcomes = ([] if roll < 0.4 else [(False, "graded"), (False, "graded")] if roll < 0.5
                        else [("review", "awaiting_review")] if roll < 0.55 else [(True, "graded")])
            for number, (passed, state) in enumerate(outcomes, 1):
                at = now - timedelta(days=rng.randint(0, days_so_far), hours=rng.randint(0, 23))
                graded = state == "graded"
                attempts.append({"quiz_id": quiz.id, "user_id": user_id, "number": number, "state": state,
                                 "layout": [], "answers": {}, "marks": [], "score": None, "max_score": 10.0,
                                 "percent": (rng.randint(75, 100) if passed else rng.randint(10, 55))
                                 if graded else None,
                                 "is_passed": passed if graded else None, "started_at": at - timedelta(minutes=9),
                                 "deadline_at": None, "saved_at": None, "submitted_at": at})
        if rng.random() < 0.05:
            notes.append({"trainee_id": user_id, "author_id": None, "kind": MentorNote.CONTACTED, "checkin_id": None,
                          "body": "called her", "created_at": now - timedelta(days=rng.randint(0, 9))})
    for model, rows in ((Checkin, checkins), (LessonProgress, progress), (QuizAttempt, attempts),
                        (MentorNote, notes)):
        if rows:
            session.execute(sa.insert(model), rows)
    session.flush()
    return ids


# --- the benchmark -------------------------------------------------------------------------------

def _p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20, method="inclusive")[-1] if len(times) > 1 else times[0]


def _timed(client, path: str, runs: int, headers=None) -> tuple[list[float], list[float]]:
    """Milliseconds of `runs` GETs (after one warm-up, which brings the stored rows up to date): wall-clock
    times, and this process's CPU times (what the request itself costs, less what other programs on a busy
    machine take from it)."""
    response = client.get(path, headers=headers)
    assert response.status_code == 200, (path, response.status_code)
    times, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(path, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return times, cpu


def _count_queries(app, client, path: str, headers=None) -> int:
    from app.extensions import db
    statements = []
    with app.app_context():
        engine = db.engine
    record = lambda *args: statements.append(args[2])  # noqa: E731
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        client.get(path, headers=headers)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return len(statements)


def build(database_url: str, trainees: int, checkins_each: int, now: datetime, data: str = "bench"):
    """A migrated database with the real content, a cohort of `trainees`, its mentor logged in.

    data="demo-scale" seeds with app.demo.scale.seed_scale() instead (`academy demo --trainees N`: a
    cohort on day 35, check-ins on the programme's check-in days only)."""
    from flask_migrate import upgrade

    from app import create_app
    from app.accounts.service import create_user
    from app.content import load_content
    from app.content.sync import sync_content
    from app.extensions import db

    app = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": database_url, "WTF_CSRF_ENABLED": False,
                      "CONTENT_ROOT": str(REPO)})
    with app.app_context():
        upgrade()
        content = load_content(REPO)
        if content.problems:
            sys.exit(f"content problems: {content.problems[:3]}")
        sync_content(db.session, content, now)
        if data == "demo-scale":
            from app.demo.seed import DEMO_PASSWORD
            from app.demo.scale import MENTOR_EMAIL, seed_scale
            cohort, login = seed_scale(db.session, trainees, now), (MENTOR_EMAIL, DEMO_PASSWORD)
        else:
            start = now.astimezone(ZoneInfo("Asia/Shanghai")).date() - timedelta(days=20)  # day 21
            cohort = Cohort(name="Bench cohort", invite_code="BENCH1", start_date=start, timezone="Asia/Shanghai")
            db.session.add(cohort)
            mentor = create_user(db.session, name="Bench mentor", email="mentor@bench.local", password=PASSWORD,
                                 role=Role.MENTOR)
            cohort.mentors.append(mentor)
            db.session.flush()
            seed_trainees(db.session, cohort, trainees, now, checkins_each=checkins_each)
            login = ("mentor@bench.local", PASSWORD)
        db.session.commit()
        counts = {"trainees": db.session.scalar(sa.select(sa.func.count(User.id)).where(
            User.cohort_id == cohort.id, User.role == Role.TRAINEE))}
        counts.update((name, db.session.scalar(sa.select(sa.func.count()).select_from(model))) for name, model in (
            ("check-ins", Checkin), ("lesson progress", LessonProgress), ("quiz attempts", QuizAttempt)))
        cohort_id = cohort.id
        db.session.remove()
    client = app.test_client()
    response = client.post("/login", data={"identifier": login[0], "password": login[1]})
    assert response.status_code == 302, response.status_code
    return app, client, cohort_id, counts


def _token(app, cohort_id: int, now: datetime) -> str:
    """An API token of one of the cohort's mentors."""
    from app.api.models import create_token
    from app.cohorts.models import cohort_mentors
    from app.extensions import db
    with app.app_context():
        mentor = db.session.scalar(sa.select(User).join(cohort_mentors, cohort_mentors.c.user_id == User.id)
                                   .where(cohort_mentors.c.cohort_id == cohort_id).order_by(User.id))
        _, secret = create_token(db.session, mentor, "bench", now)
        db.session.commit()
        db.session.remove()
    return secret


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--trainees", type=int, default=1000)
    parser.add_argument("--checkins", type=int, default=15, help="check-ins per trainee (about)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--target-ms", type=float, default=None,
                        help="p95 goal (default: 150 ms up to 1,000 trainees, 300 ms above)")
    parser.add_argument("--data", choices=("bench", "demo-scale"), default="bench",
                        help="bench: ~15 check-ins each, day 21 (default); demo-scale: app.demo.scale's cohort")
    parser.add_argument("--database", help="an empty database's URL instead of a temporary SQLite file")
    parser.add_argument("--profile", action="store_true", help="profile one dashboard request (needs pyinstrument)")
    parser.add_argument("--check", action="store_true", help="exit with status 1 when over the target")
    args = parser.parse_args(argv)

    now = datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory(prefix="academy-bench-") as tmp:
        url = args.database or f"sqlite:///{Path(tmp) / 'bench.db'}"
        started = time.perf_counter()
        app, client, cohort_id, counts = build(url, args.trainees, args.checkins, now, args.data)
        token = _token(app, cohort_id, now)
        print(f"seeded in {time.perf_counter() - started:.1f} s: "
              + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
        dashboard = f"/cohorts/{cohort_id}/dashboard"
        pages = [("GET /healthz", "/healthz"), (f"GET {dashboard}", dashboard),
                 (f"GET {dashboard}?sort=earnings&status=behind&page=2", f"{dashboard}?sort=earnings&status=behind&page=2"),
                 (f"GET /cohorts/{cohort_id}/attention", f"/cohorts/{cohort_id}/attention"),
                 (f"GET /api/v1/cohorts/{cohort_id}/trainees", f"/api/v1/cohorts/{cohort_id}/trainees?per_page=50")]
        started = time.perf_counter()
        client.get(dashboard)   # the first read of the cohort works out every trainee's stored row
        print(f"first read (every row worked out and stored): {(time.perf_counter() - started) * 1000:.0f} ms")
        results = {}
        for label, path in pages:
            headers = {"Authorization": f"Bearer {token}"} if path.startswith("/api/") else {}
            times, cpu = _timed(client, path, args.runs, headers)
            median = statistics.median(times)
            results[path] = (median, _p95(times))
            print(f"{label:<60} median {median:7.1f} ms  p95 {_p95(times):7.1f} ms  (min {min(times):.1f}, "
                  f"max {max(times):.1f}; CPU median {statistics.median(cpu):.1f}, p95 {_p95(cpu):.1f} ms; "
                  f"{args.runs} runs, {_count_queries(app, client, path, headers)} queries)")
        p95 = results[dashboard][1]
        print(f"dashboard / healthz (median): {results[dashboard][0] / results['/healthz'][0]:.0f}x")
        target = args.target_ms or (150.0 if counts["trainees"] <= 1000 else 300.0)
        verdict = "within" if p95 <= target else "OVER"
        print(f"dashboard for {counts['trainees']:,} trainees: p95 {p95:.0f} ms, {verdict} the {target:.0f} ms target")
        if args.profile:
            try:
                from pyinstrument import Profiler
            except ImportError:
                print("--profile needs pyinstrument: pip install pyinstrument")
            else:
                profiler = Profiler(interval=0.0005)
                with profiler:
                    client.get(dashboard)
                print(profiler.output_text(unicode=True, color=False, show_all=False))
        with app.app_context():
            from app.extensions import db
            db.engine.dispose()
    return 1 if args.check and verdict != "within" else 0
