"""What people type never becomes markup: every page that shows user text, rendered with a payload in
every such field, as the trainee, her mentor and an admin; the CSV import preview (reflected: the raw
cells, and messages built from lazy translation strings); and names in the mentor's digest, which the
inbox shows as Markdown: a name is text, never a link.

The world is the access matrix's (tests/test_access_matrix.py: every route, real ids), with every text
field people fill in replaced by the payload.
"""
import base64

import pytest
import sqlalchemy as sa

from app import create_app
from app.accounts.models import User
from app.api.models import ApiToken
from app.camp.models import FeedComment, FeedPost, TaskCheckin
from app.checkins.models import Checkin
from app.cohorts.models import Cohort, MentorNote
from app.reminders.models import InboxMessage
from app.database import utcnow
from app.extensions import db
from app.quizzes.models import QuizAttempt
from app.reminders import outbox
from app.shops.models import Shop, ShopMember
from tests.conftest import Client, _test_config
from tests.factories import english, sign_in
from tests.test_access_matrix import concrete, routes, seed

SCRIPT = "<script>alert(1)</script>"
IMAGE = "<img src=x onerror=alert(1)>"
PAYLOAD = f"{SCRIPT}{IMAGE}"
MARKDOWN_NAME = "[领奖](https://evil.example)"
RAW = ("<script>alert", "<img src=x", 'href="https://evil.example')
SKIPPED = ("/static/", "/bootstrap/", "/api/", "/healthz", "/photos/", "/posters/", ".png", "/logout")


def payload_everywhere(w) -> None:
    """Every field a person types that some page shows."""
    for user in db.session.scalars(sa.select(User)):
        user.name = f"{user.name[:10]}{PAYLOAD}"
    w.lan.name = MARKDOWN_NAME
    for cohort in db.session.scalars(sa.select(Cohort)):
        cohort.name = f"{cohort.name}{PAYLOAD}"
    for model, field in ((Checkin, "note"), (TaskCheckin, "text"), (FeedPost, "text"), (ApiToken, "name"),
                         (Shop, "name"), (ShopMember, "external_id")):
        db.session.execute(sa.update(model).values({field: PAYLOAD}))
    mei, coach = w.people["trainee"], w.people["mentor"]
    db.session.add(FeedComment(post_id=w.post.id, user_id=coach.id, body=PAYLOAD, created_at=utcnow()))
    db.session.add_all([
        MentorNote(trainee_id=mei.id, author_id=coach.id, body=PAYLOAD),
        MentorNote(trainee_id=mei.id, author_id=coach.id, body=PAYLOAD, kind=MentorNote.TASK_COMMENT,
                   task_checkin_id=w.task_checkin.id),
        InboxMessage(recipient_id=mei.id, sender_id=coach.id, title=PAYLOAD, body=PAYLOAD)])
    for attempt in db.session.scalars(sa.select(QuizAttempt)):
        attempt.answers = {question_id: PAYLOAD for question_id in attempt.answers} or attempt.answers
    w.essay_attempt.answers = {w.essay_id: PAYLOAD}
    db.session.commit()


@pytest.fixture(scope="module")
def world(database_url, content, tmp_path_factory):
    app = create_app(_test_config(database_url, UPLOAD_DIR=str(tmp_path_factory.mktemp("uploads"))))
    app.test_client_class = Client
    with app.app_context():
        w = seed(content)
        payload_everywhere(w)
        yield app, w
        db.session.remove()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())
        db.engine.dispose()


def unescaped(text: str) -> list[str]:
    return [raw for raw in RAW if raw in text]


@pytest.mark.parametrize("persona", ["trainee", "mentor", "admin"])
def test_every_page_escapes_what_people_typed(world, persona):
    app, w = world
    client = english(app.test_client())
    sign_in(client, w.people[persona])
    seen, problems = 0, []
    for key, method, rule in routes(app):
        url = concrete(rule, w)
        if method != "GET" or any(part in url for part in SKIPPED):
            continue
        response = client.get(url)
        assert response.status_code < 500, (url, response.status_code)
        if response.mimetype != "text/html":
            continue
        seen += 1
        if found := unescaped(response.text):
            problems.append(f"{url}: {found}")
    assert seen >= 15 and not problems, problems


def test_the_payload_is_shown_as_text(world):
    app, w = world
    client = english(app.test_client())
    sign_in(client, w.people["mentor"])
    page = client.get(f"/cohorts/{w.home.id}/trainees/{w.people['trainee'].id}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page


CSV = ("mobile,email,date,earnings,orders\n"
       f",{SCRIPT}@x.example,2026-01-01,{IMAGE},{SCRIPT}\n"
       f",nobody@example.com,{IMAGE},12.00,1\n")


def test_the_import_preview_escapes_the_cells_and_the_messages_built_from_them(world):
    app, w = world
    client = english(app.test_client())
    sign_in(client, w.people["mentor"])
    response = client.post("/import/preview", data={"text": CSV})
    assert response.status_code in (200, 422), response.status_code
    assert "Unknown trainee" in response.text or "Bad date" in response.text
    assert not unescaped(response.text), unescaped(response.text)
    # A registered trainee's name, in a message about her row (stored, then reflected).
    mei = w.people["trainee"]
    rows = f"mobile,email,date,earnings\n,{mei.email},2000-01-01,5\n"
    response = client.post("/import/preview", data={"text": rows})
    assert "started on" in response.text and not unescaped(response.text)
    response = client.post("/import/confirm", data={"csv": base64.b64encode(CSV.encode()).decode(), "digest": "0"})
    assert response.status_code < 500 and not unescaped(response.text)


def test_a_name_in_the_mentors_digest_is_text_not_a_link(world):
    app, w = world
    coach, now = w.people["mentor"], utcnow()
    outbox.write(db.session, [{"key": f"digest-{channel}", "rule": "mentor_digest", "category": "digest",
                               "occasion": "escaping", "channel": channel, "user_id": coach.id, "due_at": now,
                               "params": {"count": 2, "names": [MARKDOWN_NAME, f"Mei{PAYLOAD}"]}}
                              for channel in ("inapp",)], now)
    db.session.commit()
    outbox.dispatch(db.session, now)
    client = english(app.test_client())
    sign_in(client, coach)
    inbox = client.get("/inbox").text
    assert "[领奖](https://evil.example)" in inbox          # as she typed it
    assert not unescaped(inbox), unescaped(inbox)


def test_the_registration_form_escapes_the_name_it_gives_back(world):
    app, w = world
    response = english(app.test_client()).post(f"/invite/{w.home.invite_code}", data={
        "name": PAYLOAD, "mobile": "12", "email": "", "password": "x", "confirm": "y", "timezone": "Asia/Shanghai"})
    assert response.status_code == 422 and not unescaped(response.text)
