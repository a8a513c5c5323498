"""The camp's mentor side: her calendar and 打卡 on her trainee page, pins and comments (audited, for her own
mentors only), "hasn't done today's task" after 18:00 her time, proof photos in the review queue, escaping.

Cohorts start on Monday 4 May 2026 (day 1); the clock stands at noon in Shanghai on day 4 unless a test moves it.
"""
import io
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine
from markupsafe import escape
from werkzeug.datastructures import FileStorage

from app.camp import coaching, photos
from app.camp.models import FeedPost, Photo, TaskCheckin
from app.camp.service import record_task_checkin
from app.cohorts import dashboard
from app.cohorts.models import MentorNote
from app.core.audit import AuditEntry
from app.extensions import db
from tests.factories import (EVIL, SCRIPT, TwoCohorts, assert_inert, camp_task, client_as, count, frozen_clock, jpeg,
                             make_trainee, on, programme_date, two_cohorts)
from tests.conftest import count_queries

UTC = timezone.utc
LA = "America/Los_Angeles"


NOW = on(4)
ACTIVE = NOW - timedelta(hours=1)   # everyone here logged in an hour ago


clock = frozen_clock(NOW, autouse=True)


def upload_and_do(user, n: int, at: datetime, *, pictures: int = 1, text: str = "", share: bool = False) -> TaskCheckin:
    """Her 打卡 for day n at instant `at`, with `pictures` real uploaded photos (JPEG, through save_upload)."""
    t = camp_task(n)
    stored = [photos.save_upload(db.session, user, FileStorage(io.BytesIO(jpeg()), "p.jpg"), at)
              for _ in range(max(pictures, 1 if "photo" in t.proof else 0))]
    checkin = record_task_checkin(db.session, user, t, text=text or ("做完了" if "text" in t.proof else ""),
                                  number=12 if "number" in t.proof else None, photos=stored, share=share, now=at)
    db.session.commit()
    return checkin


def actions() -> list[str]:
    return list(db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)))


def card(html: str, checkin_id: int) -> str:
    """The HTML of one 打卡's card."""
    start = html.index(f'id="task-checkin-{checkin_id}"')
    end = html.find("</article>", start)
    return html[start:end]


def proof_ids(html: str) -> list[int]:
    section = html[html.index('id="proof-photos"'):]
    return [int(i) for i in re.findall(r'data-task-checkin="(\d+)"', section)]


@dataclass
class World(TwoCohorts):
    first: TaskCheckin     # Mei's day 1: on time, one photo
    second: TaskCheckin    # Mei's day 2: made up on day 3, shared, two photos
    anas: TaskCheckin      # Ana's day 1


@pytest.fixture
def world(synced) -> World:
    people = two_cohorts(last_active=ACTIVE)
    first = upload_and_do(people.mei, 1, on(1, "20:00"), text="邀请了8个人\n第二行")
    second = upload_and_do(people.mei, 2, on(3, "09:00"), pictures=2, share=True)
    anas = upload_and_do(people.ana, 1, on(1, "21:00"))
    return World(**vars(people), first=first, second=second, anas=anas)


def page_of(w: World) -> str:
    return f"/cohorts/{w.mine.id}/trainees/{w.mei.id}"


def pin_url(cohort_id, trainee_id, checkin_id) -> str:
    return f"/cohorts/{cohort_id}/trainees/{trainee_id}/task-checkins/{checkin_id}/pin"


def notes_url(cohort_id, trainee_id) -> str:
    return f"/cohorts/{cohort_id}/trainees/{trainee_id}/notes"


# --- her calendar and 打卡 on her trainee page ---------------------------------------------------------------------

def test_her_page_shows_her_calendar_streaks_and_her_task_check_ins_with_photos(app, world):
    client = client_as(app, world.mentor)
    html = client.get(page_of(world)).text
    camp = html[html.index('id="camp"'):html.index('id="task-checkins"')]
    states = dict(re.findall(r'data-date="([\d-]+)" data-state="(\w+)"', camp))
    assert [states[programme_date(n).isoformat()] for n in range(1, 8)] == [
        "done", "made_up", "missed", "today", "locked", "locked", "locked"]
    assert 'id="current-streak">0<' in camp and 'id="longest-streak">2<' in camp   # day 3 missed
    assert "May 2026" in camp and "makeups-left" not in camp
    assert f'href="#task-checkin-{world.first.id}"' in camp                         # a done day opens her 打卡

    # Her 打卡, newest day first, with their photos, badges, text and number.
    ids = [int(i) for i in re.findall(r'data-task-checkin="(\d+)"', html)]
    assert ids == [world.second.id, world.first.id]
    second, first = card(html, world.second.id), card(html, world.first.id)
    assert escape(camp_task(2).title_en) in second and "Day 2" in second
    assert "badge-makeup" in second and "badge-shared" in second and "badge-pinned" not in second
    assert "badge-makeup" not in first and "badge-shared" not in first
    assert "邀请了8个人\n第二行" in first and 'class="task-number">12<' in first
    for checkin, shown in ((world.second, second), (world.first, first)):
        assert len(checkin.photos) == (2 if checkin is world.second else 1)
        for photo in checkin.photos:
            assert re.search(rf'<a [^>]*href="/photos/{photo.id}\.jpg">\s*<img src="/photos/{photo.id}-thumb\.jpg"\s+'
                             rf'class="[^"]*" loading="lazy"[^>]*\s+'
                             rf'width="{photo.thumb_width}" height="{photo.thumb_height}"', shown), shown
    # Her mentor may open the photos; the pin and comment buttons are there.
    response = client.get(f"/photos/{world.first.photos[0].id}.jpg")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert f'action="{pin_url(world.mine.id, world.mei.id, world.first.id)}"' in first
    assert 'name="task_checkin_id" value="%d"' % world.first.id in first
    assert "Ana" not in html and f"/photos/{world.anas.photos[0].id}.jpg" not in html


def test_a_trainee_without_any_task_check_in_has_an_empty_calendar(app, world):
    newcomer = make_trainee("new@example.com", world.mine, name="New", last_active=ACTIVE)
    html = client_as(app, world.mentor).get(f"/cohorts/{world.mine.id}/trainees/{newcomer.id}").text
    assert "No task check-ins yet." in html and 'id="longest-streak">0<' in html
    assert 'data-state="missed"' in html and 'data-task-checkin="' not in html


def test_the_trainee_page_reads_as_many_queries_for_many_task_check_ins_as_for_one(app, world):
    client = client_as(app, world.mentor)

    def queries() -> int:
        client.get(page_of(world))
        with count_queries() as n:
            assert client.get(page_of(world)).status_code == 200
        return n()

    few = queries()
    for n in (3, 4):
        checkin = upload_and_do(world.mei, n, on(n, "20:00"), pictures=3)
        for body in ("Good", "Better"):
            assert client.post(notes_url(world.mine.id, world.mei.id),
                               data={"body": body, "task_checkin_id": checkin.id}).status_code == 302
    assert queries() == few


# --- who may: another cohort's mentor, a trainee ---------------------------------------------------------------

def test_a_mentor_of_another_cohort_gets_404_for_her_page_and_for_pinning_or_commenting_her_task_check_ins(
        app, world):
    client = client_as(app, world.other_mentor)
    mine, other, mei = world.mine.id, world.other.id, world.mei.id
    assert client.get(page_of(world)).status_code == 404
    assert client.get(f"/cohorts/{other}/trainees/{mei}").status_code == 404     # her id under my cohort
    for cohort_id in (mine, other):
        assert client.post(pin_url(cohort_id, mei, world.first.id), data={"on": "1"}).status_code == 404
        assert client.post(notes_url(cohort_id, mei),
                           data={"body": "hi", "task_checkin_id": world.first.id}).status_code == 404
    # Mei's 打卡 under Ana's address (Ana is hers to coach): not Ana's, so 404 as well.
    assert client.post(pin_url(other, world.ana.id, world.first.id)).status_code == 404
    assert client.post(notes_url(other, world.ana.id),
                       data={"body": "hi", "task_checkin_id": world.first.id}).status_code == 404
    for checkin_id in (999_999, world.second.id):
        assert client.post(pin_url(other, world.ana.id, checkin_id)).status_code == 404
    db.session.expire_all()
    assert not db.session.get(TaskCheckin, world.first.id).is_pinned
    assert count(MentorNote) == 0 and actions() == []


def test_my_mentor_cannot_reach_another_trainee_s_task_check_in_through_mei_s_address(app, world):
    client = client_as(app, world.mentor)
    assert client.post(pin_url(world.mine.id, world.mei.id, world.anas.id)).status_code == 404
    assert client.post(notes_url(world.mine.id, world.mei.id),
                       data={"body": "hi", "task_checkin_id": world.anas.id}).status_code == 404
    assert client.post(notes_url(world.mine.id, world.mei.id), data={   # an earnings and a task check-in at once
        "body": "hi", "task_checkin_id": world.first.id, "checkin_id": "1"}).status_code == 404
    assert count(MentorNote) == 0 and actions() == [] and not db.session.get(TaskCheckin, world.anas.id).is_pinned


def test_a_trainee_cannot_pin_or_comment_not_even_her_own(app, world):
    client = client_as(app, world.mei)
    assert client.get(page_of(world)).status_code == 404
    assert client.post(pin_url(world.mine.id, world.mei.id, world.first.id)).status_code == 404
    assert client.post(notes_url(world.mine.id, world.mei.id),
                       data={"body": "hi", "task_checkin_id": world.first.id}).status_code == 404
    assert client.get("/review").status_code == 404
    assert count(MentorNote) == 0 and actions() == []


# --- pin ---------------------------------------------------------------------------------------------------------

def test_pinning_toggles_is_audited_and_pins_her_shared_post_too(app, world):
    client = client_as(app, world.mentor)
    post = db.session.scalar(sa.select(FeedPost).where(FeedPost.checkin_id == world.second.id))
    url = pin_url(world.mine.id, world.mei.id, world.second.id)
    response = client.post(url, data={"on": "1"})
    assert response.status_code == 302
    assert response.location.endswith(f"{page_of(world)}#task-checkin-{world.second.id}")
    db.session.expire_all()
    assert db.session.get(TaskCheckin, world.second.id).is_pinned and db.session.get(FeedPost, post.id).is_pinned
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "task_checkin.pin"))
    assert (entry.actor_id, entry.target, entry.details["task_checkin"]) == (
        world.mentor.id, f"user:{world.mei.id}", world.second.id)
    assert sorted(actions()) == ["feed.pin", "task_checkin.pin"]
    shown = card(client.get(page_of(world)).text, world.second.id)
    assert "badge-pinned" in shown and 'aria-pressed="true"' in shown and "Unpin" in shown
    assert client.post(url, data={"on": "1"}).status_code == 302        # twice: still pinned, post not again
    db.session.expire_all()
    assert db.session.get(TaskCheckin, world.second.id).is_pinned and actions().count("feed.pin") == 1

    assert client.post(url, data={"on": "0"}).status_code == 302
    db.session.expire_all()
    assert not db.session.get(TaskCheckin, world.second.id).is_pinned
    assert not db.session.get(FeedPost, post.id).is_pinned
    assert sorted(actions()[-2:]) == ["feed.unpin", "task_checkin.unpin"]


def test_without_on_the_pin_flips_and_an_unshared_check_in_has_no_post(app, world):
    client = client_as(app, world.mentor)
    url = pin_url(world.mine.id, world.mei.id, world.first.id)
    for expected in (True, False, True):
        assert client.post(url).status_code == 302
        db.session.expire_all()
        assert db.session.get(TaskCheckin, world.first.id).is_pinned is expected
    assert actions() == ["task_checkin.pin", "task_checkin.unpin", "task_checkin.pin"]
    assert count(FeedPost, FeedPost.is_pinned.is_(True)) == 0


def test_the_pin_comes_back_to_the_page_it_was_pressed_on(app, world):
    client = client_as(app, world.mentor)
    response = client.post(pin_url(world.mine.id, world.mei.id, world.first.id),
                           data={"next": f"/review#task-checkin-{world.first.id}"})
    assert response.location.endswith(f"/review#task-checkin-{world.first.id}")
    response = client.post(pin_url(world.mine.id, world.mei.id, world.first.id), data={"next": "//evil.example"})
    assert response.location.endswith(f"{page_of(world)}#task-checkin-{world.first.id}")


# --- comments ------------------------------------------------------------------------------------------------------

def test_a_comment_is_audited_shown_under_her_check_in_and_reaches_her_calendar(app, world):
    mentor = client_as(app, world.mentor)
    for body in ("Great start!", "Now post it in the group"):
        response = mentor.post(notes_url(world.mine.id, world.mei.id),
                               data={"body": body, "task_checkin_id": world.first.id})
        assert response.status_code == 302 and response.location.endswith(f"#task-checkin-{world.first.id}")
    notes = db.session.scalars(sa.select(MentorNote).order_by(MentorNote.id)).all()
    assert [(n.kind, n.task_checkin_id, n.checkin_id) for n in notes] == [
        (MentorNote.TASK_COMMENT, world.first.id, None)] * 2
    assert actions() == ["task_checkin.comment"] * 2
    entry = db.session.scalar(sa.select(AuditEntry))
    assert entry.details == {"note": notes[0].id, "task_checkin": world.first.id}
    page = mentor.get(page_of(world)).text
    assert re.findall(r'class="[^"]*task-comment"[^>]*>💬 <span class="fw-semibold">王老师</span>: ([^<]+)</li>',
                      card(page, world.first.id)) == ["Great start!", "Now post it in the group"]
    assert "task-comment\"" not in card(page, world.second.id)
    assert "Comment by 王老师: Great start!" in page                               # on her timeline too

    her = client_as(app, world.mei)
    calendar = her.get("/calendar").text
    comments = calendar[calendar.index('id="mentor-comments"'):]
    assert re.findall(r'mentor-comment"[^>]*>💬 <span class="fw-semibold">王老师</span>: ([^<]+)</li>', comments) == [
        "Great start!", "Now post it in the group"]
    assert f'id="comments-{world.first.id}"' in comments and escape(camp_task(1).title_en) in comments
    cell = re.search(rf'data-date="{programme_date(1).isoformat()}" data-state="done">\s*<a [^>]*href="#comments-'
                     rf'{world.first.id}"', calendar)
    assert cell and "💬" in calendar[cell.end():cell.end() + 400]
    assert "mentor-comments" not in her.get("/calendar?month=2026-06").text    # another month: not there
    assert "Great start!" not in client_as(app, world.ana).get("/calendar").text


def test_she_sees_the_comment_on_today_s_task_under_it_on_today(app, world):
    with time_machine.travel(on(4, "20:00"), tick=False):
        checkin = upload_and_do(world.mei, 4, on(4, "20:00"))
        mentor = client_as(app, world.mentor)
        assert mentor.post(notes_url(world.mine.id, world.mei.id),
                           data={"body": "Lovely photo", "task_checkin_id": checkin.id}).status_code == 302
        today = client_as(app, world.mei).get("/today").text
        assert 'data-state="done"' in today
        assert re.search(r'mentor-comment"[^>]*>💬 <span class="fw-semibold">王老师</span>: Lovely photo</li>', today)


def test_an_empty_comment_is_refused(app, world):
    mentor = client_as(app, world.mentor)
    response = mentor.post(notes_url(world.mine.id, world.mei.id),
                           data={"body": "  ", "task_checkin_id": world.first.id})
    assert response.status_code == 302 and count(MentorNote) == 0 and actions() == []
    assert mentor.post(notes_url(world.mine.id, world.mei.id),
                       data={"body": "x" * 2001, "task_checkin_id": world.first.id}).status_code == 302
    assert count(MentorNote) == 0


def test_a_comment_goes_with_her_check_in(app, world):
    client_as(app, world.mentor).post(notes_url(world.mine.id, world.mei.id),
                                    data={"body": "Good", "task_checkin_id": world.first.id})
    db.session.delete(db.session.get(TaskCheckin, world.first.id))
    db.session.commit()
    assert count(MentorNote) == 0   # ON DELETE CASCADE


# --- needs attention: today's task not done -------------------------------------------------------------------------

def reasons_at(world, at: datetime) -> dict[str, list[str]]:
    with time_machine.travel(at, tick=False):
        rows = dashboard.cohort_rows(db.session, world.mine, at)
    return {r.user.name: [reason.code for reason in r.reasons] for r in rows}


def test_task_missing_shows_from_18_00_her_time_and_not_once_she_has_done_it(app, world):
    la = make_trainee("la@example.com", world.mine, name="LA", tz=LA, last_active=ACTIVE)
    assert "task_missing" not in reasons_at(world, on(4, "17:59:59"))["美美"]
    assert "task_missing" in reasons_at(world, on(4, "18:00"))["美美"]
    # The same instant is 03:00 in Los Angeles: not due for her yet; it is at 18:00 hers.
    assert "task_missing" not in reasons_at(world, on(4, "18:00"))["LA"]
    assert "task_missing" in reasons_at(world, on(4, "18:00", LA))["LA"]
    with time_machine.travel(on(4, "19:00"), tick=False):
        upload_and_do(world.mei, 4, on(4, "19:00"))
    after = reasons_at(world, on(4, "22:00"))
    assert "task_missing" not in after["美美"] and "task_missing" not in after[la.name]   # 07:00 in LA
    # Day 8 has no task: nothing to miss.
    assert "task_missing" not in reasons_at(world, on(8, "20:00"))["美美"]


def test_task_missing_has_words_on_the_attention_list_and_the_dashboard(app, world):
    with time_machine.travel(on(4, "18:30"), tick=False):
        client = client_as(app, world.mentor)
        for path in (f"/cohorts/{world.mine.id}/attention", f"/cohorts/{world.mine.id}/dashboard"):
            html = client.get(path).text
            assert "Hasn't done today's task" in html, path   # a translated string is not escaped again
        row = next(r for r in dashboard.cohort_rows(db.session, world.mine, on(4, "18:30")))
        reason = next(r for r in row.reasons if r.code == "task_missing")
        assert reason.weight == 1


def test_task_missing_is_one_query_for_the_cohort_whatever_its_size(app, world):
    at = on(4, "20:00")

    def queries() -> int:
        db.session.expire_all()
        cohort = db.session.get(type(world.mine), world.mine.id)
        with count_queries() as n:
            rows = dashboard.cohort_rows(db.session, cohort, at)
        assert rows
        return n()

    with time_machine.travel(at, tick=False):
        queries()  # the content snapshot is built once per content version: not counted below
        small = queries()
        for i in range(25):
            user = make_trainee(f"t{i}@example.com", world.mine, name=f"T{i:02d}", last_active=ACTIVE)
            if i % 2:
                db.session.add(TaskCheckin(user_id=user.id, task_id=camp_task(4).id, day=programme_date(4), created_at=at,
                                           updated_at=at))
        db.session.commit()
        assert queries() == small
        flagged = [name for name, codes in reasons_at(world, at).items() if "task_missing" in codes]
        assert len(flagged) == 13 + 1   # the even ones, and Mei


# --- proof photos in the review queue ------------------------------------------------------------------------------

def test_the_review_queue_lists_proof_photos_from_the_mentor_s_cohorts_only_newest_first(app, world):
    without = upload_and_do(world.mei, 3, on(3, "20:00"), pictures=0)            # no photo: not listed
    old = make_trainee("old@example.com", world.mine, name="Old", last_active=ACTIVE)
    stale = upload_and_do(old, 1, on(1, "08:30"))
    stale.created_at = NOW - timedelta(days=7, minutes=1)             # more than 7 days ago
    db.session.commit()
    html = client_as(app, world.mentor).get("/review").text
    assert "Proof photos" in html
    assert proof_ids(html) == [world.second.id, world.first.id]
    assert without.id not in proof_ids(html) and world.anas.id not in proof_ids(html)
    shown = card(html, world.second.id)
    assert f'href="{page_of(world)}"' in shown and "美美" in shown and escape(camp_task(2).title_en) in shown
    assert f'<img src="/photos/{world.second.photos[0].id}-thumb.jpg"' in shown
    assert f'action="{pin_url(world.mine.id, world.mei.id, world.second.id)}"' in shown
    assert f'action="{notes_url(world.mine.id, world.mei.id)}"' in shown
    assert f'value="/review#task-checkin-{world.second.id}"' in shown

    assert proof_ids(client_as(app, world.other_mentor).get("/review").text) == [world.anas.id]
    assert proof_ids(client_as(app, world.admin).get("/review").text) == [
        world.second.id, world.anas.id, world.first.id]


def test_a_comment_from_the_review_queue_comes_back_to_it_and_shows_there(app, world):
    client = client_as(app, world.mentor)
    response = client.post(notes_url(world.mine.id, world.mei.id), data={
        "body": "Clear proof", "task_checkin_id": world.second.id, "next": f"/review#task-checkin-{world.second.id}"})
    assert response.location.endswith(f"/review#task-checkin-{world.second.id}")
    assert "Clear proof" in card(client.get("/review").text, world.second.id)


def test_the_review_queue_shows_at_most_50_in_as_many_queries_as_for_a_few(app, world):
    client = client_as(app, world.mentor)

    def queries() -> int:
        client.get("/review")
        with count_queries() as n:
            html = client.get("/review").text
        return n(), len(proof_ids(html))

    few, shown = queries()
    assert shown == 2
    for i in range(6):
        user = make_trainee(f"crowd{i}@example.com", world.mine, name=f"Crowd {i}", last_active=ACTIVE)
        for n in (1, 2, 3, 4, 5, 6, 7, 10, 14):
            checkin = TaskCheckin(user_id=user.id, task_id=camp_task(n).id, day=programme_date(n), created_at=NOW - timedelta(hours=n),
                                  updated_at=NOW)
            db.session.add(checkin)
            db.session.flush()
            for k in range(2):
                db.session.add(Photo(user_id=user.id, checkin_id=checkin.id, storage_key=f"{checkin.id:08x}{k:08x}.jpg",
                                     width=40, height=30, size=100))
                db.session.add(MentorNote(trainee_id=user.id, author_id=world.mentor.id, kind=MentorNote.TASK_COMMENT,
                                          task_checkin_id=checkin.id, body="ok"))
    db.session.commit()
    many, shown = queries()
    assert shown == coaching.PROOF_SHOWN == 50
    assert many == few


# --- what she wrote is never run ---------------------------------------------------------------------------------

def test_her_task_check_in_text_and_a_mentor_s_comment_are_escaped_everywhere(app, world):
    evil = upload_and_do(world.mei, 3, on(3, "20:00"), text=EVIL)
    mentor = client_as(app, world.mentor)
    assert mentor.post(notes_url(world.mine.id, world.mei.id),
                       data={"body": EVIL, "task_checkin_id": evil.id}).status_code == 302
    world.mei.name = SCRIPT
    db.session.commit()
    for path in (page_of(world), "/review"):
        html = mentor.get(path).text
        assert_inert(html)
        assert card(html, evil.id).count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 2, path   # her text, comment
    assert_inert(client_as(app, world.mei).get("/calendar").text)
