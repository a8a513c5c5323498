"""Storage: the bytes a trainee costs after a simulated month (issue 18, item 5).

A temporary database (real migrations and content) gets the scale demo's cohort of N trainees on its
day 35 (`app.demo.scale.seed_scale`: check-ins, lessons, quiz attempts as the app stores them, essay
reviews), their camp 打卡 for the first week, then each of the month's evenings the real reminder rules
(`run_rules`) and a dispatch of what they wrote (in-app: inbox rows and delivery tries). It prints what
the month added to each table, rows and bytes (SQLite: its pages, from `dbstat`; PostgreSQL:
`pg_total_relation_size`, TOAST and indexes included), the bytes per trainee, and the bytes per quiz
attempt against the goal (≤ 2 KB), beside what the same attempts' copies of their questions took
before question versions.
"""
import argparse
import json
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from bench.reminders import evening, insert, migrated_app, quiet_logs

GOAL_PER_ATTEMPT = 2048
NOTES = ["今天发了三条朋友圈，有两位朋友来问", "群里新进了5个人，做了自我介绍", "试了接龙，卖出4单",
         "给老客户发了新品，回复很好", "学了选品课，挑了三个品", "今天有点忙，只发了一条", "晒了买家秀，大家点赞很多"]


def seed_camp(session, trainee_ids: list[int], now: datetime, seed: int) -> int:
    """Her 打卡 for each camp task of the first week, most days, with a line of text or a number."""
    from app.accounts.models import User
    from app.camp import service as camp
    from app.camp.models import TaskCheckin

    tasks = camp.plan(session)
    rows = []
    for user in session.scalars(sa.select(User).where(User.id.in_(trainee_ids))):
        rng = random.Random(f"{seed}:camp:{user.id}")
        odds = rng.choice((0.95, 0.8, 0.6, 0.3))
        for task in tasks:
            if rng.random() > odds:
                continue
            day = camp.task_date(task, user)
            moment = datetime.combine(day, datetime.min.time(), now.tzinfo) + timedelta(hours=rng.randint(4, 15))
            if moment > now:
                continue  # her camp has not reached this day yet
            rows.append({"user_id": user.id, "task_id": task.id, "day": day, "is_makeup": False,
                         "text": rng.choice(NOTES) if "text" in task.proof or rng.random() < 0.5 else "",
                         "number": rng.randint(1, 60) if "number" in task.proof else None,
                         "is_shared": rng.random() < 0.4, "is_pinned": False, "created_at": moment,
                         "updated_at": moment})
    if rows:
        insert(session, TaskCheckin, rows)
    return len(rows)


def run_month(app, session, days: int, now: datetime) -> dict:
    """Each evening of the month, oldest first: the reminder rules, then a dispatch of what they wrote."""
    from app.reminders import outbox
    from app.reminders.rules import run_rules

    written, delivered = 0, {}
    with quiet_logs(app):
        for back in range(days - 1, -1, -1):
            moment = now - timedelta(days=back)
            written += sum(run_rules(session, moment).values())
            session.commit()
            for outcome, count in outbox.dispatch(session, moment, batch=500).items():
                delivered[outcome] = delivered.get(outcome, 0) + count
    return {"written": written, **delivered}


def table_bytes(session) -> dict[str, int]:
    """Bytes per table on disk, its indexes (and TOAST) included."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        return dict(session.execute(sa.text(
            "SELECT relname, pg_total_relation_size(relid) FROM pg_stat_user_tables")).all())
    owner = dict(session.execute(sa.text("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')")).all())
    sizes: dict[str, int] = {}
    for name, pages in session.execute(sa.text("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")).all():
        table = owner.get(name, name)
        sizes[table] = sizes.get(table, 0) + pages
    return sizes


def row_counts(session, tables) -> dict[str, int]:
    return {name: session.scalar(sa.select(sa.func.count()).select_from(sa.table(name))) for name in tables}


def attempt_figures(session) -> dict:
    """Bytes of the attempts' own JSON as stored, and of the copies (questions and results) they used to keep."""
    from app.quizzes.models import QuizAttempt, load_questions

    own = copies = count = 0
    last = 0
    while True:
        attempts = session.scalars(sa.select(QuizAttempt).where(QuizAttempt.id > last)
                                   .order_by(QuizAttempt.id).limit(500)).all()
        if not attempts:
            break
        load_questions(session, attempts)
        for attempt in attempts:
            stored = [attempt.layout, attempt.answers, attempt.marks]
            own += sum(len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()) for value in stored)
            copies += len(json.dumps(attempt.questions)) + len(json.dumps(attempt.results))  # sa.JSON's default
            count += 1
        last = attempts[-1].id
        session.expunge_all()
    return {"attempts": count, "own": own, "copies": copies}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench storage", description=__doc__.splitlines()[0])
    parser.add_argument("--trainees", type=int, default=300)
    parser.add_argument("--days", type=int, default=30, help="evenings of reminders and dispatch")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--database", help="an EMPTY database's URL instead of a temporary SQLite file")
    parser.add_argument("--check", action="store_true", help="exit with status 1 when an attempt takes over 2 KB")
    args = parser.parse_args(argv)

    from app.accounts.models import User
    from app.core.access import Role
    from app.demo.scale import seed_scale
    from app.extensions import db

    now = evening()
    with tempfile.TemporaryDirectory(prefix="academy-bench-") as tmp:
        url = args.database or f"sqlite:///{Path(tmp) / 'storage.db'}"
        started = time.perf_counter()
        app = migrated_app(url, now)
        try:
            with app.app_context():
                empty = table_bytes(db.session)  # migrations and content: what every database has
                seed_scale(db.session, args.trainees, now, seed=args.seed)
                db.session.commit()
                trainees = db.session.scalars(sa.select(User.id).where(User.role == Role.TRAINEE.value)).all()
                camp = seed_camp(db.session, trainees, now, args.seed)
                db.session.commit()
                seeded = time.perf_counter()
                print(f"{db.engine.dialect.name}: {len(trainees):,} trainees (the scale demo's cohort on day 35 and "
                      f"the small demo's), {camp:,} 打卡, seeded in {seeded - started:.1f} s")
                month = run_month(app, db.session, args.days, now)
                print(f"reminders, {args.days} evenings: {month.pop('written'):,} outbox rows written; dispatched "
                      + ", ".join(f"{n:,} {outcome}" for outcome, n in sorted(month.items()))
                      + f" ({time.perf_counter() - seeded:.1f} s)")
                if db.engine.dialect.name == "postgresql":
                    db.session.commit()
                    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                        conn.execute(sa.text("VACUUM ANALYZE"))
                sizes = table_bytes(db.session)
                counts = row_counts(db.session, [name for name in sizes if name in db.metadata.tables])
                figures = attempt_figures(db.session)
        finally:
            with app.app_context():
                db.engine.dispose()

    n = max(1, len(trainees))
    added = {name: size - empty.get(name, 0) for name, size in sizes.items()}
    print(f"\nWhat the month added (the database after migrations and content sync: {sum(empty.values()):,} bytes)")
    print(f"{'table':<24}{'rows':>10}{'bytes':>14}{'bytes/trainee':>15}")
    for name, size in sorted(added.items(), key=lambda item: -item[1]):
        if name in counts and size > 0:
            print(f"{name:<24}{counts[name]:>10,}{size:>14,}{size / n:>15,.0f}")
    print(f"{'all tables':<24}{'':>10}{sum(added.values()):>14,}{sum(added.values()) / n:>15,.0f}")

    attempts = figures["attempts"]
    if not attempts:
        print("\nno quiz attempts were seeded")
        return 1
    per_attempt = added.get("quiz_attempts", 0) / attempts
    print(f"\nquiz attempts: {attempts:,}, {attempts / n:.1f} a trainee")
    print(f"  on disk: {per_attempt:,.0f} bytes an attempt (its row and indexes); the question versions they "
          f"share: {counts.get('question_versions', 0):,} rows, {added.get('question_versions', 0):,} bytes in all")
    print(f"  its own JSON (layout, answers, marks): {figures['own'] / attempts:,.0f} bytes an attempt")
    print(f"  the copies of questions and results it used to keep: {figures['copies'] / attempts:,.0f} bytes an "
          f"attempt ({figures['copies'] / max(1, figures['own']):.0f} × its JSON now)")
    ok = per_attempt <= GOAL_PER_ATTEMPT
    print(f"goal ≤ {GOAL_PER_ATTEMPT:,} bytes an attempt: {'met' if ok else 'MISSED'}")
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
