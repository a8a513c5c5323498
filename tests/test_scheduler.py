"""The scheduler: one process per machine runs the jobs; each run is recorded for /healthz."""
import subprocess
import sys

from app.extensions import db
from app.reminders import scheduler
from app.reminders.models import SchedulerRun


def test_jobs_coalesce_and_never_overlap(app):
    jobs = scheduler.build(app)
    jobs.start(paused=True)  # jobs get their settings when the scheduler starts
    try:
        assert {job.id for job in jobs.get_jobs()} == {"rules", "dispatch", "prune"}
        for job in jobs.get_jobs():
            assert job.coalesce is True and job.max_instances == 1
    finally:
        jobs.shutdown(wait=False)


def test_a_second_process_does_not_take_the_lock(app, tmp_path):
    """SQLite: the lock file in instance/; PostgreSQL: the advisory lock (tests/test_scheduler_leader.py)."""
    app.config["SCHEDULER_LOCK_FILE"] = str(tmp_path / "scheduler.lock")
    if db.engine.dialect.name == "postgresql":
        code = ("import sys, time, psycopg; c = psycopg.connect(sys.argv[1], autocommit=True); "
                f"c.execute('SELECT pg_advisory_lock({scheduler.LEADER_LOCK})'); print('locked', flush=True); "
                "time.sleep(30)")
        target = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    else:
        code = ("import fcntl, sys, time; f = open(sys.argv[1], 'w'); "
                "fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB); print('locked', flush=True); time.sleep(30)")
        target = app.config["SCHEDULER_LOCK_FILE"]
    holder = subprocess.Popen([sys.executable, "-c", code, target], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert scheduler._lock_file is None and scheduler._leader is None
        assert scheduler.start_in_background(app) is False
        assert "scheduler" not in app.extensions
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


def test_each_run_is_recorded_and_reported_by_healthz(app, synced, client):
    assert scheduler.run_job(app, "rules") == {}
    assert scheduler.run_job(app, "dispatch") == {}
    db.session.expire_all()
    runs = {run.job: run for run in db.session.query(SchedulerRun)}
    assert set(runs) == {"rules", "dispatch"} and all(run.ok for run in runs.values())
    health = client.get("/healthz").get_json()
    assert health["status"] == "ok"
    assert set(health["scheduler"]["jobs"]) == {"rules", "dispatch"}
    assert health["scheduler"]["jobs"]["rules"]["ok"] is True


def test_a_failing_job_is_recorded_not_raised(app, monkeypatch):
    def broken(session, now):
        raise RuntimeError("database went away")
    monkeypatch.setattr("app.reminders.scheduler.run_rules", broken)  # the name the job calls
    detail = scheduler.run_job(app, "rules")
    assert detail == {"error": "database went away"}
    db.session.expire_all()
    assert db.session.get(SchedulerRun, "rules").ok is False
