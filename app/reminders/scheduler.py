"""The scheduled jobs on APScheduler: the reminder rules (every few minutes), dispatch (every half minute)
and pruning what is past its retention (daily, app/ops/retention.py).

Exactly one process runs them: `make run`'s dev server (in a background thread) or `academy scheduler`
in production. On SQLite a lock file in instance/ guards the one machine (a reloader child or a second
process starts none). On PostgreSQL the leader is the holder of a session-level advisory lock, so that
`academy scheduler` may run on several machines: one leads, the others stand by, try the lock before
each job and take over within a job interval when the leader stops (its connection closes, the
database releases the lock). A leader whose lock connection broke stops running jobs at once.
"""
import fcntl
import os
import signal
import socket
from pathlib import Path

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from app.database import utcnow
from app.extensions import db
from app.reminders import outbox
from app.ops.retention import prune
from app.reminders.models import SchedulerRun
from app.reminders.rules import run_rules

_lock_file = None
_leader = None          # PostgreSQL: the connection that holds the advisory lock
LEADER_LOCK = 0x78696162  # the advisory lock's id, the same on every machine ("xiab")


def run_job(app, name: str) -> dict:
    """Run one job in an app context and record its run for /healthz; errors are logged, not raised."""
    with app.app_context():
        started = utcnow()
        try:
            if name == "rules":
                detail = dict(run_rules(db.session, started))
            elif name == "prune":
                detail = prune(db.session, started, app.config["RETENTION_DAYS"])
            else:
                detail = dict(outbox.dispatch(db.session))
            db.session.commit()
            ok = True
        except Exception as error:  # a bad run must not stop the scheduler: log it, show it on /healthz
            db.session.rollback()
            app.logger.exception("scheduler job %s failed", name)
            detail, ok = {"error": str(error)[:500]}, False
        run = db.session.get(SchedulerRun, name) or SchedulerRun(job=name)
        run.started_at, run.finished_at, run.ok, run.detail = started, utcnow(), ok, detail
        run.host = f"{socket.gethostname()}:{os.getpid()}"
        db.session.merge(run)
        db.session.commit()
        return detail


def lead_job(app, name: str) -> dict | None:
    """A scheduled job: run only by the leader; a standby tries to become it first."""
    if not is_leader(app):
        return None
    return run_job(app, name)


def take_lock(app) -> bool:
    """True for the one process that may run the jobs (see the module's docstring)."""
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            return _take_advisory_lock()
    return _take_lock_file(app)


def is_leader(app) -> bool:
    """Checked before each job: the leader still holds its lock; a standby tries to take it."""
    global _leader
    if _leader is not None:
        try:
            _leader.execute(sa.text("SELECT 1"))
            return True
        except sa.exc.DBAPIError:  # the connection broke: the database has released the lock
            app.logger.warning("scheduler: lost the leader's lock connection; standing by")
            _leader.invalidate()
            _leader = None
    return take_lock(app)


def _take_advisory_lock() -> bool:
    global _leader
    if _leader is not None:
        return True
    # Its own connection, kept for the life of the process, outside any transaction.
    connection = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    if connection.scalar(sa.text("SELECT pg_try_advisory_lock(:id)"), {"id": LEADER_LOCK}):
        _leader = connection
        return True
    connection.close()
    return False


def _take_lock_file(app) -> bool:
    global _lock_file
    if _lock_file is not None:
        return True
    handle = open(app.config.get("SCHEDULER_LOCK_FILE") or Path(app.instance_path) / "scheduler.lock", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return False
    handle.write(str(os.getpid()))
    handle.flush()
    _lock_file = handle  # held for the life of the process
    return True


def build(app, scheduler_class=BackgroundScheduler):
    scheduler = scheduler_class(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    for name, seconds in (("rules", app.config["SCHEDULER_RULES_SECONDS"]),
                          ("dispatch", app.config["SCHEDULER_DISPATCH_SECONDS"]),
                          ("prune", app.config["SCHEDULER_PRUNE_SECONDS"])):
        scheduler.add_job(lead_job, "interval", args=(app, name), seconds=seconds, id=name, next_run_time=utcnow())
    return scheduler


def start_in_background(app) -> bool:
    """For the dev server: start the jobs unless another process here already runs them."""
    if not take_lock(app):
        app.logger.info("scheduler: another process holds the lock; not starting here")
        return False
    scheduler = build(app)
    scheduler.start()
    app.extensions["scheduler"] = scheduler
    return True


def run_forever(app) -> None:
    """`academy scheduler`: the jobs in the foreground until stopped."""
    if not take_lock(app):
        with app.app_context():
            standby = db.engine.dialect.name == "postgresql"
        if not standby:
            raise SystemExit("another scheduler is running on this machine (instance/scheduler.lock)")
        app.logger.info("scheduler: another process leads; standing by to take over")
    scheduler = build(app, BlockingScheduler)

    def stop(signum, frame):  # a service manager's stop: let the running job finish, then exit 0
        scheduler.shutdown(wait=True)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    scheduler.start()
