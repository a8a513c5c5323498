"""Reminders across real processes on PostgreSQL: `academy reminders tick|dispatch` run as the
production scheduler would run them, against real local SMTP and HTTP servers.

- two `tick` processes at the same moment send every message exactly once;
- a dispatcher killed (SIGKILL) while a send is in flight leaves its message `claimed`; another
  process leaves it alone until the claim timeout, then sends it, once;
- a claim takes at most its batch, so that several dispatchers share the work (a claim that took
  every due row once, when PostgreSQL planned its subquery's LIMIT away, is why this test exists).

PostgreSQL only (SQLite has one writer at a time, and its dispatchers never overlap): skipped
without TEST_DATABASE_URL, an error with REQUIRE_POSTGRES=1.
"""
import os
import re
import signal
import subprocess
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.core.access import Role
from app.cohorts.models import Cohort
from app.reminders.models import InboxMessage
from app.extensions import db
from app.reminders import outbox
from app.reminders.email import message_id
from app.reminders.models import DeliveryTry, OutboxMessage
from app.reminders.robots import sign_webhook
from tests.factories import on
from tests.servers import http_sink, smtp_sink  # noqa: F401  (fixtures)

if not os.environ.get("TEST_DATABASE_URL"):
    if os.environ.get("REQUIRE_POSTGRES") == "1":
        pytest.fail("REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set", pytrace=False)
    pytest.skip("PostgreSQL only: set TEST_DATABASE_URL", allow_module_level=True)

REPO = Path(__file__).resolve().parent.parent
ACADEMY = REPO / ".venv" / "bin" / "academy"
START = date(2026, 3, 2)  # day 1 of the cohort, a check-in day
TRAINEES = 300
WITH_EMAIL = range(0, TRAINEES, 3)  # a third of them also get email (SMTP is the slow part)
SECRET = "hook-secret"


@pytest.fixture
def pg_url(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: several dispatchers at once")
    return database_url


def academy(pg_url: str, *args: str, out: Path, **env: str) -> subprocess.Popen:
    """Start `academy <args>` as production runs it: configured by the environment only."""
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("SMTP_", "ACADEMY_", "FLASK_")) and k not in ("DATABASE_URL", "SECRET_KEY")}
    environment.update(DATABASE_URL=pg_url, ACADEMY_CONTENT_ROOT=str(REPO), SECRET_KEY="process-test",
                       ACADEMY_BASE_URL="https://academy.example", SCHEDULER_ENABLED="0", **env)
    stdout = open(out, "w")  # files, not pipes: a process blocked on a full pipe could hold a lock
    try:
        return subprocess.Popen([str(ACADEMY), *args], env=environment, stdout=stdout, stderr=subprocess.STDOUT,
                                cwd=REPO)
    finally:
        stdout.close()


def finish(process: subprocess.Popen, out: Path, timeout: float = 45) -> str:
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"{process.args} did not finish in {timeout} s:\n{out.read_text()}")
    text = out.read_text()
    assert process.returncode == 0, f"{process.args} exited with {process.returncode}:\n{text}"
    return text


def reported_counts(line: str, text: str) -> Counter:
    """`rules: 12 new (...)` -> {"new": 12}; `dispatch: sent 3, skipped 1` -> {"sent": 3, "skipped": 1}."""
    found = re.search(rf"^{line}: (.*)$", text, re.M)
    assert found, text
    if line == "rules":
        return Counter(new=int(found.group(1).split()[0]))
    return Counter({k: int(v) for k, v in re.findall(r"(\w+) (\d+)", found.group(1))})


def robot_cohort(sink_url: str, name: str = "三月营", code: str = "MARCH1") -> Cohort:
    cohort = Cohort(name=name, invite_code=code, start_date=START, timezone="Asia/Shanghai",
                    robot_kind="webhook", robot_webhook=sink_url, robot_secret=SECRET)
    db.session.add(cohort)
    db.session.commit()
    return cohort


def seed_trainees(cohort: Cohort, n: int) -> list[int]:
    """n trainees (every third with an email address), none checked in yet: each is due today's check-in
    reminder."""
    joined = on(-2, "10:00", start=START)
    return db.session.scalars(sa.insert(User.__table__).returning(User.id, sort_by_parameter_order=True), [
        {"name": f"学员{i:03d}", "email": f"t{i:03d}@example.com" if i in WITH_EMAIL else None,
         "mobile": f"1380000{i:04d}",
         "password_hash": "-", "role": Role.TRAINEE.value, "timezone": "Asia/Shanghai", "locale": None,
         "cohort_id": cohort.id, "is_active": True, "session_token": f"token-{i}", "created_at": joined,
         "last_login_at": None} for i in range(n)]).all()


def test_two_ticks_at_the_same_moment_send_each_message_once(pg_url, app, synced, http_sink, smtp_sink, tmp_path):
    cohort = robot_cohort(http_sink.url("/hook"))
    ids = seed_trainees(cohort, TRAINEES)
    db.session.commit()
    moment = on(1, "21:45", start=START).isoformat()  # past her 21:40 reminder time, before quiet hours

    smtp = {"SMTP_HOST": smtp_sink.host, "SMTP_PORT": str(smtp_sink.port)}
    outs = [tmp_path / "tick-1.txt", tmp_path / "tick-2.txt"]
    processes = [academy(pg_url, "reminders", "tick", "--now", moment, out=out, **smtp) for out in outs]
    texts = [finish(process, out) for process, out in zip(processes, outs)]

    db.session.commit()  # a fresh transaction: see what the processes wrote
    rows = db.session.execute(sa.select(OutboxMessage.id, OutboxMessage.rule, OutboxMessage.channel,
                                        OutboxMessage.state, OutboxMessage.tries, OutboxMessage.key)).all()
    # Today's check-in reminder to each (in-app, and email when she has an address) and one digest to
    # the group's webhook;
    # other rules may add their own messages: they too must go out once each.
    assert Counter((r.rule, r.channel) for r in rows if r.rule in ("checkin_due", "group_digest")) == {
        ("checkin_due", "inapp"): TRAINEES, ("checkin_due", "email"): len(WITH_EMAIL),
        ("group_digest", "webhook"): 1}
    # Each message was written by one process only, and sent by one only...
    assert sum((reported_counts("rules", t) for t in texts), Counter()) == {"new": len(rows)}, texts
    assert sum((reported_counts("dispatch", t) for t in texts), Counter()) == {"sent": len(rows)}, texts
    assert {(r.state, r.tries) for r in rows} == {(OutboxMessage.SENT, 1)}
    tries = db.session.execute(sa.select(DeliveryTry.message_id, DeliveryTry.outcome)).all()
    assert sorted(t.message_id for t in tries) == sorted(r.id for r in rows)  # one try per message
    assert {t.outcome for t in tries} == {"sent"}

    # ...and arrived once: one inbox message per in-app row, one email per email row, one POST per webhook row.
    keys = {channel: sorted(r.key for r in rows if r.channel == channel) for channel in ("inapp", "email", "webhook")}
    assert sorted(db.session.scalars(sa.select(InboxMessage.outbox_key))) == keys["inapp"]
    assert sorted(db.session.scalars(sa.select(InboxMessage.recipient_id).join(
        OutboxMessage, OutboxMessage.key == InboxMessage.outbox_key).where(OutboxMessage.rule == "checkin_due"))) \
        == sorted(ids)
    sender = app.config["SMTP_FROM"]
    assert sorted(m["Message-ID"] for m in smtp_sink.messages) == sorted(message_id(k, sender) for k in keys["email"])
    assert Counter(rcpt for _, tos in smtp_sink.envelopes for rcpt in tos) == Counter(
        db.session.scalars(sa.select(User.email).join(OutboxMessage, OutboxMessage.user_id == User.id)
                           .where(OutboxMessage.channel == "email")))
    assert sorted(r.headers["idempotency-key"] for r in http_sink.requests) == keys["webhook"]
    digest = next(r for r in http_sink.accepted if r.json["rule"] == "group_digest")
    assert digest.json["recipient"]["cohort_id"] == cohort.id
    assert digest.headers["x-academy-signature"] == sign_webhook(
        SECRET, int(digest.headers["x-academy-timestamp"]), digest.body)


def test_a_dispatcher_killed_mid_send_leaves_a_claim_that_is_sent_once_after_the_timeout(
        pg_url, app, synced, http_sink, tmp_path):
    cohort = robot_cohort(http_sink.url("/hook"))
    noon = on(1, "12:00", start=START)  # no rule is due at noon: the outbox holds only this message
    key = outbox.key_for(f"cohort:{cohort.id}", "nudge", "kill-test", "webhook")
    assert outbox.write(db.session, [{
        "key": key, "rule": "nudge", "category": "nudge", "occasion": "kill-test", "channel": "webhook",
        "cohort_id": cohort.id, "due_at": noon, "params": {"mentor": "王老师", "text": "今晚八点直播"}}], noon) == 1
    db.session.commit()
    message_id = db.session.scalar(sa.select(OutboxMessage.id))

    # The platform holds its answer (and then refuses): the dispatcher is mid-send when it dies.
    http_sink.answer(503, {"errcode": -1, "errmsg": "busy"}, delay=30)
    out = tmp_path / "dispatch-killed.txt"
    process = academy(pg_url, "reminders", "dispatch", "--now", noon.isoformat(), out=out)
    deadline = time.monotonic() + 30
    while not http_sink.requests:
        assert process.poll() is None, out.read_text()
        assert time.monotonic() < deadline, "the dispatcher never posted"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)

    def row():
        db.session.commit()
        return db.session.get(OutboxMessage, message_id, populate_existing=True)

    message = row()
    assert message.state == OutboxMessage.CLAIMED
    assert message.claimed_by.endswith(f":{process.pid}") and message.claimed_at == noon
    assert message.tries == 0 and message.sent_at is None
    assert db.session.scalar(sa.select(sa.func.count(DeliveryTry.id))) == 0
    assert [r.headers["idempotency-key"] for r in http_sink.requests] == [key]
    assert http_sink.accepted == []

    # Before the claim timeout another dispatcher leaves it alone: its owner may still be sending.
    soon = noon + timedelta(seconds=app.config["REMINDER_CLAIM_TIMEOUT"] - 10)
    out = tmp_path / "dispatch-soon.txt"
    text = finish(academy(pg_url, "reminders", "dispatch", "--now", soon.isoformat(), out=out), out)
    assert "nothing due" in text, text
    assert row().state == OutboxMessage.CLAIMED
    assert len(http_sink.requests) == 1

    # After it, the claim is released and the next tick sends the message, once.
    later = noon + timedelta(seconds=app.config["REMINDER_CLAIM_TIMEOUT"] + 60)
    out = tmp_path / "tick-later.txt"
    text = finish(academy(pg_url, "reminders", "tick", "--now", later.isoformat(), out=out), out)
    assert reported_counts("rules", text) == {"new": 0}, text
    assert reported_counts("dispatch", text) == {"sent": 1}, text

    message = row()
    assert (message.state, message.tries, message.sent_at, message.claimed_by) == (
        OutboxMessage.SENT, 1, later, None)
    assert db.session.execute(sa.select(DeliveryTry.outcome)).scalars().all() == ["sent"]
    assert [r.headers["idempotency-key"] for r in http_sink.requests] == [key, key]
    assert [r.headers["idempotency-key"] for r in http_sink.accepted] == [key]
    assert http_sink.accepted[0].json["title"] == "王老师 给你留言"


def test_a_claim_takes_at_most_its_batch_so_dispatchers_share_the_work(pg_url, app):
    noon = on(1, "12:00", start=START)

    def rows(prefix: str, n: int) -> list[dict]:
        return [{"key": f"{prefix}/{i}", "rule": "nudge", "category": "nudge", "occasion": str(i), "channel": "inapp",
                 "due_at": noon, "params": {"mentor": "-", "text": "-"}} for i in range(n)]

    outbox.write(db.session, rows("yesterday", 2000), noon)
    db.session.execute(sa.update(OutboxMessage).values(state=OutboxMessage.SENT, sent_at=noon))
    db.session.commit()
    with db.engine.begin() as conn:
        conn.execute(sa.text("ANALYZE outbox"))  # as autovacuum would have overnight
    outbox.write(db.session, rows("tonight", 500), noon)  # tonight's rules, dispatched at once
    db.session.commit()

    with Session(db.engine) as first, Session(db.engine) as second:
        mine = outbox.claim(first, noon, "first", 20)
        first.commit()
        theirs = outbox.claim(second, noon, "second", 20)
        second.commit()
    assert (len(mine), len(theirs)) == (20, 20)
    assert not set(mine) & set(theirs)
