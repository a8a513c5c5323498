"""The admins' outbox page: counts per state, dead letters with their tries, sending them again."""
from datetime import timedelta

import sqlalchemy as sa

from app.core.access import Role
from app.core.audit import AuditEntry
from app.database import utcnow
from app.extensions import db
from app.reminders.models import DeliveryTry, OutboxMessage
from tests.conftest import login, make_user


def message(state: str, *, user=None, cohort=None, channel="email", rule="checkin_due", tries=0,
            errors=(), died=None) -> OutboxMessage:
    """An outbox row, with one DeliveryTry per error (the last one `died` ago, the others before it)."""
    now = utcnow()
    died = now - (died or timedelta(minutes=5))
    recipient = f"user:{user.id}" if user else f"cohort:{cohort.id}"
    row = OutboxMessage(key=f"{recipient}/{rule}/{died.isoformat()}/{channel}", rule=rule, category="checkin",
                        occasion=died.date().isoformat(), channel=channel, user_id=user.id if user else None,
                        cohort_id=cohort.id if cohort else None, params={}, state=state, due_at=died,
                        next_try_at=died, tries=tries or len(errors), last_error=errors[-1] if errors else None)
    db.session.add(row)
    db.session.flush()
    for n, error in enumerate(errors):
        at = died - timedelta(minutes=len(errors) - 1 - n)
        db.session.add(DeliveryTry(message_id=row.id, worker="host-1:42", started_at=at, finished_at=at,
                                   outcome="dead" if n == len(errors) - 1 else "retry", error=error))
    db.session.commit()
    return row


def test_admin_sees_counts_and_dead_letters_with_their_errors_and_tries(admin_client, cohort, trainee):
    message(OutboxMessage.SENT, user=trainee, rule="no_lesson")
    message(OutboxMessage.PENDING, user=trainee, rule="behind")
    old = message(OutboxMessage.DEAD, user=trainee, errors=["SMTP 451 try later", "SMTP 550 mailbox unavailable"],
                  died=timedelta(hours=3))
    new = message(OutboxMessage.DEAD, cohort=cohort, channel="wecom", rule="group_digest",
                  errors=["errcode 93000: invalid webhook url"], died=timedelta(minutes=1))
    page = admin_client.get("/admin/outbox")
    assert page.status_code == 200
    text = page.text
    for state, count in (("pending", 1), ("claimed", 0), ("sent", 1), ("dead", 2), ("skipped", 0)):
        block = text.split(f'id="count-{state}"', 1)[1].split("</li>", 1)[0]
        assert f">{count}<" in block, state
    # Newest first: the group robot that died a minute ago, then her email.
    assert text.index(f'id="message-{new.id}"') < text.index(f'id="message-{old.id}"')
    mine = text.split(f'id="message-{old.id}"', 1)[1].split('id="message-', 1)[0]
    assert "美美" in mine and "SMTP 550 mailbox unavailable" in mine and "2 tries" in mine
    assert "SMTP 451 try later" in mine  # in the list of every try
    assert "Spring cohort" in text and "errcode 93000" in text and "WeCom group robot" in text
    assert 'href="/admin/outbox"' in admin_client.get("/admin/cohorts").text  # in the admin navigation


def test_dead_letters_are_paged(admin_client, trainee):
    for n in range(51):
        message(OutboxMessage.DEAD, user=trainee, rule=f"rule{n}", errors=["boom"], died=timedelta(minutes=n + 1))
    first = admin_client.get("/admin/outbox").text
    assert "rule0<" in first and "rule49<" in first and "rule50<" not in first
    assert "rule50<" in admin_client.get("/admin/outbox?page=2").text


def test_the_outbox_is_for_admins_only(make_app, cohort, trainee):
    coach = make_user("coach@example.com", role=Role.MENTOR, cohort=cohort)
    dead = message(OutboxMessage.DEAD, user=trainee, errors=["boom"])
    app = make_app()
    anonymous = app.test_client()
    for method, url in (("GET", "/admin/outbox"), ("POST", "/admin/outbox/retry")):
        response = anonymous.open(url, method=method, data={"all": "1"})
        assert response.status_code == 302 and "/login" in response.location
        for person in (trainee, coach):
            client = app.test_client()
            login(client, person.email)
            assert client.open(url, method=method, data={"all": "1"}).status_code == 404, (person.role, url)
    db.session.expire_all()
    assert db.session.get(OutboxMessage, dead.id).state == OutboxMessage.DEAD
    assert db.session.scalar(sa.select(sa.func.count(AuditEntry.id))) == 0


def audit_entries() -> list[AuditEntry]:
    return list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "outbox.retry")
                                   .order_by(AuditEntry.id)))


def test_retry_one_requeues_it_and_is_audited(admin_client, boss, cohort, trainee):
    one = message(OutboxMessage.DEAD, user=trainee, errors=["boom"])
    other = message(OutboxMessage.DEAD, cohort=cohort, channel="feishu", errors=["bang"])
    response = admin_client.post("/admin/outbox/retry", data={"message_id": str(one.id)})
    assert response.status_code == 302 and response.location.endswith("/admin/outbox")
    db.session.expire_all()
    assert db.session.get(OutboxMessage, one.id).state == OutboxMessage.PENDING
    assert db.session.get(OutboxMessage, other.id).state == OutboxMessage.DEAD
    [entry] = audit_entries()
    assert entry.actor_id == boss.id and entry.target == f"outbox:{one.id}"
    assert entry.details["ids"] == [one.id] and entry.details["requeued"] == 1
    assert "1 message queued to be sent again." in admin_client.get("/admin/outbox").text


def test_retry_all_dead_requeues_every_dead_one_only(admin_client, cohort, trainee):
    dead = [message(OutboxMessage.DEAD, user=trainee, rule=f"r{n}", errors=["boom"]) for n in range(3)]
    sent = message(OutboxMessage.SENT, user=trainee, rule="done")
    assert admin_client.post("/admin/outbox/retry", data={"all": "1"}).status_code == 302
    db.session.expire_all()
    assert {db.session.get(OutboxMessage, m.id).state for m in dead} == {OutboxMessage.PENDING}
    assert db.session.get(OutboxMessage, sent.id).state == OutboxMessage.SENT
    [entry] = audit_entries()
    assert entry.target == "outbox" and entry.details["requeued"] == 3
    assert "No failed messages." in admin_client.get("/admin/outbox").text


def test_retry_of_something_not_dead_changes_nothing(admin_client, trainee):
    sent = message(OutboxMessage.SENT, user=trainee)
    response = admin_client.post("/admin/outbox/retry", data={"message_id": str(sent.id)}, follow_redirects=True)
    assert "Nothing to send again" in response.text
    db.session.expire_all()
    assert db.session.get(OutboxMessage, sent.id).state == OutboxMessage.SENT
    assert admin_client.post("/admin/outbox/retry", data={"message_id": "x"}).status_code == 400
