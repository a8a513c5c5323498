"""The two reminder jobs on APScheduler: the rules (every few minutes) and dispatch (every half minute).

Exactly one process on a machine runs them: `make run`'s dev server (in a background thread) or
`academy scheduler` in production, guarded by a lock file in instance/ so a reloader child or a
second process starts none. Several machines on PostgreSQL may each run dispatchers safely.
"""
import fcntl
import os
import signal
import socket
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from app.database import utcnow
from app.extensions import db
from app.reminders import outbox
from app.reminders.models import SchedulerRun
from app.reminders.rules import run_rules

_lock_file = None


def run_job(app, name: str) -> dict:
    """Run one job in an app context and record its run for /healthz; errors are logged, not raised."""
    with app.app_context():
        started = utcnow()
        try:
            if name == "rules":
                detail = dict(run_rules(db.session, started))
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


def take_lock(app) -> bool:
    """True for the one process on this machine that may run the jobs."""
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
                          ("dispatch", app.config["SCHEDULER_DISPATCH_SECONDS"])):
        scheduler.add_job(run_job, "interval", args=(app, name), seconds=seconds, id=name, next_run_time=utcnow())
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
        raise SystemExit("another scheduler is running on this machine (instance/scheduler.lock)")
    scheduler = build(app, BlockingScheduler)

    def stop(signum, frame):  # a service manager's stop: let the running job finish, then exit 0
        scheduler.shutdown(wait=True)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    scheduler.start()
