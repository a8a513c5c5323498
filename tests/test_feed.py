"""The wins feed: who sees posts and photos, moderation, her own posts, likes, comments, XSS, queries."""
import io
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from PIL import Image
from werkzeug.datastructures import FileStorage

from app.core.access import Role
from app.camp import feed, photos
from app.camp.models import CampTask, FeedComment, FeedLike, FeedPost, Photo, TaskCheckin
from app.checkins.models import Checkin
from app.core.audit import AuditEntry
from app.database import utcnow
from app.extensions import db
from tests.conftest import count_queries, make_cohort, make_user
from tests.factories import client_as, jpeg


@pytest.fixture
def world(app):
    """Cohort A: Mei (the author), Lan, their mentor. Cohort B: Bo and her mentor. An admin."""
    a, b = make_cohort("Cohort A", "AAAA1"), make_cohort("Cohort B", "BBBB1")
    # locale="en": pages in English, whatever state the Chinese catalogue is in.
    people = {
        "mei": make_user("mei@example.com", cohort=a, name="Mei", locale="en"),
        "lan": make_user("lan@example.com", cohort=a, name="Lan", locale="en"),
        "bo": make_user("bo@example.com", cohort=b, name="Bo", locale="en"),
        "mentor_a": make_user("ma@example.com", role=Role.MENTOR, cohort=a, locale="en"),
        "mentor_b": make_user("mb@example.com", role=Role.MENTOR, cohort=b, locale="en"),
        "admin": make_user("admin@example.com", role=Role.ADMIN, locale="en"),
    }
    return type("World", (), {"a": a, "b": b, **people})


def stored_photo(user) -> Photo:
    return photos.save_upload(db.session, user, FileStorage(io.BytesIO(jpeg()), "p.jpg"), utcnow())


def task_checkin(user, text="Day 1 done", shared=False) -> TaskCheckin:
    task = db.session.scalar(sa.select(CampTask).where(CampTask.key == "day-1")) or CampTask(
        key="day-1", day=1, title_zh="第一天", title_en="First day", proof=["text", "photo"])
    checkin = TaskCheckin(user_id=user.id, task=task, day=date.today(), text=text)
    db.session.add(checkin)
    db.session.flush()
    stored_photo(user).checkin_id = checkin.id
    if shared:
        feed.share_checkin(db.session, checkin, utcnow())
    db.session.commit()
    return checkin


def win(user, text="First order!", with_photo=True) -> FeedPost:
    post = feed.post_win(db.session, user, text, [stored_photo(user)] if with_photo else [], utcnow())
    db.session.commit()
    return post


def photo_url(photo) -> str:
    return f"/photos/{photo.id}.jpg"


def test_photos_of_an_unshared_checkin_are_hers_and_her_mentors_only(app, world):
    checkin = task_checkin(world.mei, text="private notes")
    photo = checkin.photos[0]
    assert client_as(app, world.mei).get(photo_url(photo)).status_code == 200
    assert client_as(app, world.mentor_a).get(photo_url(photo)).status_code == 200
    assert client_as(app, world.admin).get(photo_url(photo)).status_code == 200
    for viewer in (world.lan, world.bo, world.mentor_b, None):
        assert client_as(app, viewer).get(photo_url(photo)).status_code == 404
    # Never in the feed: not for her cohort, not for her mentor.
    assert db.session.scalar(sa.select(sa.func.count(FeedPost.id))) == 0
    assert "private notes" not in client_as(app, world.lan).get("/feed").text
    assert "private notes" not in client_as(app, world.mentor_a).get(f"/cohorts/{world.a.id}/feed").text


def test_a_shared_checkin_reaches_her_cohort_only(app, world):
    checkin = task_checkin(world.mei, text="Posted in my group 3 times", shared=True)
    photo = checkin.photos[0]
    page = client_as(app, world.lan).get("/feed")
    assert "Posted in my group 3 times" in page.text and photo_url(photo) in page.text
    assert "First day" in page.text  # the task it was for
    assert client_as(app, world.lan).get(photo_url(photo)).status_code == 200
    assert "Posted in my group" not in client_as(app, world.bo).get("/feed").text
    for viewer in (world.bo, world.mentor_b, None):
        assert client_as(app, viewer).get(photo_url(photo)).status_code == 404
    # Sharing again (she edits her 打卡) updates the same post.
    checkin.text = "Posted 4 times"
    feed.share_checkin(db.session, checkin, utcnow())
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(FeedPost.id))) == 1
    assert "Posted 4 times" in client_as(app, world.lan).get("/feed").text


def test_photo_response_headers(app, world):
    post = win(world.mei)
    response = client_as(app, world.lan).get(photo_url(post.photos[0]))
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert response.headers["Cache-Control"].startswith("private")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert Image.open(io.BytesIO(response.data)).format == "JPEG"


def test_guessed_ids_answer_404(app, world):
    post = win(world.mei)
    mei, bo = client_as(app, world.mei), client_as(app, world.bo)
    top = db.session.scalar(sa.select(sa.func.max(Photo.id)))
    assert mei.get(f"/photos/{top + 1}.jpg").status_code == 404
    assert mei.get("/photos/abc.jpg").status_code == 404
    for action in ("like", "comment", "delete", "pin", "highlight", "hide"):
        assert mei.post(f"/feed/{post.id + 1000}/{action}", data={"body": "hi"}).status_code == 404, action
        assert bo.post(f"/feed/{post.id}/{action}", data={"body": "hi"}).status_code == 404, action
    assert client_as(app, world.mentor_b).get(f"/cohorts/{world.a.id}/feed").status_code == 404
    assert client_as(app, world.lan).get(f"/cohorts/{world.a.id}/feed").status_code == 404
    anonymous = client_as(app)
    assert anonymous.get("/feed").status_code == 302  # to the login page
    assert anonymous.get(photo_url(post.photos[0])).status_code == 404
    assert db.session.scalar(sa.select(sa.func.count(FeedComment.id))) == 0


def test_can_see_post_and_photo_rules(app, world):
    from flask_login import AnonymousUserMixin
    post = win(world.mei)
    photo = post.photos[0]
    assert feed.can_see_post(world.lan, post) and feed.can_see_post(world.mentor_a, post)
    assert not feed.can_see_post(world.bo, post) and not feed.can_see_post(world.mentor_b, post)
    assert not feed.can_see_post(AnonymousUserMixin(), post) and not feed.can_see_post(None, post)
    assert not feed.can_see_photo(db.session, AnonymousUserMixin(), photo)
    assert feed.can_see_photo(db.session, world.admin, photo)
    loose = stored_photo(world.mei)  # uploaded, attached to nothing yet
    db.session.commit()
    assert feed.can_see_photo(db.session, world.mei, loose)
    assert not feed.can_see_photo(db.session, world.lan, loose)


def test_posting_a_win_with_photos_through_the_form(app, world):
    mei = client_as(app, world.mei)
    response = mei.post("/feed", data={"text": "My first ¥50!", "photos": [
        (io.BytesIO(jpeg()), "a.jpg"), (io.BytesIO(jpeg(color=(0, 0, 200))), "b.jpg")]},
        content_type="multipart/form-data")
    assert response.status_code == 302
    post = db.session.scalar(sa.select(FeedPost))
    assert post.kind == FeedPost.WIN and post.text == "My first ¥50!" and len(post.photos) == 2
    page = client_as(app, world.lan).get("/feed").text
    assert "My first ¥50!" in page and all(photo_url(p) in page for p in post.photos)


def test_a_bad_photo_refuses_the_whole_post_and_keeps_her_text(app, world, tmp_path):
    response = client_as(app, world.mei).post("/feed", data={"text": "Look at this", "photos": [
        (io.BytesIO(jpeg()), "a.jpg"), (io.BytesIO(b"<svg><script>alert(1)</script></svg>"), "b.jpg")]},
        content_type="multipart/form-data")
    assert response.status_code == 422
    assert "JPEG, PNG or WebP" in response.text and "Look at this" in response.text
    assert db.session.scalar(sa.select(sa.func.count(FeedPost.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(Photo.id))) == 0
    uploads = tmp_path / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []
    too_many = client_as(app, world.mei).post("/feed", data={"text": "x", "photos": [
        (io.BytesIO(jpeg()), f"{n}.jpg") for n in range(4)]}, content_type="multipart/form-data")
    assert too_many.status_code == 422 and "At most 3 photos" in too_many.text
    assert db.session.scalar(sa.select(sa.func.count(Photo.id))) == 0


def test_mentor_hide_is_audited_and_hides_the_post_from_trainees(app, world):
    post = win(world.mei, text="Something off-topic")
    photo = post.photos[0]
    assert client_as(app, world.lan).post(f"/feed/{post.id}/hide").status_code == 404  # not a mentor
    assert client_as(app, world.mentor_b).post(f"/feed/{post.id}/hide").status_code == 404  # not hers
    mentor = client_as(app, world.mentor_a)
    assert "Something off-topic" in mentor.get(f"/cohorts/{world.a.id}/feed").text
    assert mentor.post(f"/feed/{post.id}/hide", data={"reason": "advertising"}).status_code == 302

    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "feed.hide"))
    assert entry.actor_id == world.mentor_a.id and entry.target == f"feed_post:{post.id}"
    assert entry.details["author"] == world.mei.id and entry.details["reason"] == "advertising"
    db.session.refresh(post)
    assert post.hidden_at is not None and post.hidden_by_id == world.mentor_a.id

    lan = client_as(app, world.lan)
    assert "Something off-topic" not in lan.get("/feed").text
    assert lan.get(photo_url(photo)).status_code == 404
    assert lan.post(f"/feed/{post.id}/like").status_code == 404
    assert "Something off-topic" not in mentor.get(f"/cohorts/{world.a.id}/feed").text


def test_pin_and_highlight(app, world):
    first = win(world.mei, text="older win", with_photo=False)
    win(world.lan, text="newer win", with_photo=False)
    mentor = client_as(app, world.mentor_a)
    assert mentor.post(f"/feed/{first.id}/pin", data={"on": "1"}).status_code == 302
    assert mentor.post(f"/feed/{first.id}/highlight", data={"on": "1"}).status_code == 302
    page = client_as(app, world.lan).get("/feed").text
    assert page.index("older win") < page.index("newer win")  # pinned first
    assert "Mentor&#39;s pick" in page or "Mentor's pick" in page
    assert {e.action for e in db.session.scalars(sa.select(AuditEntry))} == {"feed.pin", "feed.highlight"}
    mentor.post(f"/feed/{first.id}/pin", data={"on": "0"})
    page = client_as(app, world.lan).get("/feed").text
    assert page.index("newer win") < page.index("older win")


def test_she_deletes_her_own_post_and_no_one_elses(app, world):
    checkin = task_checkin(world.mei, text="shared then regretted", shared=True)
    post = db.session.scalar(sa.select(FeedPost))
    lan = client_as(app, world.lan)
    assert lan.post(f"/feed/{post.id}/delete").status_code == 404
    assert client_as(app, world.mentor_a).post(f"/feed/{post.id}/delete").status_code == 404
    assert client_as(app, world.mei).post(f"/feed/{post.id}/delete").status_code == 302
    db.session.refresh(post)
    db.session.refresh(checkin)
    assert post.deleted_at is not None and checkin.is_shared is False
    assert "shared then regretted" not in lan.get("/feed").text
    assert lan.get(photo_url(checkin.photos[0])).status_code == 404
    assert client_as(app, world.mei).get(photo_url(checkin.photos[0])).status_code == 200  # still hers
    assert client_as(app, world.mei).post(f"/feed/{post.id}/delete").status_code == 404  # gone


def test_likes_and_comments(app, world):
    post = win(world.mei, with_photo=False)
    lan = client_as(app, world.lan)
    lan.post(f"/feed/{post.id}/like")
    lan.post(f"/feed/{post.id}/like")  # a double tap counts once
    client_as(app, world.mei).post(f"/feed/{post.id}/like")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(FeedLike)) == 2
    page = feed.feed_for(db.session, world.lan, world.a)
    assert page.items[0].like_count == 2 and page.items[0].liked
    lan.post(f"/feed/{post.id}/like", data={"do": "unlike"})
    page = feed.feed_for(db.session, world.lan, world.a)
    assert page.items[0].like_count == 1 and not page.items[0].liked

    assert lan.post(f"/feed/{post.id}/comment", data={"body": "  Well done!  "}).status_code == 302
    too_long = lan.post(f"/feed/{post.id}/comment", data={"body": "好" * 301}, follow_redirects=True)
    assert "At most 300 characters" in too_long.text
    lan.post(f"/feed/{post.id}/comment", data={"body": "   "})
    assert [c.body for c in db.session.scalars(sa.select(FeedComment))] == ["Well done!"]
    assert "Well done!" in client_as(app, world.mei).get("/feed").text


def test_user_text_cannot_inject_script_or_links(app, world):
    post = win(world.mei, text='<script>alert("post")</script> [click](javascript:alert(1)) '
                                '<a href="javascript:alert(2)">x</a>', with_photo=False)
    lan = client_as(app, world.lan)
    lan.post(f"/feed/{post.id}/comment", data={"body": '<img src=x onerror=alert(3)> javascript:alert(4)'})
    html = lan.get("/feed").text
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert not re.search(r"href\s*=\s*[\"']?\s*javascript:", html, re.IGNORECASE)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(3)&gt;" in html
    assert "<script" not in html.lower().replace('<script src', '')  # no inline scripts on the page


def test_earnings_show_only_while_she_shares_them(app, world, synced):
    db.session.add(Checkin(user_id=world.mei.id, day=date.today() - timedelta(days=1), earnings_fen=12_345))
    world.mei.shares_earnings = True
    db.session.commit()
    post = feed.share_milestone(db.session, world.mei, "first-week", utcnow())
    db.session.commit()
    assert post.earnings_fen == 12_345
    assert feed.share_milestone(db.session, world.mei, "first-week", utcnow()).id == post.id  # once
    lan = client_as(app, world.lan)
    assert "¥123.45" in lan.get("/feed").text
    world.mei.shares_earnings = False  # she changes her mind: gone from old posts too
    db.session.commit()
    page = lan.get("/feed").text
    assert "¥123.45" not in page and "first week" in page
    # Lan does not share hers: her milestone never records the amount.
    db.session.add(Checkin(user_id=world.lan.id, day=date.today(), earnings_fen=50_000))
    db.session.commit()
    assert feed.share_milestone(db.session, world.lan, "first-week", utcnow()).earnings_fen is None


def test_the_feed_page_runs_the_same_queries_for_5_or_40_posts(app, world):
    def add_posts(n):
        for i in range(n):
            author = (world.mei, world.lan)[i % 2]
            post = FeedPost(cohort_id=world.a.id, user_id=author.id, text=f"win {i}", created_at=utcnow())
            db.session.add(post)
            db.session.flush()
            db.session.add_all([FeedLike(post_id=post.id, user_id=world.lan.id),
                                FeedComment(post_id=post.id, user_id=world.mei.id, body="yay"),
                                Photo(user_id=author.id, post_id=post.id, storage_key=f"{post.id:032x}.jpg",
                                      width=10, height=10, size=100)])
        db.session.commit()

    lan = client_as(app, world.lan)
    add_posts(5)
    with count_queries() as few:
        assert lan.get("/feed").status_code == 200
    add_posts(35)
    with count_queries() as many:
        page = lan.get("/feed")
    assert page.status_code == 200 and page.text.count('class="card mb-3 feed-post') == feed.PER_PAGE
    assert many() == few(), (few(), many())
    assert lan.get("/feed?page=2").text.count('class="card mb-3 feed-post') == 40 - feed.PER_PAGE
