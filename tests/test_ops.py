"""Operations: `academy backup|restore` (SQLite), `academy serve` (gunicorn), JSON logs, /admin/metrics."""
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.core.access import Role
from app.database import utcnow
from app.extensions import db
from app.ops.metrics import collect
from app.reminders import outbox
from app.reminders.models import OutboxMessage, SchedulerRun
from tests.conftest import REPO, count_queries, login, make_cohort, make_user

REQUEST_FIELDS = {"method", "path", "status", "duration_ms", "user_id", "remote_addr"}


def sqlite_only(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's backup API: PostgreSQL uses pg_dump (see the refusal test)")
    return Path(db.engine.url.database)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def request_lines(text: str) -> list[dict]:
    return [line for line in json_lines(text) if line.get("msg") == "request"]


# --- backup and restore ------------------------------------------------------------------------

def _rows(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _counts(path: Path) -> dict[str, int]:
    tables = [name for (name,) in _rows(path, "SELECT name FROM sqlite_master WHERE type = 'table' "
                                              "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    return {table: _rows(path, f'SELECT count(*) FROM "{table}"')[0][0] for table in tables}


def test_backup_of_the_live_database_restores_into_a_fresh_one(app, make_app, tmp_path):
    live = sqlite_only(app)
    cohort = make_cohort("Spring cohort", "SPRING1")
    for i in range(5):
        make_user(f"t{i}@example.com", cohort=cohort, name=f"学员{i}")
    make_user("boss@example.com", role=Role.ADMIN)
    backup = tmp_path / "backups" / "academy.db"

    # The database is live: another connection holds an uncommitted write while the backup runs.
    writer = db.engine.connect()
    try:
        writer.execute(sa.text("BEGIN IMMEDIATE"))
        writer.execute(sa.update(User).where(User.email == "t0@example.com").values(name="uncommitted"))
        result = app.test_cli_runner().invoke(args=["backup", str(backup)])
    finally:
        writer.rollback()
        writer.close()
    assert result.exit_code == 0, result.output
    assert "backup:" in result.output and backup.is_file()
    assert not list(backup.parent.glob("*.partial"))  # written under a temporary name, then renamed
    assert _rows(backup, "PRAGMA journal_mode") == [("delete",)]  # one self-contained file

    fresh_path = tmp_path / "fresh" / "academy.db"
    fresh = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{fresh_path}")
    with fresh.app_context():  # the command runs on the current app: here, the fresh one
        result = fresh.test_cli_runner().invoke(args=["restore", str(backup), "--yes"])
    assert result.exit_code == 0, result.output
    assert "restore:" in result.output

    assert _counts(fresh_path) == _counts(live)
    assert _counts(fresh_path)["users"] == 6
    sample = 'SELECT id, name, email, role, cohort_id, session_token FROM users ORDER BY id'
    assert _rows(fresh_path, sample) == _rows(live, sample)
    assert ("t0@example.com",) in _rows(fresh_path, "SELECT email FROM users WHERE name = '学员0'")
    assert _rows(fresh_path, "SELECT * FROM cohorts") == _rows(live, "SELECT * FROM cohorts")
    assert _rows(fresh_path, "SELECT * FROM alembic_version") == _rows(live, "SELECT * FROM alembic_version")
    assert _rows(fresh_path, "PRAGMA journal_mode") == [("wal",)]  # as the app runs it
    with fresh.app_context():  # and the app reads it
        assert db.session.scalar(sa.select(sa.func.count(User.id))) == 6


def test_restore_refuses_a_file_that_is_not_a_database_of_this_app(app, tmp_path):
    live = sqlite_only(app)
    make_user("kept@example.com")
    before = _counts(live)
    runner = app.test_cli_runner()

    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 10)
    result = runner.invoke(args=["restore", str(text), "--yes"])
    assert result.exit_code == 1
    assert "is not an SQLite database" in result.output

    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE things (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    result = runner.invoke(args=["restore", str(other), "--yes"])
    assert result.exit_code == 1
    assert "not one of this app (no alembic_version table)" in result.output

    result = runner.invoke(args=["restore", str(tmp_path / "missing.db"), "--yes"])
    assert result.exit_code == 1 and "no such file" in result.output

    assert _counts(live) == before  # nothing was touched


def test_restore_asks_before_replacing_the_live_database(app, tmp_path):
    sqlite_only(app)
    backup = tmp_path / "b.db"
    runner = app.test_cli_runner()
    assert runner.invoke(args=["backup", str(backup)]).exit_code == 0
    make_user("later@example.com")
    result = runner.invoke(args=["restore", str(backup)], input="n\n")
    assert result.exit_code == 1 and "Aborted" in result.output
    assert db.session.scalar(sa.select(User.id).where(User.email == "later@example.com")) is not None


def test_backup_and_restore_refuse_on_postgresql(app, tmp_path):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs TEST_DATABASE_URL: the PostgreSQL refusal")
    runner = app.test_cli_runner()
    for args in (["backup", str(tmp_path / "x.db")], ["restore", str(tmp_path / "x.db"), "--yes"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 1
        assert "SQLite only" in result.output and "pg_dump" in result.output
        assert "postgres@" not in result.output  # the URL (and any password in it) is not printed
    assert not (tmp_path / "x.db").exists()


# --- academy serve -----------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_defaults():
    from app.ops.commands import MAX_WORKERS, cores, default_workers, gunicorn_options
    assert default_workers() == min(2 * cores() + 1, MAX_WORKERS)
    options = gunicorn_options("::1", 8000, 3, 30, 25)
    assert options["bind"] == "[::1]:8000" and options["workers"] == 3
    assert options["accesslog"] is None and options["graceful_timeout"] == 25
    assert gunicorn_options("127.0.0.1", 8000, 3, 30, 25)["bind"] == "127.0.0.1:8000"


def test_serve_runs_gunicorn_without_the_scheduler(database_url, tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "SMTP_"))}
    env.update(DATABASE_URL=database_url, SECRET_KEY="serve-test", ACADEMY_CONTENT_ROOT=str(REPO),
               SCHEDULER_ENABLED="1", LOG_LEVEL="INFO")  # the workers must ignore SCHEDULER_ENABLED
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        server = subprocess.Popen(
            [sys.executable, "-c", "from app.cli import main; main()", "serve", "--port", str(port), "--workers", "1"],
            env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 8
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    status, body = response.status, json.loads(response.read())
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
    finally:
        server.terminate()  # SIGTERM: gunicorn's graceful stop
        try:
            server.wait(timeout=8)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
            pytest.fail(f"gunicorn did not stop on SIGTERM:\n{log.read_text()}")
    text = log.read_text()
    assert status == 200 and body["status"] == "ok"
    assert body["scheduler"]["running_here"] is False
    assert "gunicorn" in text and server.returncode == 0, text
    assert "SCHEDULER_ENABLED is ignored" in text
    [line] = [line for line in request_lines(text) if line["path"] == "/healthz"]
    assert line["status"] == 200 and line["method"] == "GET"


# --- structured logs ---------------------------------------------------------------------------

@pytest.fixture
def logging_app(make_app):
    """An app that logs requests (LOG_LEVEL=INFO), in an app context as the test client needs."""
    app = make_app(LOG_LEVEL="INFO")
    with app.app_context():
        yield app
        db.session.remove()


def test_each_request_logs_one_json_line(logging_app, capsys):
    client = logging_app.test_client()
    mei = make_user("mei@example.com", cohort=make_cohort("Spring cohort", "SPRING1"))
    capsys.readouterr()

    assert client.get("/healthz", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 200
    [line] = request_lines(capsys.readouterr().err)
    assert REQUEST_FIELDS <= set(line)
    assert line["method"] == "GET" and line["path"] == "/healthz" and line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["user_id"] is None and line["remote_addr"] == "192.0.2.7"
    assert line["level"] == "INFO" and line["logger"] == "app" and "time" in line

    assert login(client, mei.email).status_code == 302
    client.get("/")  # the process builds its content snapshot once
    capsys.readouterr()
    with count_queries() as queries:
        client.get("/")
        home = queries()
    [line] = request_lines(capsys.readouterr().err)
    assert line["user_id"] == mei.id and line["status"] == 200 and line["path"] == "/"

    client.get("/reset/very-secret-token?x=1")  # secrets in the path and the query string stay out of the log
    [line] = request_lines(capsys.readouterr().err)
    assert line["path"] == "/reset/<token>" and line["status"] == 404
    assert "very-secret-token" not in json.dumps(line)

    # Logging costs no query: the same page with the log off runs as many.
    logging_app.logger.setLevel("WARNING")
    with count_queries() as queries:
        client.get("/")
        assert queries() == home
    assert request_lines(capsys.readouterr().err) == []


def test_an_unhandled_error_is_logged_as_500(logging_app, capsys):
    logging_app.config["PROPAGATE_EXCEPTIONS"] = False

    @logging_app.get("/boom")
    def boom():
        raise RuntimeError("boom")

    capsys.readouterr()
    assert logging_app.test_client().get("/boom").status_code == 500
    err = capsys.readouterr().err
    [line] = request_lines(err)
    assert line["status"] == 500 and line["path"] == "/boom"
    assert any("RuntimeError: boom" in entry.get("exception", "") for entry in json_lines(err))


def test_tests_are_quiet_unless_asked(app, client, capsys):
    client.get("/healthz")
    assert request_lines(capsys.readouterr().err) == []


def test_delivery_log_lines_are_json_with_their_fields(logging_app, capsys):
    mei = make_user("mei@example.com", cohort=make_cohort("Spring cohort", "SPRING1"))
    now = utcnow()
    db.session.add(OutboxMessage(key=f"user:{mei.id}/nudge/x/inapp", rule="nudge", category="nudge",
                                 occasion="x", channel="inapp", user_id=mei.id,
                                 params={"text": "加油", "from_name": "Mentor"}, state=OutboxMessage.PENDING,
                                 due_at=now - timedelta(minutes=1), next_try_at=now - timedelta(minutes=1)))
    db.session.commit()
    capsys.readouterr()
    outbox.dispatch(db.session, now)
    logging_app.logger.info("imported", extra={"rows": 3, "source": "shop.csv"})
    lines = json_lines(capsys.readouterr().err)
    [delivery] = [line for line in lines if line["msg"].startswith("delivery ")]
    assert delivery["channel"] == "inapp" and delivery["rule"] == "nudge"
    assert isinstance(delivery["message"], int) and isinstance(delivery["tries"], int)
    assert delivery["outcome"] in ("sent", "skipped", "retry", "dead")
    [imported] = [line for line in lines if line["msg"] == "imported"]
    assert imported["rows"] == 3 and imported["source"] == "shop.csv"


def test_proxy_fix_trusts_forwarded_headers_only_when_configured(make_app, capsys):
    headers = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    local = {"REMOTE_ADDR": "127.0.0.1"}
    seen = {}
    for proxies in ("0", "1"):
        app = make_app(LOG_LEVEL="INFO", PROXY_FIX=proxies)

        @app.get("/scheme")
        def scheme():
            from flask import request
            return request.scheme

        with app.app_context():
            capsys.readouterr()
            seen[proxies] = app.test_client().get("/scheme", headers=headers, environ_base=local).text
            [line] = request_lines(capsys.readouterr().err)
            seen[proxies] = (line["remote_addr"], seen[proxies])
            db.session.remove()
    assert seen == {"0": ("127.0.0.1", "http"), "1": ("203.0.113.9", "https")}


# --- /admin/metrics ----------------------------------------------------------------------------

def _message(user, state, channel, age: timedelta, n: int) -> OutboxMessage:
    moment = utcnow() - age
    return OutboxMessage(key=f"user:{user.id}/checkin_due/{n}/{channel}", rule="checkin_due", category="checkin",
                         occasion=str(n), channel=channel, user_id=user.id, params={}, state=state,
                         due_at=moment, next_try_at=moment,
                         claimed_at=moment if state == OutboxMessage.CLAIMED else None)


def test_metrics_for_admins_only(app, client, cohort):
    boss = make_user("boss@example.com", role=Role.ADMIN)
    mentor = make_user("mentor@example.com", role=Role.MENTOR, cohort=cohort)
    mei = make_user("mei@example.com", cohort=cohort)
    gone = make_user("gone@example.com", cohort=cohort)
    gone.is_active = False
    db.session.add_all([
        _message(mei, OutboxMessage.PENDING, "email", timedelta(minutes=10), 1),
        _message(mei, OutboxMessage.PENDING, "email", timedelta(minutes=2), 2),
        _message(mei, OutboxMessage.PENDING, "inapp", timedelta(minutes=1), 3),
        _message(mei, OutboxMessage.CLAIMED, "email", timedelta(seconds=30), 4),
        _message(mei, OutboxMessage.DEAD, "email", timedelta(hours=1), 5),
        _message(mei, OutboxMessage.SENT, "inapp", timedelta(hours=2), 6),
    ])
    now = utcnow()
    db.session.add(SchedulerRun(job="dispatch", started_at=now - timedelta(seconds=40),
                                finished_at=now - timedelta(seconds=39), ok=True, detail={}, host="web1:42"))
    db.session.commit()

    anonymous = client.get("/admin/metrics")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    for person in (mentor, mei):
        other = app.test_client()
        assert login(other, person.email).status_code == 302
        assert other.get("/admin/metrics").status_code == 404

    assert login(client, boss.email).status_code == 302
    response = client.get("/admin/metrics")
    assert response.status_code == 200 and response.is_json
    assert response.headers["Cache-Control"] == "no-store"
    data = response.json
    assert data["database"]["dialect"] == db.engine.dialect.name
    box = data["outbox"]
    assert box["queue"] == {"pending": {"email": 2, "inapp": 1}, "claimed": {"email": 1}}
    assert box["queue_total"] == 4 and box["dead"] == 1
    assert 590 <= box["oldest_pending_age_seconds"] <= 700
    assert 590 <= box["dispatch_lag_seconds"] <= 700
    assert 25 <= box["oldest_claim_age_seconds"] <= 120
    assert data["scheduler"]["dispatch"]["ok"] is True and data["scheduler"]["dispatch"]["host"] == "web1:42"
    assert 35 <= data["scheduler"]["dispatch"]["age_seconds"] <= 120
    users = data["users"]
    assert users["by_role"] == {"admin": 1, "mentor": 1, "trainee": 2}
    assert users["active_by_role"] == {"admin": 1, "mentor": 1, "trainee": 1}


def test_metrics_take_a_fixed_number_of_queries(app, cohort):
    mei = make_user("mei@example.com", cohort=cohort)
    with count_queries() as empty:
        collect(db.session, utcnow())
    db.session.add_all(_message(mei, OutboxMessage.PENDING, channel, timedelta(minutes=n), n)
                       for n, channel in enumerate(["email", "inapp", "email", "wecom"] * 10))
    db.session.commit()
    with count_queries() as full:
        collect(db.session, utcnow())
    assert full() == empty() <= 8
