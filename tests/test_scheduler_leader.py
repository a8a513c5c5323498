"""Two machines run `academy scheduler` on one PostgreSQL database: one leads (an advisory lock), the
other stands by and takes over when the leader stops. Real processes, each with its own lock file (as
on two machines, where the file lock cannot see the other)."""
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.reminders.models import SchedulerRun

REPO = Path(__file__).resolve().parent.parent
ACADEMY = REPO / ".venv" / "bin" / "academy"


@pytest.fixture
def pg_url(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: the leader's advisory lock")
    return database_url


def scheduler_process(pg_url: str, machine: str, tmp_path: Path) -> subprocess.Popen:
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("SMTP_", "ACADEMY_", "FLASK_", "SCHEDULER_")) and k != "SECRET_KEY"}
    environment.update(DATABASE_URL=pg_url, ACADEMY_CONTENT_ROOT=str(REPO), SECRET_KEY="leader-test",
                       SCHEDULER_RULES_SECONDS="1", SCHEDULER_DISPATCH_SECONDS="1",
                       SCHEDULER_LOCK_FILE=str(tmp_path / f"{machine}.lock"))
    with open(tmp_path / f"{machine}.log", "w") as out:
        return subprocess.Popen([str(ACADEMY), "scheduler"], env=environment, stdout=out, stderr=subprocess.STDOUT,
                                cwd=REPO)


def runners(seconds: float) -> set[int]:
    """The pids that recorded job runs during the next `seconds`."""
    seen, deadline = set(), time.monotonic() + seconds
    while time.monotonic() < deadline:
        db.session.rollback()  # a fresh snapshot each time
        seen.update(int(host.rsplit(":", 1)[1]) for host in db.session.scalars(
            sa.select(SchedulerRun.host).where(SchedulerRun.host.is_not(None))))
        time.sleep(0.2)
    return seen


def test_one_leader_runs_the_jobs_and_a_standby_takes_over(pg_url, app, synced, tmp_path):
    first = scheduler_process(pg_url, "machine-a", tmp_path)
    second = scheduler_process(pg_url, "machine-b", tmp_path)
    processes = {first.pid: first, second.pid: second}
    try:
        deadline = time.monotonic() + 60
        while not runners(0.5) and time.monotonic() < deadline:
            pass
        seen = runners(4)  # both are up and each job has run a few times: only one of them ran any
        assert len(seen) == 1 and seen <= set(processes), (seen, set(processes))
        [leader] = seen
        standby = next(pid for pid in processes if pid != leader)
        assert processes[standby].poll() is None  # standing by, not exited
        processes[leader].send_signal(signal.SIGTERM)
        processes[leader].wait(30)
        deadline = time.monotonic() + 60
        while standby not in runners(0.5) and time.monotonic() < deadline:
            pass
        assert standby in runners(0.1), (tmp_path / "machine-b.log").read_text()[-2000:]
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
