"""Every trainee action through the API, over real HTTP with a bearer token: 打卡 and 补卡 (JSON and multipart),
the calendar, lessons, the feed, the inbox, reminder preferences, quiz attempts in steps, check-in corrections.
The refusals (wrong types, oversized photos, a task not yet open, someone else's things) store nothing."""
import struct
import zlib
from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import time_machine

from app.accounts.models import Role
from app.camp import feed, photos
from app.camp.models import FeedComment, FeedLike, FeedPost, Photo, TaskCheckin
from app.checkins.models import Checkin
from app.reminders.models import InboxMessage
from app.database import utcnow
from app.extensions import db
from app.learning.models import LessonProgress
from app.quizzes.models import QuizAttempt
from tests.conftest import make_cohort, make_user
from tests.factories import api_headers, count, jpeg
from tests.live import serving
from tests.quiz_helpers import load_test_quizzes

START = date(2026, 5, 4)
NOW = datetime(2026, 5, 5, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(timezone.utc)  # day 2, noon
DAY1, DAY2, DAY3 = "orientation-and-list", "invite-and-start-group", "welcome-and-rules"


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=True):  # ticking: the server thread's clock moves on
        yield


@pytest.fixture
def people(synced):
    cohort = make_cohort("Spring cohort", "SPRING", START)
    other = make_cohort("Other cohort", "OTHER", START)
    mei = make_user("mei@example.com", cohort=cohort, name="美美", locale="en")
    lan = make_user("lan@example.com", cohort=cohort, name="Lan", locale="en")
    bo = make_user("bo@example.com", cohort=other, name="Bo", locale="en")
    mentor = make_user("mentor@example.com", Role.MENTOR, cohort, locale="en")
    for user in (mei, lan, bo):
        user.created_at = datetime(2026, 4, 1, tzinfo=timezone.utc)
    db.session.commit()
    return {"mei": mei, "lan": lan, "bo": bo, "mentor": mentor}


@pytest.fixture
def http(app, people):
    with serving(app) as session:
        session.headers.update(api_headers(people["mei"]))
        yield session


def uploaded_files(app) -> list[Path]:
    folder = Path(app.config["UPLOAD_DIR"])
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def huge_png(width=6000, height=6000) -> bytes:
    """A PNG whose header declares 36 megapixels, in a few bytes: refused from the header, never decoded."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


# --- 打卡 and 补卡 ---------------------------------------------------------------------------------------

def test_today_s_task_checked_in_with_json(http):
    response = http.post("/api/v1/today/checkins", json={"text": "Two said yes", "number": 3, "share": True})
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["task_key"], body["day"], body["date"], body["is_makeup"], body["shared"]) == (
        DAY2, 2, "2026-05-05", False, True)
    assert count(TaskCheckin) == 1 and count(FeedPost) == 1
    again = http.post("/api/v1/today/checkins", json={"text": "again"})
    assert again.status_code == 422 and "already checked in" in again.json()["error"]
    assert count(TaskCheckin) == 1
    assert http.get("/api/v1/today").json()["done"] is True


def test_a_missed_day_made_up_with_a_photo_in_a_multipart_form(http, app):
    response = http.post("/api/v1/today/checkins", data={"task_key": DAY1, "number": "12"},
                         files=[("photos", ("list.jpg", jpeg(), "image/jpeg"))])
    assert response.status_code == 201, response.text
    assert response.json()["is_makeup"] is True and len(response.json()["photos"]) == 1
    assert count(Photo) == 1 and len(uploaded_files(app)) == 3     # the full size, its thumbnail and medium size
    photo = db.session.scalar(sa.select(Photo))
    assert photo.thumb_width == 40 and photo.thumb_height == 30
    assert {p.name for p in uploaded_files(app)} == {photos.sized_key(photo.storage_key, size)
                                                     for size in ("full", *photos.SIZES)}
    calendar = http.get("/api/v1/calendar").json()
    states = {d["date"]: d["state"] for d in calendar["days"]}
    assert states["2026-05-04"] == "made_up" and states["2026-05-05"] == "today"
    assert calendar["streak"] == {"current": 1, "longest": 1} and calendar["month"] == "2026-05"


@pytest.mark.parametrize("payload, field", [
    ({"task_key": DAY3, "text": "early"}, None),                 # not yet open
    ({"text": ""}, "number"),                                     # today's asks for a number
    ({"text": 5}, "text"),
    ({"text": "ok", "share": "yes"}, "share"),
    ({"task_key": DAY1, "number": "twelve"}, "number"),
    ({"task_key": DAY1, "number": [12]}, "number"),
    ({"task_key": DAY1, "number": -3}, "number"),
    ({"text": "ok", "colour": "red"}, "colour"),
    ({"text": "\ud800"}, "text"),
])
def test_refused_check_ins_answer_422_and_store_nothing(http, payload, field):
    response = http.post("/api/v1/today/checkins", json=payload)
    assert response.status_code == 422, response.text
    if field:
        assert field in response.json()["fields"]
    else:
        assert "opens on" in response.json()["error"]
    assert count(TaskCheckin) == 0


def test_an_unknown_task_is_404_and_a_body_that_is_not_an_object_422(http):
    assert http.post("/api/v1/today/checkins", json={"task_key": "nope"}).status_code == 404
    assert http.post("/api/v1/today/checkins", json=[1, 2]).status_code == 422
    assert count(TaskCheckin) == 0


def test_an_oversized_photo_or_too_many_stores_nothing(http, app):
    app.config["UPLOAD_MAX_BYTES"] = 2000
    big = http.post("/api/v1/today/checkins", data={"task_key": DAY1, "number": "12"},
                    files=[("photos", ("a.jpg", jpeg(), "image/jpeg")),
                           ("photos", ("big.jpg", jpeg((800, 800)) + b"\0" * 4000, "image/jpeg"))])
    assert big.status_code == 422 and "photos" in big.json()["fields"], big.text
    app.config["UPLOAD_MAX_BYTES"] = 8 * 1024 * 1024
    many = http.post("/api/v1/today/checkins", data={"task_key": DAY1, "number": "12"},
                     files=[("photos", (f"{i}.jpg", jpeg(), "image/jpeg")) for i in range(4)])
    assert many.status_code == 422 and "photos" in many.json()["fields"]
    not_an_image = http.post("/api/v1/today/checkins", data={"task_key": DAY1, "number": "12"},
                             files=[("photos", ("a.jpg", b"not an image", "image/jpeg"))])
    assert not_an_image.status_code == 422
    too_many_pixels = http.post("/api/v1/today/checkins", data={"task_key": DAY1, "number": "12"},
                                files=[("photos", ("long.png", huge_png(), "image/png"))])
    assert too_many_pixels.status_code == 422 and "megapixels" in too_many_pixels.json()["fields"]["photos"]
    assert count(TaskCheckin) == 0 and count(Photo) == 0 and uploaded_files(app) == []


def test_a_storage_that_fails_midway_answers_503_and_keeps_nothing(http, app, monkeypatch):
    real_save, calls = photos.LocalStorage.save, []

    def save(self, key, data):
        calls.append(key)
        if len(calls) % 4 == 0:  # the second photo's full size: the first photo's three files are written
            raise OSError(28, "No space left on device")
        real_save(self, key, data)
    monkeypatch.setattr(photos.LocalStorage, "save", save)
    two = [("photos", (f"{i}.jpg", jpeg(), "image/jpeg")) for i in range(2)]
    checkin = http.post("/api/v1/today/checkins", data={"task_key": DAY1, "number": "12"}, files=two)
    assert checkin.status_code == 503, checkin.text
    assert "nothing was kept" in checkin.json()["error"] and "photos" in checkin.json()["fields"]
    win = http.post("/api/v1/feed", data={"text": "Look"}, files=two)
    assert win.status_code == 503 and "nothing was kept" in win.json()["error"], win.text
    assert len(calls) == 8
    assert count(TaskCheckin) == 0 and count(FeedPost) == 0 and count(Photo) == 0 and uploaded_files(app) == []


def test_the_camp_is_for_trainees_and_the_token_is_required(http, people, app):
    mentor = api_headers(people["mentor"])
    assert http.post("/api/v1/today/checkins", json={"text": "x"}, headers=mentor).status_code == 403
    assert http.get("/api/v1/calendar", headers=mentor).status_code == 403
    assert http.get("/api/v1/feed", headers=mentor).status_code == 403
    assert http.post("/api/v1/today/checkins", json={"text": "x"},
                     headers={"Authorization": "Bearer nope"}).status_code == 401
    assert http.get("/api/v1/calendar", params={"month": "2026-13"}).status_code == 422
    assert count(TaskCheckin) == 0


# --- lessons ---------------------------------------------------------------------------------------------------

def test_a_lesson_s_html_and_markdown_and_marking_it_done_and_not(http):
    lesson = http.get("/api/v1/courses/group-building/lessons/warm-contacts")
    assert lesson.status_code == 200
    body = lesson.json()
    assert body["html"].lstrip().startswith("<") and body["markdown"].startswith("## ")
    assert not body["markdown"].startswith("---") and body["is_done"] is False
    done = http.put("/api/v1/courses/group-building/lessons/warm-contacts/done")
    assert done.status_code == 200 and done.json()["is_done"] is True and done.json()["done"] == 1
    assert count(LessonProgress) == 1
    assert http.get("/api/v1/courses/group-building/lessons/warm-contacts").json()["is_done"] is True
    undone = http.delete("/api/v1/courses/group-building/lessons/warm-contacts/done")
    assert undone.status_code == 200 and undone.json()["done"] == 0
    assert http.put("/api/v1/courses/group-building/lessons/nope/done").status_code == 404
    assert http.get("/api/v1/courses/nope/lessons/warm-contacts").status_code == 404


def test_the_lesson_comes_in_chinese_for_a_chinese_caller(http, people):
    people["mei"].locale = "zh"
    db.session.commit()
    body = http.get("/api/v1/courses/group-building/lessons/warm-contacts").json()
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["markdown"][:200])


# --- the feed --------------------------------------------------------------------------------------------------

def test_post_list_like_comment_and_delete_her_own_win(http, people):
    posted = http.post("/api/v1/feed", json={"text": "First order!"})
    assert posted.status_code == 201, posted.text
    post_id = posted.json()["id"]
    page = http.get("/api/v1/feed").json()
    assert [p["id"] for p in page["posts"]] == [post_id] and page["posts"][0]["is_own"] is True
    assert http.put(f"/api/v1/feed/{post_id}/like").json() == {"id": post_id, "likes": 1, "liked": True}
    assert http.put(f"/api/v1/feed/{post_id}/like").json()["likes"] == 1     # liking twice is one like
    assert http.delete(f"/api/v1/feed/{post_id}/like").json() == {"id": post_id, "likes": 0, "liked": False}
    comment = http.post(f"/api/v1/feed/{post_id}/comments", json={"body": "Well done"})
    assert comment.status_code == 201 and count(FeedComment) == 1
    assert http.post(f"/api/v1/feed/{post_id}/comments", json={"body": "  "}).status_code == 422
    assert http.post(f"/api/v1/feed/{post_id}/comments", json={"body": 3}).status_code == 422
    assert count(FeedComment) == 1
    assert http.delete(f"/api/v1/feed/{post_id}").json() == {"id": post_id, "deleted": True}
    assert http.get("/api/v1/feed").json()["posts"] == []


def test_a_win_with_a_photo_and_the_refusals(http, app):
    posted = http.post("/api/v1/feed", data={"text": "Look"}, files=[("photos", ("w.jpg", jpeg(), "image/jpeg"))])
    assert posted.status_code == 201 and len(posted.json()["photos"]) == 1
    before = (count(FeedPost), count(Photo), len(uploaded_files(app)))
    assert http.post("/api/v1/feed", json={}).status_code == 422                     # nothing to share
    assert http.post("/api/v1/feed", json={"text": 42}).status_code == 422
    assert http.post("/api/v1/feed", data={"text": "x"},
                     files=[("photos", ("a.jpg", b"GIF89a", "image/jpeg"))]).status_code == 422
    assert (count(FeedPost), count(Photo), len(uploaded_files(app))) == before


def test_others_posts_cannot_be_deleted_and_another_cohort_s_cannot_be_seen(http, people):
    now = utcnow()
    lans = feed.post_win(db.session, people["lan"], "Lan's win", [], now)
    bos = feed.post_win(db.session, people["bo"], "Bo's win", [], now)
    db.session.commit()
    assert http.delete(f"/api/v1/feed/{lans.id}").status_code == 404
    assert http.put(f"/api/v1/feed/{lans.id}/like").status_code == 200              # her cohort's: she may like
    for method, path in [("put", "/like"), ("delete", "/like"), ("delete", "")]:
        assert getattr(http, method)(f"/api/v1/feed/{bos.id}{path}").status_code == 404
    assert http.post(f"/api/v1/feed/{bos.id}/comments", json={"body": "hi"}).status_code == 404
    assert http.put("/api/v1/feed/0/like").status_code == 404
    db.session.expire_all()
    assert db.session.get(FeedPost, lans.id).deleted_at is None and count(FeedComment) == 0
    assert count(FeedLike) == 1


# --- the inbox and preferences --------------------------------------------------------------------------------

def test_the_inbox_lists_and_marks_read(http, people):
    db.session.add(InboxMessage(recipient_id=people["mei"].id, sender_id=people["mentor"].id, category="nudge",
                                title="Hi", body="Keep going", created_at=utcnow()))
    db.session.add(InboxMessage(recipient_id=people["lan"].id, category="nudge", body="Not hers"))
    db.session.commit()
    inbox = http.get("/api/v1/inbox").json()
    assert inbox["unread"] == 1 and [m["body"] for m in inbox["messages"]] == ["Keep going"]
    assert http.get("/api/v1/inbox").json()["unread"] == 1        # listing marks nothing
    assert http.post("/api/v1/inbox/read").json()["marked"] == 1
    assert http.get("/api/v1/inbox").json()["unread"] == 0


def test_reminder_preferences_read_and_changed_with_the_page_s_rules(http, people):
    current = http.get("/api/v1/preferences").json()
    assert current["send_at"] and current["shares_earnings"] is False
    saved = http.put("/api/v1/preferences", json={"send_at": "21:30", "quiet_start": "22:00",
                                                  "quiet_end": "07:00", "shares_earnings": True})
    assert saved.status_code == 200, saved.text
    assert (saved.json()["send_at"], saved.json()["quiet_start"], saved.json()["shares_earnings"]) == (
        "21:30", "22:00", True)
    for bad, field in [({"send_at": "25:99"}, "send_at"), ({"quiet_start": "22:00"}, "quiet_end"),
                       ({"email_enabled": "yes"}, "email_enabled"), ({"colour": 1}, "colour"),
                       ({"email_categories": {"nope": True}}, "email_categories")]:
        refused = http.put("/api/v1/preferences", json=bad)
        assert refused.status_code == 422 and field in refused.json()["fields"], (bad, refused.text)
    assert http.get("/api/v1/preferences").json()["send_at"] == "21:30"


# --- quiz attempts in steps ------------------------------------------------------------------------------------

def test_start_save_resume_and_submit_an_attempt(http, people):
    load_test_quizzes()
    started = http.post("/api/v1/quizzes/sample/start")
    assert started.status_code == 201, started.text
    attempt = started.json()
    assert attempt["state"] == "in_progress" and attempt["questions"]
    assert all("correct" not in str(q).lower() for q in attempt["questions"])
    assert http.post("/api/v1/quizzes/sample/start").json()["id"] == attempt["id"]  # her open one again
    pick = next(q for q in attempt["questions"] if q["id"] == "pick")
    saved = http.put(f"/api/v1/attempts/{attempt['id']}/answers", json={"answers": {"pick": pick["options"][0]["id"]}})
    assert saved.status_code == 200 and saved.json()["saved_at"]
    resumed = http.get(f"/api/v1/attempts/{attempt['id']}").json()
    assert resumed["answers"]["pick"] == pick["options"][0]["id"]
    assert [q["id"] for q in resumed["questions"]] == [q["id"] for q in attempt["questions"]]
    assert http.put(f"/api/v1/attempts/{attempt['id']}/answers", json={"answers": "all"}).status_code == 422
    submitted = http.post(f"/api/v1/attempts/{attempt['id']}/submit", json={"answers": {}})
    assert submitted.status_code == 200 and submitted.json()["state"] in ("graded", "awaiting_review")
    assert http.put(f"/api/v1/attempts/{attempt['id']}/answers", json={"answers": {}}).status_code == 409
    bo = api_headers(people["bo"])
    assert http.get(f"/api/v1/attempts/{attempt['id']}", headers=bo).status_code == 404
    assert http.post(f"/api/v1/attempts/{attempt['id']}/submit", json={"answers": {}}, headers=bo).status_code == 404
    assert http.post("/api/v1/quizzes/nope/start").status_code == 404
    assert count(QuizAttempt) == 1


# --- correcting a check-in --------------------------------------------------------------------------------------

def test_a_check_in_corrected_keeps_its_history_and_refusals_change_nothing(http):
    day = "2026-05-05"
    assert http.post("/api/v1/checkins", json={"date": day, "earnings": "12.50", "orders": 2}).status_code == 201
    corrected = http.put(f"/api/v1/checkins/{day}", json={"earnings": "20", "orders": 3})
    assert corrected.status_code == 200, corrected.text
    assert (corrected.json()["earnings"], corrected.json()["orders"], corrected.json()["revisions"]) == ("20.00", 3, 1)
    for bad in ({"earnings": "abc"}, {"earnings": "1", "orders": -1}, {"earnings": "1", "date": "2026-05-04"}):
        assert http.put(f"/api/v1/checkins/{day}", json=bad).status_code == 422
    assert http.put("/api/v1/checkins/2026-05-04", json={"earnings": "1"}).status_code == 404
    assert http.put("/api/v1/checkins/not-a-day", json={"earnings": "1"}).status_code == 404
    db.session.expire_all()
    [row] = db.session.scalars(sa.select(Checkin)).all()
    assert (row.earnings_fen, row.orders, len(row.revisions)) == (2000, 3, 1)
