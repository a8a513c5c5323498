"""The outbox under a slow channel (claims carry a token: no double send), the unsubscribe headers as
they go over the wire, and the admins' alert when a channel has dead letters."""
import threading
import time
from datetime import timedelta

import sqlalchemy as sa

from app.accounts.models import User
from app.core.access import Role
from app.database import utcnow
from app.extensions import db
from app.reminders import outbox
from app.reminders.email import EmailChannel
from app.reminders.models import DeliveryTry, OutboxMessage
from app.reminders.preferences import unsubscribe_token
from tests.factories import PASSWORD, login, make_user
from tests.servers import smtp_sink  # noqa: F401
from tests.test_channels import make_message, rendered

MESSAGES = 12


def security_notices(count: int, now) -> list[int]:
    """`count` women each with one email due now (a security notice: no quiet hours hold it back)."""
    users = [User(name=f"学员{i}", email=f"u{i}@example.com", password_hash="-", role=Role.TRAINEE)
             for i in range(count)]
    db.session.add_all(users)
    db.session.flush()
    outbox.write(db.session, [{"key": outbox.key_for(f"user:{u.id}", "password_changed", "slow", "email"),
                               "rule": "password_changed", "category": "security", "occasion": "slow",
                               "channel": "email", "user_id": u.id, "due_at": now - timedelta(minutes=1)}
                              for u in users], now)
    db.session.commit()
    return [u.id for u in users]


def test_two_dispatchers_and_a_slow_mail_server_send_each_message_once(make_app, smtp_sink):
    """The claim times out (4 s) long before the first dispatcher is through its batch (12 x 0.5 s):
    it keeps extending its claim while it works, so the second one, trying all along, takes nothing.
    (One send must stay well inside the timeout, also on a busy machine: a send that outlasts the claim
    can go out twice, which is why the timeout is minutes in production.)"""
    app = make_app(**smtp_sink.config, REMINDER_CLAIM_TIMEOUT=4)
    smtp_sink.delay = 0.5
    with app.app_context():
        security_notices(MESSAGES, utcnow())
    results, errors = {}, []

    def dispatcher(name: str, until: threading.Event | None):
        try:
            with app.app_context():
                while True:
                    outcomes = outbox.dispatch(db.session, worker=name)
                    results.setdefault(name, []).append(dict(outcomes))
                    if until is None or until.is_set():
                        return
                    time.sleep(0.2)
        except Exception as error:   # a failure in a thread must fail the test
            errors.append(error)

    first_done = threading.Event()
    first = threading.Thread(target=lambda: (dispatcher("first", None), first_done.set()))
    second = threading.Thread(target=dispatcher, args=("second", first_done))
    first.start()
    time.sleep(0.3)
    second.start()
    first.join(60)
    second.join(60)
    assert not errors, errors

    recipients = sorted(str(m["To"]) for m in smtp_sink.messages)
    assert len(recipients) == MESSAGES and len(set(recipients)) == MESSAGES, recipients
    assert results["first"] == [{"sent": MESSAGES}]
    assert all(not outcome for outcome in results["second"]), results["second"]
    with app.app_context():
        assert db.session.scalars(sa.select(OutboxMessage.state)).all() == [OutboxMessage.SENT] * MESSAGES
        assert db.session.scalar(sa.select(sa.func.count(DeliveryTry.id))) == MESSAGES
        assert db.session.scalar(sa.select(sa.func.count(OutboxMessage.id))
                                 .where(OutboxMessage.claim_token.is_not(None))) == 0


def test_a_dispatcher_whose_claim_was_released_acts_on_none_of_its_rows(app):
    now = utcnow()
    ids = security_notices(3, now)
    mine = outbox.claim(db.session, now, "slow", 10, "token-slow")
    db.session.commit()
    assert len(mine) == 3 and outbox.hold(db.session, "token-slow", now) == set(mine)
    later = now + timedelta(seconds=app.config["REMINDER_CLAIM_TIMEOUT"] + 1)
    assert outbox.release_stuck(db.session, later) == 3            # it looked dead
    theirs = outbox.claim(db.session, later, "fast", 10, "token-fast")
    db.session.commit()
    assert theirs == mine and len(ids) == 3
    # The slow one comes back: it holds nothing, and cannot record an outcome on any of them.
    assert outbox.hold(db.session, "token-slow", later) == set()
    assert not any(outbox._settle(db.session, message_id, "token-slow") for message_id in mine)
    assert all(outbox._settle(db.session, message_id, "token-fast") for message_id in mine)


# --- email headers -------------------------------------------------------------------------------

def test_list_unsubscribe_goes_out_raw_not_rfc2047_encoded(make_app, smtp_sink):
    app = make_app(**smtp_sink.config, BASE_URL="https://academy.example.com",
                   SMTP_FROM="小B学院 <academy@example.com>")
    with app.app_context():
        mei = make_user("mei@example.com", name="美美")
        url = f"https://academy.example.com/unsubscribe/{unsubscribe_token(mei.id, 'checkin')}"
        assert len(url) > 78          # too long for one folded line: what made it come out encoded
        EmailChannel().send(make_message("email"), rendered("zh", unsubscribe_url=url))

    [raw] = smtp_sink.raw
    headers = raw.split(b"\n\n", 1)[0].decode("ascii")
    assert f"\nList-Unsubscribe: <{url}>\n" in headers
    assert "\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\n" in headers
    unsubscribe_lines = [line for line in headers.split("\n") if line.startswith("List-Unsubscribe")]
    assert not any("=?" in line for line in unsubscribe_lines)


# --- dead letters --------------------------------------------------------------------------------

def test_admins_see_an_alert_on_every_page_while_a_channel_has_dead_letters(admin_client, trainee):
    now = utcnow()
    outbox.write(db.session, [{"key": f"k{i}", "rule": "checkin_due", "category": "checkin", "occasion": str(i),
                               "channel": "email", "user_id": trainee.id, "due_at": now} for i in range(2)], now)
    db.session.commit()
    assert "dead-letter-alert" not in admin_client.get("/admin/cohorts").text
    db.session.execute(sa.update(OutboxMessage).values(state=OutboxMessage.DEAD, last_error="550 no such user"))
    db.session.commit()
    for page in ("/admin/cohorts", "/admin/users", "/cohorts"):
        text = admin_client.get(page).text
        assert 'id="dead-letter-alert"' in text and "Email (2)" in text and 'href="/admin/outbox"' in text, page
    # Retried: the alert goes.
    admin_client.post("/admin/outbox/retry", data={"all": "1"})
    assert "dead-letter-alert" not in admin_client.get("/admin/cohorts").text


def test_no_one_but_an_admin_sees_the_alert(make_app, cohort, trainee):
    mentor = make_user("coach@example.com", role=Role.MENTOR, cohort=cohort)
    db.session.add(OutboxMessage(key="dead", rule="nudge", category="nudge", occasion="x", channel="email",
                                 user_id=trainee.id, state=OutboxMessage.DEAD, due_at=utcnow(),
                                 next_try_at=utcnow()))
    db.session.commit()
    for person, page in ((trainee, "/progress"), (mentor, "/cohorts")):
        client = make_app().test_client()
        login(client, person.email, PASSWORD)
        assert "dead-letter-alert" not in client.get(page).text
