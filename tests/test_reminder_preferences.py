"""Reminder preferences: defaults from the programme, the form, one-click unsubscribe, quiet hours."""
import re
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from app.core.access import Role
from app.accounts.service import create_user
from app.checkins.models import Programme
from app.database import utcnow
from app.extensions import db
from app.reminders import preferences as prefs
from app.reminders.models import CATEGORIES, ReminderPreference
from app.core.errors import DomainError
from tests.conftest import PASSWORD, english, login, make_user

SHANGHAI = ZoneInfo("Asia/Shanghai")
TRAINEE_CATEGORIES = ("checkin", "learning", "progress", "celebration", "review", "nudge")


def set_programme(send_at="19:30", start="21:30", end="07:30") -> None:
    db.session.add(Programme(key="default", reminders={
        "send_at": send_at, "digest_at": "09:00", "quiet_hours": {"start": start, "end": end}, "rules": {}}))
    db.session.commit()


def form(**change) -> dict:
    """What the browser sends for a trainee with an email address: every box ticked."""
    data = {"email_enabled": "y", "email_categories": list(TRAINEE_CATEGORIES), "send_at": "19:30",
            "quiet_start": "21:30", "quiet_end": "07:30", "group_mention": "y"}
    data.update(change)
    return {k: v for k, v in data.items() if v is not None}


def value_of(page: str, name: str) -> str | None:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*>', page)
    if match is None:
        return None
    found = re.search(r'value="([^"]*)"', match.group(0))
    return found.group(1) if found else ""


def checked(page: str, name: str, value: str | None = None) -> bool:
    pattern = rf'<input[^>]*name="{name}"[^>]*' + (rf'value="{value}"[^>]*' if value else "") + ">"
    tag = re.search(pattern, page)
    assert tag is not None, (name, value)
    return "checked" in tag.group(0)


def preference(user) -> ReminderPreference | None:
    db.session.expire_all()
    return db.session.get(ReminderPreference, user.id)


# --- quiet hours ---------------------------------------------------------------------------------

@pytest.mark.parametrize("clock, quiet", [
    (time(21, 59), False), (time(22, 0), True), (time(23, 59, 59), True), (time(0, 0), True),
    (time(7, 59, 59), True), (time(8, 0), False), (time(12, 0), False)])
def test_quiet_hours_across_midnight(clock, quiet):
    assert prefs.in_quiet_hours(clock, "22:00", "08:00") is quiet


@pytest.mark.parametrize("clock, quiet", [
    (time(11, 59), False), (time(12, 0), True), (time(13, 59), True), (time(14, 0), False), (time(0, 0), False)])
def test_quiet_hours_within_one_day(clock, quiet):
    assert prefs.in_quiet_hours(clock, "12:00", "14:00") is quiet


def test_the_same_start_and_end_means_no_quiet_hours():
    for hour in range(24):
        assert not prefs.in_quiet_hours(time(hour, 0), "22:00", "22:00")
    assert not prefs.in_quiet_hours(time(23, 0), None, None)


def test_next_allowed_is_the_end_of_the_window_or_now():
    evening = datetime(2026, 3, 10, 23, 15, tzinfo=SHANGHAI)
    assert prefs.next_allowed(evening, "22:00", "08:00") == datetime(2026, 3, 11, 8, 0, tzinfo=SHANGHAI)
    early = datetime(2026, 3, 11, 6, 30, 12, tzinfo=SHANGHAI)
    assert prefs.next_allowed(early, "22:00", "08:00") == datetime(2026, 3, 11, 8, 0, tzinfo=SHANGHAI)
    at_start = datetime(2026, 3, 10, 22, 0, tzinfo=SHANGHAI)
    assert prefs.next_allowed(at_start, "22:00", "08:00") == datetime(2026, 3, 11, 8, 0, tzinfo=SHANGHAI)
    at_end = datetime(2026, 3, 11, 8, 0, tzinfo=SHANGHAI)
    assert prefs.next_allowed(at_end, "22:00", "08:00") is at_end
    noon = datetime(2026, 3, 11, 12, 30, tzinfo=SHANGHAI)
    assert prefs.next_allowed(noon, "12:00", "14:00") == datetime(2026, 3, 11, 14, 0, tzinfo=SHANGHAI)
    assert prefs.next_allowed(noon, "22:00", "08:00") is noon
    assert prefs.next_allowed(noon, "12:00", "12:00") is noon
    assert prefs.next_allowed(evening, "22:00", "08:00").tzinfo is SHANGHAI


# --- effective settings --------------------------------------------------------------------------

def test_no_row_means_the_programmes_defaults():
    reminders = {"send_at": "19:30", "quiet_hours": {"start": "21:30", "end": "07:30"}}
    eff = prefs.effective(reminders, None)
    assert (eff.email_enabled, eff.email_muted, eff.group_mention) == (True, frozenset(), True)
    assert (eff.send_at, eff.quiet_start, eff.quiet_end) == ("19:30", "21:30", "07:30")
    assert all(eff.wants_email(c) for c in CATEGORIES)
    # A programme never synced: the shipped defaults.
    assert (prefs.effective({}, None).send_at, prefs.effective(None, None).quiet_start) == ("20:00", "22:00")


def test_her_choices_win_and_null_columns_follow_the_programme():
    reminders = {"send_at": "19:30", "quiet_hours": {"start": "21:30", "end": "07:30"}}
    pref = ReminderPreference(user_id=1, email_enabled=True, group_mention=False, email_muted=["learning", "bogus"],
                              send_at="07:15", quiet_start=None, quiet_end=None)
    eff = prefs.effective(reminders, pref)
    assert eff.send_at == "07:15" and (eff.quiet_start, eff.quiet_end) == ("21:30", "07:30")
    assert eff.email_muted == {"learning"} and not eff.group_mention
    assert not eff.wants_email("learning") and eff.wants_email("checkin")
    pref.email_enabled = False
    assert not prefs.effective(reminders, pref).wants_email("checkin")


def test_save_keeps_following_the_programme_when_she_keeps_its_values(app, trainee):
    set_programme()
    prefs.save_preference(db.session, trainee, now=utcnow(), send_at="19:30", quiet_start="21:30", quiet_end="07:30")
    db.session.commit()
    row = preference(trainee)
    assert (row.send_at, row.quiet_start, row.quiet_end) == (None, None, None)
    prefs.save_preference(db.session, trainee, now=utcnow(), send_at="8:05", quiet_start="23:00", quiet_end="23:00")
    row = preference(trainee)
    assert (row.send_at, row.quiet_start, row.quiet_end) == ("08:05", "23:00", "23:00")
    with pytest.raises(DomainError) as problem:
        prefs.save_preference(db.session, trainee, now=utcnow(), send_at="24:00", quiet_start="", quiet_end="06:00")
    assert set(problem.value.fields) == {"send_at", "quiet_start"}


# --- the preferences page ------------------------------------------------------------------------

def test_the_page_shows_the_programmes_defaults(app, trainee):
    set_programme()
    client = english(app.test_client())
    assert login(client, trainee.email).status_code == 302
    page = client.get("/preferences")
    assert page.status_code == 200
    assert 'type="time"' in page.text
    assert value_of(page.text, "send_at") == "19:30"
    assert (value_of(page.text, "quiet_start"), value_of(page.text, "quiet_end")) == ("21:30", "07:30")
    assert checked(page.text, "email_enabled") and checked(page.text, "group_mention")
    assert all(checked(page.text, "email_categories", c) for c in TRAINEE_CATEGORIES)
    assert 'value="digest"' not in page.text  # the mentors' digest never reaches a trainee
    assert "Check-in reminders" in page.text and "Messages from your mentor" in page.text
    assert preference(trainee) is None  # looking changes nothing


def test_the_form_round_trip(app, trainee):
    set_programme()
    client = english(app.test_client())
    login(client, trainee.email)
    response = client.post("/preferences", data=form(
        email_enabled=None, email_categories=["checkin", "review", "nudge"], send_at="21:00",
        quiet_start="23:00", quiet_end="06:30", group_mention=None))
    assert response.status_code == 302 and response.location.endswith("/preferences")
    row = preference(trainee)
    assert not row.email_enabled and not row.group_mention
    assert sorted(row.email_muted) == ["celebration", "learning", "progress"]
    assert (row.send_at, row.quiet_start, row.quiet_end) == ("21:00", "23:00", "06:30")

    page = client.get("/preferences").text
    assert "Your reminder settings are saved." in page
    assert not checked(page, "email_enabled") and not checked(page, "group_mention")
    assert checked(page, "email_categories", "checkin") and not checked(page, "email_categories", "learning")
    assert (value_of(page, "send_at"), value_of(page, "quiet_start"), value_of(page, "quiet_end")) == (
        "21:00", "23:00", "06:30")

    # Back to everything, and to the programme's times.
    assert client.post("/preferences", data=form(send_at="", quiet_start="", quiet_end="")).status_code == 302
    row = preference(trainee)
    assert row.email_enabled and row.group_mention and row.email_muted == []
    assert (row.send_at, row.quiet_start, row.quiet_end) == (None, None, None)


def test_a_reminder_time_inside_quiet_hours_is_pointed_out(app, trainee):
    set_programme()
    client = english(app.test_client())
    login(client, trainee.email)
    response = client.post("/preferences", data=form(send_at="23:30"), follow_redirects=True)
    assert "will wait until 07:30" in response.text


def test_bad_input_keeps_what_she_typed_and_says_what_is_wrong(app, trainee):
    set_programme()
    client = english(app.test_client())
    login(client, trainee.email)
    response = client.post("/preferences", data=form(send_at="25:99", quiet_start="", quiet_end="6:00",
                                                     email_categories=["checkin"]))
    assert response.status_code == 422
    assert value_of(response.text, "send_at") == "25:99"
    assert value_of(response.text, "quiet_end") == "6:00"
    assert "Enter a time like 20:00." in response.text
    assert "Give both times" in response.text
    assert checked(response.text, "email_categories", "checkin")
    assert not checked(response.text, "email_categories", "learning")  # her unticking is kept too
    assert preference(trainee) is None


def test_a_tampered_category_is_refused(app, trainee):
    client = english(app.test_client())
    login(client, trainee.email)
    assert client.post("/preferences", data=form(email_categories=["checkin", "bogus"])).status_code == 422
    assert preference(trainee) is None


def test_without_an_email_address_the_email_part_says_so_and_is_kept(app, cohort):
    set_programme()
    user = create_user(db.session, name="小红", mobile="13800138001", password=PASSWORD, cohort=cohort)
    db.session.add(ReminderPreference(user_id=user.id, email_enabled=True, group_mention=True,
                                      email_muted=["learning"]))
    db.session.commit()
    client = english(app.test_client())
    assert login(client, "13800138001").status_code == 302
    page = client.get("/preferences").text
    assert "Email reminders need an email address" in page
    assert 'name="email_enabled"' not in page and 'name="email_categories"' not in page
    assert client.post("/preferences", data={"send_at": "18:00", "quiet_start": "", "quiet_end": "",
                                             "group_mention": "y"}).status_code == 302
    row = preference(user)
    assert row.send_at == "18:00" and row.email_enabled and row.email_muted == ["learning"]


def test_mentors_see_no_group_mention_and_only_their_digest(app, cohort):
    coach = make_user("coach@example.com", role=Role.MENTOR, cohort=cohort)
    client = english(app.test_client())
    login(client, coach.email)
    page = client.get("/preferences").text
    assert 'name="group_mention"' not in page
    assert checked(page, "email_categories", "digest") and 'value="checkin"' not in page
    assert client.post("/preferences", data={"email_enabled": "y", "send_at": "", "quiet_start": "",
                                             "quiet_end": ""}).status_code == 302
    row = preference(coach)
    assert row.email_muted == ["digest"] and row.group_mention  # not on her page: unchanged


def test_the_page_needs_a_login(client):
    response = client.get("/preferences")
    assert response.status_code == 302 and "/login" in response.location


def test_the_header_links_to_the_preferences(logged_in):
    assert 'href="/preferences"' in logged_in.get("/inbox").text


# --- unsubscribe ---------------------------------------------------------------------------------

def test_tokens_round_trip_and_tampered_ones_are_refused(app):
    token = prefs.unsubscribe_token(42, "learning")
    assert prefs.read_unsubscribe_token(token) == (42, "learning")
    assert prefs.read_unsubscribe_token(token[:-2] + ("AA" if not token.endswith("AA") else "BB")) is None
    assert prefs.read_unsubscribe_token("nonsense") is None
    assert prefs.read_unsubscribe_token(prefs._serializer().dumps([42, "bogus"])) is None
    from itsdangerous import URLSafeSerializer
    other = URLSafeSerializer(app.config["SECRET_KEY"], salt="something-else").dumps([42, "learning"])
    assert prefs.read_unsubscribe_token(other) is None


def test_unsubscribe_page_shows_one_button_and_changes_nothing(app, trainee):
    client = english(app.test_client())
    token = prefs.unsubscribe_token(trainee.id, "learning")
    page = client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200
    assert "Lesson reminders" in page.text
    assert len(re.findall(r"<button", page.text.split("<main", 1)[1].split("</main>")[0])) == 1
    assert f'action="/unsubscribe/{token}"' in page.text
    assert preference(trainee) is None


def test_one_click_post_without_a_csrf_token_mutes_only_that_category(make_app, trainee):
    db.session.add(ReminderPreference(user_id=trainee.id, email_enabled=True, group_mention=False,
                                      email_muted=["review"], send_at="07:00"))
    db.session.commit()
    client = english(make_app(WTF_CSRF_ENABLED=True).test_client())
    token = prefs.unsubscribe_token(trainee.id, "learning")
    response = client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert "Lesson reminders" in response.text and 'href="/preferences"' in response.text
    row = preference(trainee)
    assert sorted(row.email_muted) == ["learning", "review"]
    assert row.email_enabled and not row.group_mention and row.send_at == "07:00"
    # Twice is fine: still muted, still a confirmation.
    assert client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert sorted(preference(trainee).email_muted) == ["learning", "review"]


def test_unsubscribe_with_no_row_creates_one_with_defaults(client, trainee):
    token = prefs.unsubscribe_token(trainee.id, "checkin")
    assert client.post(f"/unsubscribe/{token}").status_code == 200
    row = preference(trainee)
    assert row.email_muted == ["checkin"] and row.email_enabled and row.group_mention
    assert (row.send_at, row.quiet_start, row.quiet_end) == (None, None, None)


def test_a_tampered_or_foreign_token_is_404(client, trainee):
    token = prefs.unsubscribe_token(trainee.id, "learning")
    payload, signature = token.rsplit(".", 1)
    forged = prefs.unsubscribe_token(trainee.id, "learning").replace(payload, payload[::-1])
    for bad in (token[:-3] + "xyz", forged, "1", f"{payload}.{signature[::-1]}"):
        assert client.get(f"/unsubscribe/{bad}").status_code == 404
        assert client.post(f"/unsubscribe/{bad}", data={"List-Unsubscribe": "One-Click"}).status_code == 404
    gone = prefs.unsubscribe_token(trainee.id + 1000, "learning")
    assert client.post(f"/unsubscribe/{gone}").status_code == 404
    assert preference(trainee) is None


def test_old_links_keep_working(app, trainee):
    """No time inside the token: the link in last year's email is the one we would sign today."""
    token = prefs.unsubscribe_token(trainee.id, "nudge")
    assert prefs.unsubscribe_token(trainee.id, "nudge") == token
    assert prefs.read_unsubscribe_token(token) == (trainee.id, "nudge")


def test_she_chooses_whether_her_cohort_sees_her_earnings(app, trainee):
    client = app.test_client()
    login(client, trainee.email)
    assert not checked(client.get("/preferences").text, "shares_earnings")   # off unless she turns it on
    assert client.post("/preferences", data=form(shares_earnings="y")).status_code == 302
    db.session.expire_all()
    assert trainee.shares_earnings is True and checked(client.get("/preferences").text, "shares_earnings")
    client.post("/preferences", data=form())
    db.session.expire_all()
    assert trainee.shares_earnings is False
