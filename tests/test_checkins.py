"""Check-ins, milestones and the diagnosis: the rules at their boundaries, time zones, money, the pages."""
import re
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine
from flask_babel import force_locale

from app.checkins.models import Checkin, CheckinRevision, Milestone, Programme
from app.core.money import format_yuan, parse_yuan
from app.checkins.service import (diagnose, milestone_status, progress,
                                  record_checkin)
from app.extensions import db
from app.core.calendar import programme_day
from app.core.errors import DomainError
from tests.conftest import count_queries, login, make_cohort
from tests.factories import SHANGHAI, START, at, count, make_trainee, programme_date

UTC = timezone.utc
LA = "America/Los_Angeles"


def record(user, now: datetime, **raw):
    return record_checkin(db.session, user, {"earnings": "0", **raw}, now)


def milestone_of(user, now: datetime, key: str):
    return next(m for m in progress(db.session, user, now).milestones if m.milestone.key == key)


@pytest.fixture
def mei(synced):
    return make_trainee("mei@example.com", tz=SHANGHAI)


NOW = at("2026-05-10 12:00")  # day 7 for a trainee in Shanghai


@pytest.fixture
def mei_web(client, mei):
    """Mei logged in, the clock stopped at NOW."""
    with time_machine.travel(NOW, tick=False):
        assert login(client, mei.email).status_code == 302
        yield client


# --- time zones and day boundaries ------------------------------------------------------------

def test_a_check_in_at_half_past_eleven_at_night_in_shanghai_counts_for_that_shanghai_day(mei):
    now = at("2026-05-06 23:30")
    assert now == datetime(2026, 5, 6, 15, 30, tzinfo=UTC)  # UTC is on the same date, 8 hours earlier
    checkin, _ = record(mei, now, date="2026-05-06", earnings="5")
    assert checkin.day == date(2026, 5, 6) and progress(db.session, mei, now).checked_in_today
    with pytest.raises(DomainError) as refused:
        record(mei, now, date="2026-05-07")
    assert set(refused.value.fields) == {"date"}


def test_half_past_midnight_in_shanghai_is_her_new_day_while_utc_is_still_on_the_day_before(mei):
    now = at("2026-05-07 00:30")
    assert now.date() == date(2026, 5, 6)
    checkin, _ = record(mei, now, date="2026-05-07", earnings="5")
    assert checkin.day == date(2026, 5, 7) and programme_day(mei, now) == 4


def test_late_evening_in_los_angeles_is_tomorrow_in_utc_but_counts_for_her_day(synced):
    ana = make_trainee(tz=LA)
    now = at("2026-05-06 23:30", LA)
    assert now.date() == date(2026, 5, 7)
    assert record(ana, now, date="2026-05-06", earnings="5")[0].day == date(2026, 5, 6)
    with pytest.raises(DomainError):
        record(ana, now, date="2026-05-07")


@pytest.mark.parametrize("tz", [SHANGHAI, LA])
def test_day_seven_ends_at_midnight_in_her_own_time_zone(synced, tz):
    she = make_trainee(tz=tz)
    record(she, at("2026-05-05 12:00", tz), date="2026-05-05", earnings="50")
    last_second = milestone_of(she, at("2026-05-10 23:59:59", tz), "first-week")
    assert (last_second.due, last_second.status, last_second.days_left) == (date(2026, 5, 10), "behind", 1)
    assert milestone_of(she, at("2026-05-11 00:00", tz), "first-week").status == "missed"


def test_at_one_instant_day_seven_is_over_in_shanghai_but_not_in_los_angeles(synced):
    cohort = make_cohort("Both coasts", "BOTH", START)
    mei, ana = make_trainee(cohort=cohort, tz=SHANGHAI), make_trainee(cohort=cohort, tz=LA)
    now = datetime(2026, 5, 10, 16, 0, tzinfo=UTC)  # 00:00 on the 11th in Shanghai, 09:00 on the 10th in LA
    assert (programme_day(mei, now), programme_day(ana, now)) == (8, 7)
    assert milestone_of(mei, now, "first-week").status == "missed"
    assert milestone_of(ana, now, "first-week").status == "behind"


@pytest.mark.parametrize("tz, local, today", [(SHANGHAI, "2026-05-07 00:30", "2026-05-07"),
                                              (LA, "2026-05-06 23:30", "2026-05-06")])
def test_the_check_in_form_proposes_her_local_today(synced, client, tz, local, today):
    she = make_trainee(tz=tz)
    with time_machine.travel(at(local, tz), tick=False):
        login(client, she.email)
        page = client.get("/checkin").text
    date_input = re.search(r'<input[^>]*id="date"[^>]*>', page).group(0)
    assert f'value="{today}"' in date_input and f'max="{today}"' in date_input


# --- the status rules ------------------------------------------------------------------------

WEEK = Milestone(key="first-week", metric="earnings", target=100_00, by_day=7)
TEN_DAYS = Milestone(key="ten-days", metric="earnings", target=100_00, by_day=10)
MEMBERS = Milestone(key="first-100-members", metric="group_members", target=100, by_day=30)


def ci(n: int, fen: int = 0, **counts) -> Checkin:
    return Checkin(day=programme_date(n), earnings_fen=fen, **counts)


def status_on(milestone, checkins, today: int, margin: int = 20):
    return milestone_status(milestone, checkins, START, programme_date(today), margin)


@pytest.mark.parametrize("checkins, today, status", [
    ([ci(3, 100_00)], 3, "achieved"),                  # exactly the target
    ([ci(3, 99_99)], 7, "on_track"),                   # one fen under, on the last day
    ([ci(3, 99_99)], 8, "missed"),                     # ... and the day after the due date
    ([ci(2, 60_00), ci(7, 40_00)], 8, "achieved"),     # reached on the last day
    ([ci(2, 100_00)], 40, "achieved"),                 # achieved stays achieved after the due date
    ([ci(2, 50_00), ci(8, 50_00)], 8, "missed"),       # a check-in after the due date does not count for it
    ([], 1, "on_track"),                               # on day 1 no day is over yet
], ids=["exactly", "one-fen-under", "missed-next-day", "on-last-day", "stays-achieved", "late-sale", "day-one"])
def test_the_first_week_status_at_its_boundaries(checkins, today, status):
    result = status_on(WEEK, checkins, today)
    assert result.status == status
    assert result.current == sum(c.earnings_fen for c in checkins if c.day <= programme_date(7))


@pytest.mark.parametrize("milestone, checkins, today, status", [
    # 10 days for ¥100: after 5 days the line is ¥50, and 20% under it is ¥40.
    (TEN_DAYS, [ci(1, 40_00)], 6, "on_track"),
    (TEN_DAYS, [ci(1, 39_99)], 6, "behind"),
    # 30 days for 100 members: after 2 days the line is 6.67, and 20% under it is 5.33.
    (MEMBERS, [ci(1, group_members=6)], 3, "on_track"),
    (MEMBERS, [ci(1, group_members=5)], 3, "behind"),
])
def test_behind_means_under_the_pro_rata_line_by_more_than_the_margin(milestone, checkins, today, status):
    assert status_on(milestone, checkins, today).status == status


def test_the_members_milestone_takes_the_latest_number_she_reported():
    checkins = [ci(1, group_members=120), ci(2, group_members=80), ci(3, 5_00)]  # day 3 says nothing of members
    assert status_on(MEMBERS, checkins, 4).current == 80
    assert status_on(MEMBERS, [ci(1, group_members=80), ci(5, group_members=100)], 6).status == "achieved"


# --- money is integer fen, never a float ---------------------------------------------------------

@pytest.mark.parametrize("raw, fen", [("12.5", 1250), (12.5, 1250), ("12.50元", 1250), ("¥1,200.00", 120000),
                                      ("0.1", 10), ("0", 0), ("100000", 100_000_00)])
def test_amounts_in_yuan_become_fen(raw, fen):
    assert parse_yuan(raw) == fen


def test_ten_thousand_check_ins_of_ten_fen_make_exactly_a_thousand_yuan():
    checkins = [ci(1, parse_yuan("0.10")) for _ in range(10_000)]
    month = Milestone(key="first-month", metric="earnings", target=1000_00, by_day=30)
    result = status_on(month, checkins, 2)
    assert (result.current, format_yuan(result.current), result.status) == (100_000, "1000.00", "achieved")
    assert sum(0.1 for _ in range(10_000)) != 1000  # what floats would have made of it


def test_point_one_and_point_two_yuan_make_exactly_thirty_fen(mei):
    now = at("2026-05-06 12:00")
    record(mei, now, date="2026-05-05", earnings="0.1")
    record(mei, now, date="2026-05-06", earnings="0.2")
    state = progress(db.session, mei, now)
    assert state.total_earnings_fen == 30 and format_yuan(state.total_earnings_fen) == "0.30"
    assert milestone_of(mei, now, "first-week").current == 30


# --- bad input: a clear message on its field, nothing stored -------------------------------------

BAD = [  # today is 2026-05-20 for her (day 17); she may still correct back to 2026-05-13
    ({"earnings": "-1"}, "earnings", "cannot be negative"),
    ({"earnings": "twelve"}, "earnings", "such as 12.50"),
    ({"earnings": "1.234"}, "earnings", "at most 2 decimals"),
    ({"earnings": "100000.01"}, "earnings", "more than ¥100,000"),
    ({"earnings": "1e30"}, "earnings", "more than ¥100,000"),
    ({"earnings": ""}, "earnings", "0 if nothing yet"),
    ({"date": "2026-05-21"}, "date", "not come yet"),
    ({"date": "2026-05-03"}, "date", "started on 2026-05-04"),
    ({"date": "2026-05-12"}, "date", "can no longer be changed"),
    ({"date": "20/05/2026"}, "date", "YYYY-MM-DD"),
    ({"group_members": "30", "active_members": "31"}, "active_members", "more than the group's members"),
    ({"bonus": "1"}, "bonus", "Unknown field"),
    ({"orders": "2.5"}, "orders", "whole number"),
    ({"orders": 2.5}, "orders", "whole number"),
    ({"orders": "-1"}, "orders", "negative"),
]


@pytest.mark.parametrize("raw, field, message", BAD, ids=[f"{f}:{list(r.values())[-1]}" for r, f, _ in BAD])
def test_bad_input_gets_a_clear_message_on_its_field_and_stores_nothing(mei, raw, field, message):
    with pytest.raises(DomainError) as refused:
        record(mei, at("2026-05-20 12:00"), **{"date": "2026-05-20", "earnings": "12.50", **raw})
    with force_locale("en"):
        assert set(refused.value.fields) == {field} and message in str(refused.value.fields[field])
    db.session.commit()
    assert count(Checkin) == 0


def test_every_bad_field_is_reported_at_once_the_day_included(mei):
    with pytest.raises(DomainError) as refused:
        record(mei, at("2026-05-20 12:00"), date="2026-05-21", earnings="-1", orders="x")
    assert set(refused.value.fields) == {"date", "earnings", "orders"}


def test_the_oldest_day_she_may_still_correct_is_the_window_s_last(mei):
    assert record(mei, at("2026-05-20 12:00"), date="2026-05-13")[0].day == date(2026, 5, 13)


@pytest.mark.parametrize("typed, field, message", [
    ({"earnings": "-5"}, "earnings", "cannot be negative"),
    ({"earnings": "lots"}, "earnings", "such as 12.50"),
    ({"date": "2026-05-11"}, "date", "not come yet"),
    ({"group_members": "10", "active_members": "12"}, "active_members", "more than the group"),
    ({"orders": "2.5"}, "orders", "whole number"),
])
def test_the_web_form_answers_422_keeps_what_she_typed_and_stores_nothing(mei_web, typed, field, message):
    data = {"date": "2026-05-10", "earnings": "12.50", "orders": "3", "posts": "2", "note": "接龙", **typed}
    response = mei_web.post("/checkin", data=data)
    assert response.status_code == 422
    for name, value in data.items():
        if name != "note":
            assert re.search(rf'<input[^>]*name="{name}"[^>]*value="{re.escape(value)}"', response.text), name
    assert "接龙</textarea>" in response.text
    assert "is-invalid" in re.search(rf'<input[^>]*name="{field}"[^>]*>', response.text).group(0)
    assert re.search(r'class="invalid-feedback[^>]*>[^<]*' + re.escape(message), response.text.replace("&#39;", "'"))
    assert count(Checkin) == 0


# --- one check-in per day, corrections kept -------------------------------------------------------

def test_a_second_check_in_for_the_same_day_corrects_it_and_keeps_the_old_numbers(mei):
    now = at("2026-05-06 12:00")
    first, created = record(mei, now, date="2026-05-06", earnings="12.50", orders="3", note="first")
    later = now + timedelta(hours=2)
    second, created_again = record(mei, later, date="2026-05-06", earnings="20", orders="4", note="corrected")
    db.session.commit()
    assert created and not created_again and second.id == first.id and count(Checkin) == 1
    assert (second.earnings_fen, second.orders, second.note) == (2000, 4, "corrected")
    [revision] = db.session.scalars(sa.select(CheckinRevision)).all()
    assert revision.values == {"earnings_fen": 1250, "orders": 3, "group_members": None, "active_members": None,
                               "posts": None, "note": "first", "source": "web"}
    assert revision.changed_by_id == mei.id and revision.changed_at == later


# --- the diagnosis ------------------------------------------------------------------------------

def diagnosis_on(content, n: int, members, active, orders):
    """Her diagnosis on programme day n, from a check-in the day before."""
    rules = Programme(diagnosis=content.programme.diagnosis)
    return diagnose([ci(n - 1, group_members=members, active_members=active, orders=orders)], programme_date(n), rules, n)


def named(result) -> tuple:
    return (result.weakest and result.weakest.name, result.weakest and result.weakest.lesson)


@pytest.mark.parametrize("members, active, orders, weakest, lesson", [
    (40, 20, 10, "traffic", "group-building/warm-contacts"),          # day 10: 50 people is on track
    (200, 20, 10, "circulation", "group-building/daily-rhythm"),       # the lesson that fixes it, not content
    (200, 100, 5, "monetization", "product-selection/first-three"),
    (150, 60, 20, None, None),  # every factor at or above its reference
])
def test_the_diagnosis_names_the_weakest_factor_and_its_lesson(content, members, active, orders, weakest, lesson):
    result = diagnosis_on(content, 10, members, active, orders)
    assert result.has_data and result.stage == "first-orders"
    assert named(result) == (weakest, lesson)


def test_the_group_size_on_track_grows_with_her_programme_day(content):
    references = {n: diagnosis_on(content, n, 40, 20, 10).factors[0].reference for n in (1, 7, 8, 14, 15, 22, 30)}
    assert references == {1: 30, 7: 30, 8: 50, 14: 50, 15: 70, 22: 100, 30: 100}
    assert named(diagnosis_on(content, 5, 40, 20, 10)) == (None, None)        # a warm group of 40 in week one
    assert named(diagnosis_on(content, 25, 40, 20, 10)) == ("traffic", "group-building/warm-contacts")


def test_a_week_one_newcomer_with_a_small_quiet_group_is_told_to_raise_circulation_not_to_add_people(content):
    result = diagnosis_on(content, 4, 20, 3, 0)      # every factor under its reference, the group the most
    assert [round(f.ratio, 2) for f in result.factors] == [0.67, 0.5, 0.0]
    assert named(result) == ("circulation", "group-building/daily-rhythm")


def test_a_large_but_quiet_group_is_told_to_get_its_people_talking(content):
    assert named(diagnosis_on(content, 20, 180, 12, 6)) == ("circulation", "group-building/daily-rhythm")
    assert named(diagnosis_on(content, 20, 180, 12, 0)) == ("circulation", "group-building/daily-rhythm")


def test_a_small_but_lively_group_that_does_not_buy_is_told_to_fix_what_it_offers_before_growing(content):
    result = diagnosis_on(content, 10, 12, 9, 0)     # small (12 of 50) and buying nothing
    assert named(result) == ("monetization", "product-selection/first-three")
    assert named(diagnosis_on(content, 10, 12, 9, 4)) == ("traffic", "group-building/warm-contacts")  # once it buys


def test_without_numbers_of_the_last_week_there_is_no_diagnosis(content):
    rules = Programme(diagnosis=content.programme.diagnosis)
    for checkins in ([], [ci(1, 5_00)], [ci(2, group_members=40, active_members=20, orders=10)]):
        result = diagnose(checkins, programme_date(10), rules, 10)  # day 2 is more than a week before day 10
        assert not result.has_data and result.weakest is None


def test_a_programme_without_stages_names_nothing():
    result = diagnose([ci(9, group_members=5, active_members=1, orders=0)], programme_date(10), Programme(diagnosis={}), 10)
    assert (result.has_data, result.weakest, result.factors) == (False, None, [])


@pytest.mark.parametrize("numbers, shown", [
    ({"group_members": "20", "active_members": "10", "orders": "5"},      # day 7: 30 people is on track
     'data-weakest="traffic"[^@]*href="/courses/group-building/warm-contacts"'),
    ({"group_members": "200", "active_members": "20", "orders": "10"},
     'data-weakest="circulation"[^@]*href="/courses/group-building/daily-rhythm"'),
    ({"group_members": "200", "active_members": "100", "orders": "5"},
     'data-weakest="monetization"[^@]*href="/courses/product-selection/first-three"'),
    ({}, "Add your group"),
    ({"group_members": "150", "active_members": "60", "orders": "20"}, "Every factor is at or above its reference"),
])
def test_the_progress_page_shows_the_diagnosis_and_links_its_lesson(mei_web, numbers, shown):
    assert mei_web.post("/checkin", data={"date": "2026-05-10", "earnings": "8", **numbers}).status_code == 302
    section = mei_web.get("/progress").text.split('id="diagnosis"')[1].split("</section>")[0]
    assert re.search(shown, section), section
    assert ("data-weakest" in section) == ("weakest" in shown)


# --- her numbers are hers alone ----------------------------------------------------------------

def test_her_pages_only_ever_show_her_own_numbers(synced, client, mei):
    ana = make_trainee("ana@example.com", tz=SHANGHAI)
    with time_machine.travel(NOW, tick=False):
        login(client, mei.email)
        mine = {"date": "2026-05-10", "earnings": "4321.98", "orders": "77", "note": "mei-only"}
        assert client.post("/checkin", data=mine).status_code == 302
        client.post("/logout")
        login(client, ana.email)
        for url in ("/", "/progress", "/checkin?date=2026-05-10", f"/progress?user_id={mei.id}",
                    f"/checkin?date=2026-05-10&user_id={mei.id}"):
            page = client.get(url).text
            for secret in ("4,321.98", "4321.98", "77 orders", 'value="77"', "mei-only"):
                assert secret not in page, (url, secret)
        assert "No check-ins yet." in client.get("/progress").text


def test_no_url_takes_a_user_id(app):
    rules = list(app.url_map.iter_rules())
    assert not [rule.rule for rule in rules if any("user" in argument for argument in rule.arguments)]
    own = [r for r in rules if r.endpoint.startswith("checkins.") or r.endpoint in
           ("api.list_checkins", "api.create_checkin", "api.progress")]
    assert len(own) == 5 and not [r.rule for r in own if r.arguments]


# --- the pages: bounded queries, an accessible chart ----------------------------------------------

def test_the_home_and_progress_pages_issue_as_many_queries_with_1_or_30_check_ins(mei_web, mei):
    def add(numbers):
        for n in numbers:
            db.session.add(Checkin(user_id=mei.id, day=programme_date(n), earnings_fen=3_00 * n, orders=n % 4,
                                   group_members=10 + n, active_members=n % 7, posts=1, note=f"day {n}"))
        db.session.commit()

    def measure():
        counts = []
        for url in ("/", "/progress"):
            with count_queries() as n:
                assert mei_web.get(url).status_code == 200
            counts.append(n())
        return counts

    with time_machine.travel(at("2026-06-10 12:00"), tick=False):  # day 38
        add([1])
        measure()  # warm up
        one = measure()
        add(range(2, 31))
        assert measure() == one and max(one) <= 15, one


def test_the_progress_chart_is_an_inline_svg_without_script_or_remote_urls_and_has_a_table(mei_web, mei):
    for n, amount in [(2, "12.50"), (3, "0.30"), (5, "1200")]:
        record(mei, NOW, date=programme_date(n).isoformat(), earnings=amount)
    db.session.commit()
    page = mei_web.get("/progress").text
    svg = re.search(r"<svg\b[^>]*>", page).group(0)
    assert 'role="img"' in svg and re.search(r'aria-label="[^"]{10,}"', svg)
    assert "<script" not in page.lower()
    assert set(re.findall(r"https?://[^\s\"'<>]*", page)) <= {"http://www.w3.org/2000/svg",
                                                               "http://www.w3.org/1999/xlink"}
    table = page.split('id="earnings-table"')[1].split("</table>")[0]
    for row in (("2026-05-05", "¥12.50", "¥12.50"), ("2026-05-06", "¥0.30", "¥12.80"),
                ("2026-05-08", "¥1,200.00", "¥1,212.80")):
        assert "<tr><td>{}</td><td>{}</td><td>{}</td></tr>".format(*row) in table
    assert table.count("<tr>") == 1 + 3  # the header and one row per check-in
