"""The camp's pages and API: today's task and its 打卡 form, refusals that keep what she typed, the calendar,
rankings, and GET /api/v1/today."""
from datetime import datetime, timedelta, timezone
from io import BytesIO
import re
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from openapi_schema_validator import OAS30Validator
from PIL import Image

from app.core.access import Role
from app.camp.models import FeedPost, Photo, TaskCheckin
from app.checkins.service import record_checkin
from app.database import utcnow
from app.extensions import db
from app.core.errors import DomainError
from tests.factories import START, api_headers, camp_task, frozen_clock, make_trainee, on
from tests.conftest import login, make_cohort, make_user

NOW = on(1)  # day 1, noon


def checkins_stored() -> list[TaskCheckin]:
    return list(db.session.scalars(sa.select(TaskCheckin)))


clock = frozen_clock(NOW)


@pytest.fixture
def mei(synced):
    return make_trainee("mei@example.com", make_cohort("Spring cohort", "SPRING", START), name="美美")


@pytest.fixture
def web(client, mei, clock):
    assert login(client, mei.email).status_code == 302
    return client


# --- /today ------------------------------------------------------------------------------------------------------

def test_today_shows_the_day_the_task_its_lesson_and_the_proof_form(web):
    html = web.get("/today").text
    first = camp_task(1)
    assert "Day 1" in html and first.title_en in html and "list 30 people" in html
    assert 'href="/courses/start-here/targets-and-formula"' in html         # the lesson that teaches it
    assert f'action="/today/{first.key}" enctype="multipart/form-data"' in html
    assert 'type="file"' in html and 'accept="image/*" multiple' in html
    assert first.number_label_en in html and 'inputmode="numeric"' in html    # day 1 asks for a number
    assert 'name="share"' in html and "Share with my cohort" in html
    assert 'id="checkin-today"' in html and 'href="/checkin"' in html        # the earnings check-in
    assert f'data-task="{camp_task(2).key}" data-state="locked"' in html          # what comes next, locked
    assert re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S) == [(' src="/static/copy.js" defer', "")]


def test_before_eight_the_task_is_locked_and_has_no_form(client, mei, clock):
    clock.move_to(datetime(2026, 5, 4, 7, 59, tzinfo=ZoneInfo("Asia/Shanghai")))
    login(client, mei.email)
    html = client.get("/today").text
    assert 'data-state="locked"' in html and "Opens today at" in html
    assert 'action="/today/' not in html


def test_a_text_and_number_check_in_is_saved_and_shown_done(web, mei):
    response = web.post(f"/today/{camp_task(1).key}", data={"text": "邀请了8个人", "number": "9", "share": "1"})
    assert response.status_code == 302 and response.location.endswith("/today")
    [checkin] = checkins_stored()
    assert (checkin.user_id, checkin.text, checkin.number, checkin.is_shared, checkin.is_makeup) == (
        mei.id, "邀请了8个人", 9, True, False)
    html = web.get("/today").text
    assert "Day 1 done" in html and 'data-state="done"' in html and f'action="/today/{camp_task(1).key}"' not in html


def test_bad_input_is_refused_and_keeps_what_she_typed(web):
    response = web.post(f"/today/{camp_task(1).key}", data={"text": "邀请了<b>8</b>个人", "number": "many", "share": "1"})
    assert response.status_code == 422
    html = response.text
    assert "Enter a whole number, such as 12." in html and 'id="camp-error"' in html
    assert "邀请了&lt;b&gt;8&lt;/b&gt;个人</textarea>" in html and 'value="many"' in html
    assert 'name="share" value="1" id="task-orientation-and-list-share" checked' in html
    assert checkins_stored() == []


def test_a_missing_proof_names_the_field(web):
    response = web.post(f"/today/{camp_task(1).key}", data={"text": "还没数"})
    assert response.status_code == 422 and "Enter the number: this task asks for it." in response.text
    assert checkins_stored() == []


def test_a_locked_task_is_refused(web):
    response = web.post(f"/today/{camp_task(3).key}", data={"text": "提前做完了"})
    assert response.status_code == 422
    assert "Day 3&#39;s task opens on 2026-05-06 at 08:00." in response.text
    assert checkins_stored() == []


def test_an_unknown_task_is_not_found(web):
    assert web.post("/today/no-such-task", data={"text": "x"}).status_code == 404


def test_a_missed_day_is_offered_and_made_up_through_the_same_form(web, clock):
    clock.move_to(NOW + timedelta(days=1))                      # day 2: day 1 was missed
    html = web.get("/today").text
    assert 'id="makeups"' in html and "1 make-up left this week." in html
    assert f'action="/today/{camp_task(1).key}"' in html and "Make up this day" in html
    response = web.post(f"/today/{camp_task(1).key}", data={"number": "12"})
    assert response.status_code == 302
    [checkin] = checkins_stored()
    assert checkin.is_makeup and checkin.day == START
    assert "Day 1 made up." in web.get("/today").text


def test_a_make_up_after_its_window_is_refused_with_the_reason(web, clock):
    clock.move_to(NOW + timedelta(days=3))                      # day 4: day 1's window closed at midnight
    response = web.post(f"/today/{camp_task(1).key}", data={"number": "12"})
    assert response.status_code == 422 and "can no longer be made up" in response.text
    assert checkins_stored() == []


@pytest.fixture
def uploads(app, tmp_path):
    """Photos stored under tmp_path, by the real app.camp.photos."""
    app.config["UPLOAD_DIR"] = str(tmp_path)
    return tmp_path


def jpg(name: str, size=(40, 30)):
    out = BytesIO()
    Image.new("RGB", size, "orange").save(out, "JPEG")
    out.seek(0)
    return out, name


def test_photos_are_stored_attached_and_shown(web, uploads, clock):
    clock.move_to(NOW + timedelta(days=10))                     # day 11: a photo is the proof
    response = web.post(f"/today/{camp_task(11).key}", data={"photos": [jpg("a.jpg"), jpg("b.jpg")], "text": ""},
                        content_type="multipart/form-data")
    assert response.status_code == 302, response.text
    [checkin] = checkins_stored()
    assert len(checkin.photos) == 2 and len(list(uploads.iterdir())) == 2 * 3  # full, thumbnail, medium
    html = web.get("/today").text
    assert all(f'href="/photos/{p.id}.jpg"' in html and f'src="/photos/{p.id}-thumb.jpg"' in html
               for p in checkin.photos)
    assert web.get(f"/photos/{checkin.photos[0].id}.jpg").status_code == 200
    assert web.get(f"/photos/{checkin.photos[0].id}-thumb.jpg").status_code == 200


def test_a_refused_upload_or_a_fourth_photo_keeps_the_text_and_stores_nothing(web, uploads, clock):
    clock.move_to(NOW + timedelta(days=10))                     # day 11: a photo is the proof
    response = web.post(f"/today/{camp_task(11).key}",
                        data={"photos": [jpg("a.jpg"), (BytesIO(b"GIF89a not a photo"), "b.gif")],
                              "text": "我的第一条朋友圈"}, content_type="multipart/form-data")
    assert response.status_code == 422 and "Only JPEG, PNG or WebP photos can be uploaded." in response.text
    assert "我的第一条朋友圈</textarea>" in response.text
    response = web.post(f"/today/{camp_task(11).key}", data={"photos": [jpg(f"{i}.jpg") for i in range(4)]},
                        content_type="multipart/form-data")
    assert response.status_code == 422 and "At most 3 photos." in response.text
    assert checkins_stored() == [] and db.session.scalar(sa.select(sa.func.count(Photo.id))) == 0
    assert list(uploads.iterdir()) == []


def test_a_photo_stored_before_a_late_refusal_leaves_no_file(web, uploads, clock, monkeypatch):
    clock.move_to(NOW + timedelta(days=10))
    from app.camp import service

    def refuse(*args, **kwargs):
        raise DomainError("refused at the last moment")
    monkeypatch.setattr(service, "record_task_checkin", refuse)
    response = web.post(f"/today/{camp_task(11).key}", data={"photos": [jpg("a.jpg")]}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert list(uploads.iterdir()) == [] and db.session.scalar(sa.select(sa.func.count(Photo.id))) == 0


def test_sharing_puts_her_check_in_on_the_cohort_feed(web, mei):
    web.post(f"/today/{camp_task(1).key}", data={"text": "群里有9个人了", "number": "9", "share": "1"})
    [post] = db.session.scalars(sa.select(FeedPost)).all()
    assert (post.user_id, post.kind, post.text, post.cohort_id) == (mei.id, FeedPost.CHECKIN, "群里有9个人了",
                                                                    mei.cohort_id)


def test_not_sharing_keeps_it_off_the_feed(web):
    web.post(f"/today/{camp_task(1).key}", data={"number": "9"})
    assert not checkins_stored()[0].is_shared and db.session.scalars(sa.select(FeedPost)).all() == []


def test_the_earnings_check_in_shows_as_done_on_the_same_screen(web, mei):
    record_checkin(db.session, mei, {"date": "2026-05-04", "earnings": "5"}, utcnow())
    db.session.commit()
    html = web.get("/today").text
    assert "Today's earnings are logged." in html and 'id="earnings-form"' not in html


def test_mentors_are_sent_to_their_home(client, synced, clock):
    make_user("mentor@example.com", Role.MENTOR)
    login(client, "mentor@example.com")
    for url in ("/today", "/calendar"):
        response = client.get(url)
        assert response.status_code == 302 and response.location.endswith("/"), url


def test_the_pages_need_a_login(client, synced):
    for url in ("/today", "/calendar", "/rankings"):
        assert "/login" in client.get(url).location


def test_home_and_navigation_point_to_today(web):
    html = web.get("/").text
    assert 'id="camp-today"' in html and 'href="/today"' in html
    today = web.get("/today").text                      # calendar and rankings: from Today
    assert 'href="/calendar"' in today and 'href="/rankings"' in today


# --- calendar and rankings -------------------------------------------------------------------------------------

def test_the_calendar_page_shows_the_month_the_streaks_and_the_states(web, clock):
    web.post(f"/today/{camp_task(1).key}", data={"number": "9"})
    clock.move_to(NOW + timedelta(days=2))                      # day 3: day 2 missed, still open to a make-up
    html = web.get("/calendar").text
    assert "May 2026" in html
    assert 'data-date="2026-05-04" data-state="done"' in html
    assert 'data-date="2026-05-05" data-state="missed"' in html
    assert 'data-date="2026-05-06" data-state="today"' in html
    assert 'data-date="2026-05-07" data-state="locked"' in html
    assert 'id="current-streak">0<' in html and 'id="longest-streak">1<' in html and 'id="makeups-left">1<' in html
    assert 'href="/today#makeups"' in html
    assert 'data-date="2026-06-02" data-state="locked"' in web.get("/calendar?month=2026-06").text
    assert web.get("/calendar?month=nonsense").status_code == 200


def test_rankings_show_her_cohort_and_earnings_only_of_those_who_share(web, mei):
    cohort = mei.cohort
    ana = make_user("ana@example.com", cohort=cohort, name="Ana")
    ana.created_at, ana.shares_earnings, cohort.rank_by_earnings = datetime(2026, 4, 1, tzinfo=timezone.utc), True, True
    record_checkin(db.session, ana, {"date": "2026-05-04", "earnings": "12.50"}, utcnow())
    record_checkin(db.session, mei, {"date": "2026-05-04", "earnings": "99"}, utcnow())
    make_user("zoe@example.com", cohort=make_cohort("Other", "OTHER", START), name="Zoe")
    db.session.commit()
    html = web.get("/rankings").text
    assert "Ana" in html and "美美" in html and "Zoe" not in html
    assert "¥12.50" in html and "¥99.00" not in html            # Mei has not opted in
    assert 'aria-current="page"' in html and "period=all" in html
    assert web.get("/rankings?period=all").status_code == 200


# --- GET /api/v1/today -------------------------------------------------------------------------------------------

def test_api_today_gives_the_day_the_task_and_the_streak_in_her_language(client, mei, clock):
    headers = api_headers(mei)
    body = client.get("/api/v1/today", headers=headers).json
    first = camp_task(1)
    assert body == {"program_day": 1, "task": {"key": first.key, "title": first.title_en,
                                               "lesson": "start-here/targets-and-formula", "proof": ["number"]},
                    "unlocked": True, "unlocks_at": "2026-05-04T00:00:00+00:00", "done": False, "checked_in": False,
                    "streak": {"current": 0, "longest": 0}}
    spec = client.get("/api/v1/openapi.json").json
    OAS30Validator({"$ref": "#/components/schemas/Today", "components": spec["components"]}).validate(body)
    assert set(spec["paths"]["/api/v1/today"]) == {"get"}

    from app.camp.service import record_task_checkin
    record_task_checkin(db.session, mei, first, number=9, now=utcnow())
    record_checkin(db.session, mei, {"date": "2026-05-04", "earnings": "5"}, utcnow())
    mei.locale = "zh_CN"
    db.session.commit()
    body = client.get("/api/v1/today", headers=headers).json
    assert (body["done"], body["checked_in"], body["streak"], body["task"]["title"]) == (
        True, True, {"current": 1, "longest": 1}, first.title_zh)


def test_api_today_on_a_day_without_a_task_and_without_a_token(client, mei, clock):
    clock.move_to(NOW + timedelta(days=7))                      # day 8 has no task
    body = client.get("/api/v1/today", headers=api_headers(mei)).json
    assert (body["program_day"], body["task"], body["unlocked"], body["done"]) == (8, None, False, False)
    assert client.get("/api/v1/today").status_code == 401


def test_a_mentor_sees_the_rankings_of_a_cohort_she_coaches_only(client, mei, clock):
    mentor = make_user("mentor@example.com", Role.MENTOR, mei.cohort)
    other = make_cohort("Other", "OTHER", START)
    login(client, mentor.email)
    html = client.get(f"/rankings?cohort={mei.cohort_id}&period=all").text
    assert "美美" in html and f"cohort={mei.cohort_id}" in html and "cohort=None" not in html
    assert "美美" in client.get("/rankings").text                     # her first cohort by default
    assert client.get(f"/rankings?cohort={other.id}").status_code == 404
