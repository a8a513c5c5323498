"""The mentor's cohort dashboard: who may see what, the reasons for attention, "contacted", filters,
the CSV export, escaping of everything people wrote, nudges, and queries that do not grow with the cohort.

The clock stands at noon in Shanghai on 20 May 2026: day 11 of cohorts starting on 10 May.
"""
import csv
import functools
import io
import re
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from app.accounts.models import User
from app.core.access import Role
from app.checkins.models import Checkin
from app.cohorts.models import MentorNote
from app.reminders.models import InboxMessage
from app.extensions import db
from app.learning.models import Lesson
from app.quizzes import service as quiz_service
from app.quizzes.models import QuizAttempt
from tests import factories
from tests.factories import (EVIL, SCRIPT, TwoCohorts, api_headers, assert_inert, client_as, count, frozen_clock,
                             make_trainee, two_cohorts)
from bench.dashboard import seed_trainees
from tests.conftest import count_queries, english, make_cohort
from tests.quiz_helpers import load_test_quizzes

UTC = timezone.utc
NOW = datetime(2026, 5, 20, 4, 0, tzinfo=UTC)   # noon in Shanghai
START = date(2026, 5, 10)                        # day 1; today is day 11
ACTIVE = NOW - timedelta(hours=1)                # when most of them last logged in
ACTIONS = ("notes", "nudge", "contacted")


clock = frozen_clock(NOW, autouse=True)


# --- people and what they did ----------------------------------------------------------------------

# The factory's check-in on this file's calendar, as the mentors' CSV import writes it.
check_in = functools.partial(factories.check_in, start=START, source="import")


def doing_well(user, last_day: int = 10, earnings: str = "40"):
    """¥40 a day from day 1 and a group of 120: every milestone achieved or on track."""
    for n in range(1, last_day + 1):
        check_in(user, n, earnings, group_members=120, active_members=40, orders=10)


def attempt(user, quiz, passed: bool | None, at: datetime = NOW - timedelta(days=1)):
    """A graded attempt (passed or failed), or one waiting for review (passed=None)."""
    number = 1 + db.session.scalar(sa.select(sa.func.count(QuizAttempt.id)).where(
        QuizAttempt.user_id == user.id, QuizAttempt.quiz_id == quiz.id))
    row = QuizAttempt(quiz_id=quiz.id, user_id=user.id, number=number, questions=[], answers={}, results={},
                      max_score=10, started_at=at - timedelta(minutes=5), submitted_at=at,
                      state=QuizAttempt.AWAITING_REVIEW if passed is None else QuizAttempt.GRADED,
                      percent=None if passed is None else (90 if passed else 20), is_passed=passed)
    db.session.add(row)
    db.session.commit()
    return row


def card_ids(html: str) -> list[int]:
    """The trainees shown as lines of the dashboard's table, in page order."""
    return [int(i) for i in re.findall(r'<tr class="trainee-row" data-trainee="(\d+)"', html)]


def attention_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<div class="list-group-item" data-trainee="(\d+)"', html)]


@pytest.fixture
def world(synced) -> TwoCohorts:
    world = two_cohorts(START, last_active=ACTIVE)
    check_in(world.mei, 10, "12.50")
    check_in(world.ana, 10, "8")
    return world


def pages(cohort_id: int, trainee_id: int) -> list[str]:
    base = f"/cohorts/{cohort_id}"
    return [f"{base}/dashboard", f"{base}/attention", f"{base}/export.csv", f"{base}/trainees/{trainee_id}"]


def post(client, cohort_id: int, trainee_id: int, action: str, **form):
    return client.post(f"/cohorts/{cohort_id}/trainees/{trainee_id}/{action}", data={"body": "hello", **form})


def written() -> tuple[int, int]:
    return count(MentorNote), count(InboxMessage)


# --- access ------------------------------------------------------------------------------------------

def test_a_mentor_sees_her_own_cohort_and_nothing_of_another(app, world):
    client = client_as(app, world.mentor)
    listing = client.get("/cohorts").text
    assert "Spring cohort" in listing and "Autumn cohort" not in listing
    for path in pages(world.mine.id, world.mei.id):
        assert client.get(path).status_code == 200, path
    for path in pages(world.other.id, world.ana.id) + pages(999_999, world.mei.id):
        assert client.get(path).status_code == 404, path
    headers = api_headers(world.mentor)
    assert [c["id"] for c in client.get("/api/v1/cohorts", headers=headers).json] == [world.mine.id]
    assert client.get(f"/api/v1/cohorts/{world.mine.id}/trainees", headers=headers).status_code == 200
    assert client.get(f"/api/v1/cohorts/{world.other.id}/trainees", headers=headers).status_code == 404
    assert client.get("/api/v1/cohorts/999999/trainees", headers=headers).status_code == 404


def test_guessing_a_trainee_id_under_my_cohort_s_address_answers_404(app, world):
    """Ana is in the other cohort: her id under my cohort's URL is refused like a missing one."""
    client = client_as(app, world.mentor)
    for trainee_id in (world.ana.id, world.mentor.id, world.admin.id, 999_999):
        assert client.get(f"/cohorts/{world.mine.id}/trainees/{trainee_id}").status_code == 404, trainee_id
        for action in ACTIONS:
            assert post(client, world.mine.id, trainee_id, action).status_code == 404, (trainee_id, action)
    assert written() == (0, 0)


@pytest.mark.parametrize("action", ACTIONS)
def test_notes_nudges_and_contacted_are_for_her_own_trainees_only(app, world, action):
    client = client_as(app, world.mentor)
    assert post(client, world.other.id, world.ana.id, action).status_code == 404
    assert written() == (0, 0)
    assert post(client, world.mine.id, world.mei.id, action).status_code == 302
    assert sum(written()) == 1


def test_a_comment_on_another_trainee_s_check_in_is_refused(app, world):
    neighbour = make_trainee("neighbour@example.com", world.mine, name="Neighbour", last_active=ACTIVE)
    client = client_as(app, world.mentor)
    for owner in (world.ana, neighbour):  # another cohort's, and another trainee's of my cohort
        checkin_id = check_in(owner, 9, "1").id
        response = post(client, world.mine.id, world.mei.id, "notes", checkin_id=str(checkin_id))
        assert response.status_code == 404
    assert written() == (0, 0)


def test_an_admin_sees_every_cohort(app, world):
    client = client_as(app, world.admin)
    listing = client.get("/cohorts").text
    assert "Spring cohort" in listing and "Autumn cohort" in listing
    for path in pages(world.other.id, world.ana.id) + pages(world.mine.id, world.mei.id):
        assert client.get(path).status_code == 200, path
    assert post(client, world.other.id, world.ana.id, "nudge").status_code == 302
    ids = {c["id"] for c in client.get("/api/v1/cohorts", headers=api_headers(world.admin)).json}
    assert ids == {world.mine.id, world.other.id}


def test_a_trainee_sees_no_mentor_page_not_even_of_her_own_cohort(app, world):
    client = client_as(app, world.mei)
    assert client.get("/cohorts").status_code == 404
    for path in pages(world.mine.id, world.mei.id) + pages(world.other.id, world.ana.id):
        assert client.get(path).status_code == 404, path
    for action in ACTIONS:
        assert post(client, world.mine.id, world.mei.id, action).status_code == 404
    assert written() == (0, 0)
    headers = api_headers(world.mei)
    assert client.get("/api/v1/cohorts", headers=headers).status_code == 403
    assert client.get(f"/api/v1/cohorts/{world.mine.id}/trainees", headers=headers).status_code == 404


def test_a_mentor_taken_off_the_cohort_or_demoted_loses_it_at_once(app, world):
    client = client_as(app, world.mentor)
    dashboard = f"/cohorts/{world.mine.id}/dashboard"
    assert client.get(dashboard).status_code == 200
    world.mine.mentors.remove(world.mentor)
    db.session.commit()
    assert client.get(dashboard).status_code == 404
    world.mine.mentors.append(world.mentor)
    world.mentor.role = Role.TRAINEE  # still listed as the cohort's mentor, but no longer one
    db.session.commit()
    assert client.get(dashboard).status_code == 404
    assert post(client, world.mine.id, world.mei.id, "nudge").status_code == 404


def test_someone_logged_out_is_sent_to_log_in(client, world):
    for path in pages(world.mine.id, world.mei.id):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.location, path
    for action in ACTIONS:
        assert post(client, world.mine.id, world.mei.id, action).status_code == 302
    assert written() == (0, 0)
    assert client.get("/api/v1/cohorts").status_code == 401


# --- queries do not grow with the cohort -------------------------------------------------------------

def test_the_dashboard_attention_list_and_api_run_as_many_queries_for_500_trainees_as_for_10(app, world):
    load_test_quizzes()  # so that there are attempts: passed, failed twice, essays waiting
    client, headers = client_as(app, world.mentor), api_headers(world.mentor)
    paths = {"dashboard": (f"/cohorts/{world.mine.id}/dashboard", {}),
             "filtered": (f"/cohorts/{world.mine.id}/dashboard?sort=earnings&status=behind&page=2", {}),
             "attention": (f"/cohorts/{world.mine.id}/attention", {}),
             "export": (f"/cohorts/{world.mine.id}/export.csv", {}),
             "api": (f"/api/v1/cohorts/{world.mine.id}/trainees?per_page=100", headers)}

    def counts() -> dict[str, int]:
        out = {}
        for name, (path, extra) in paths.items():
            client.get(path, headers=extra)  # warm: the first request may load what is cached afterwards
            with count_queries() as n:
                assert client.get(path, headers=extra).status_code == 200, name
            out[name] = n()
        return out

    seed_trainees(db.session, world.mine, 10, NOW, checkins_each=8, first=0)
    db.session.commit()
    small = counts()
    seed_trainees(db.session, world.mine, 490, NOW, checkins_each=8, first=10)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(User.id)).where(User.cohort_id == world.mine.id,
                                                                    User.role == Role.TRAINEE)) == 501
    large = counts()
    assert large == small
    assert max(large.values()) < 40


# --- reasons for attention ---------------------------------------------------------------------------

@pytest.fixture
def cases(world):
    """Trainees of my cohort each with one situation (Mei, from the world, checked in ¥12.50 on day 10)."""
    sample, writing = load_test_quizzes()
    people = {}
    people["star"] = make_trainee("star@example.com", world.mine, name="Star", last_active=ACTIVE)
    doing_well(people["star"])
    people["behind"] = make_trainee("behind@example.com", world.mine, name="Behind", last_active=ACTIVE)
    check_in(people["behind"], 9, "10", group_members=120)
    check_in(people["behind"], 10, "10", group_members=120)
    people["quiet"] = make_trainee("quiet@example.com", world.mine, name="Quiet", last_active=ACTIVE)
    doing_well(people["quiet"], last_day=7)                      # nothing since day 7: 4 days
    people["gone"] = make_trainee("gone@example.com", world.mine, name="Gone", last_active=NOW - timedelta(hours=24 * 6 + 1))
    doing_well(people["gone"], last_day=5, earnings="80")        # checked in up to day 5, then gone
    people["never"] = make_trainee("never@example.com", world.mine, name="Never")
    people["failing"] = make_trainee("failing@example.com", world.mine, name="Failing", last_active=ACTIVE)
    doing_well(people["failing"])
    attempt(people["failing"], sample, False)
    attempt(people["failing"], sample, False)
    people["essay"] = make_trainee("essay@example.com", world.mine, name="Essay", last_active=ACTIVE)
    doing_well(people["essay"])
    attempt(people["essay"], writing, None)
    people["retried"] = make_trainee("retried@example.com", world.mine, name="Retried", last_active=ACTIVE)
    doing_well(people["retried"])
    for passed in (False, False, True):                         # failed twice, then passed
        attempt(people["retried"], sample, passed)
    return people


def reasons(client, headers, cohort_id) -> dict[str, list[str]]:
    rows = client.get(f"/api/v1/cohorts/{cohort_id}/trainees?per_page=200", headers=headers).json["trainees"]
    return {row["name"]: row["reasons"] for row in rows}


def test_each_reason_for_attention_is_given_for_the_right_trainee(app, world, cases):
    client, headers = client_as(app, world.mentor), api_headers(world.mentor)
    assert reasons(client, headers, world.mine.id) == {
        "Star": [], "Retried": [],
        "美美": ["behind"],                                # ¥12.50 by day 11 of a ¥1,000 month
        "Behind": ["behind"],
        "Quiet": ["quiet"],
        "Gone": ["quiet", "inactive"],
        "Never": ["behind", "quiet", "inactive"],
        "Failing": ["failed_quiz"],
        "Essay": ["essay_waiting"]}
    page = client.get(f"/cohorts/{world.mine.id}/attention").text
    flagged = attention_ids(page)
    assert set(flagged) == {cases[k].id for k in ("behind", "quiet", "gone", "never", "failing", "essay")} | {
        world.mei.id}
    assert flagged[0] == cases["never"].id  # the most reasons first
    assert "No check-in for 4 days" in page and "Never active since joining" in page
    assert "Inactive for 6 days" in page and "Failed Test quiz twice" in page


def test_quiet_counts_from_day_3_and_inactive_after_day_3(app, world):
    """Someone who has done nothing at all: nothing on day 1; behind and quiet on day 3 (she had ¥100 of a
    week to make); inactive only from day 4."""
    for name, start in (("Day one", date(2026, 5, 20)), ("Day three", date(2026, 5, 18)),
                        ("Day four", date(2026, 5, 17))):
        cohort = make_cohort(name, name.replace(" ", "").upper(), start)
        cohort.mentors.append(world.mentor)
        db.session.commit()
        make_trainee(f"{name.replace(' ', '')}@example.com", cohort, name=name)
    client, headers = client_as(app, world.mentor), api_headers(world.mentor)
    found = {}
    for cohort in client.get("/api/v1/cohorts", headers=headers).json:
        if cohort["name"].startswith("Day"):
            found.update(reasons(client, headers, cohort["id"]))
    assert found == {"Day one": [], "Day three": ["behind", "quiet"], "Day four": ["behind", "quiet", "inactive"]}


def test_contacted_takes_her_off_the_list_until_she_checks_in_again(app, world, cases):
    client, headers = client_as(app, world.mentor), api_headers(world.mentor)
    behind = cases["behind"]
    attention = f"/cohorts/{world.mine.id}/attention"
    assert behind.id in attention_ids(client.get(attention).text)
    response = client.post(f"/cohorts/{world.mine.id}/trainees/{behind.id}/contacted",
                           data={"body": "called her", "next": attention})
    assert response.status_code == 302 and response.location.endswith(attention)
    assert behind.id not in attention_ids(client.get(attention).text)
    assert reasons(client, headers, world.mine.id)["Behind"] == []
    assert behind.id in card_ids(client.get(f"/cohorts/{world.mine.id}/dashboard").text)  # still on the dashboard
    with time_machine.travel(NOW + timedelta(hours=2), tick=False):
        check_in(behind, 11, "5", at=NOW + timedelta(hours=1))  # something new, and still behind: back
        assert behind.id in attention_ids(client.get(attention).text)
        assert reasons(client, headers, world.mine.id)["Behind"] == ["behind"]


def test_contacted_lasts_a_week_when_she_does_nothing_new(app, world, cases):
    client, headers = client_as(app, world.mentor), api_headers(world.mentor)
    gone = cases["gone"]
    attention = f"/cohorts/{world.mine.id}/attention"
    client.post(f"/cohorts/{world.mine.id}/trainees/{gone.id}/contacted", data={})
    for days, listed in ((1, False), (6, False), (7.1, True)):
        with time_machine.travel(NOW + timedelta(days=days), tick=False):
            assert (gone.id in attention_ids(client.get(attention).text)) is listed, days
    assert reasons(client, headers, world.mine.id)["Gone"] == []


# --- filters, sort, search, pages ---------------------------------------------------------------------

@pytest.fixture
def crowd(world):
    """60 seeded trainees in my cohort besides Mei (61 in all)."""
    load_test_quizzes()
    seed_trainees(db.session, world.mine, 60, NOW, checkins_each=8)
    db.session.commit()
    return world


def api_rows(client, world) -> list[dict]:
    return client.get(f"/api/v1/cohorts/{world.mine.id}/trainees?per_page=200",
                      headers=api_headers(world.mentor)).json["trainees"]


def test_the_dashboard_pages_by_50_and_keeps_the_filters_on_its_links(app, crowd):
    client = client_as(app, crowd.mentor)
    rows = api_rows(client, crowd)
    by_name = [r["id"] for r in sorted(rows, key=lambda r: r["name"])]
    first = client.get(f"/cohorts/{crowd.mine.id}/dashboard?sort=name")
    assert card_ids(first.text) == by_name[:50] and "61 trainees shown" in first.text
    link = re.search(r'rel="next" href="([^"]+)"', first.text).group(1).replace("&amp;", "&")
    assert "sort=name" in link and "page=2" in link
    second = client.get(link).text
    assert card_ids(second) == by_name[50:] and 'rel="prev"' in second and 'rel="next"' not in second
    assert card_ids(client.get(f"/cohorts/{crowd.mine.id}/dashboard?sort=name&page=99").text) == by_name[50:]


@pytest.mark.parametrize("sort, key", [
    ("earnings", lambda r: (-r["earnings_fen"], r["name"])),
    ("lessons", lambda r: (-r["lessons_done"], r["name"])),
    ("last_active", lambda r: (r["last_active"] is not None, r["last_active"] or "")),
    ("attention", lambda r: (-r["attention"], r["name"])),
])
def test_the_dashboard_sorts(app, crowd, sort, key):
    client = client_as(app, crowd.mentor)
    expected = [r["id"] for r in sorted(api_rows(client, crowd), key=key)][:50]
    assert card_ids(client.get(f"/cohorts/{crowd.mine.id}/dashboard?sort={sort}").text) == expected


def test_the_dashboard_filters_by_status_inactivity_lesson_and_search(app, crowd):
    client = client_as(app, crowd.mentor)
    rows = api_rows(client, crowd)
    dashboard = f"/cohorts/{crowd.mine.id}/dashboard?sort=name&"

    def shown(query: str) -> set[int]:
        return set(card_ids(client.get(dashboard + query).text))

    for status in ("behind", "on_track", "achieved", "missed"):
        assert shown(f"status={status}") == {r["id"] for r in rows if r["status"] == status}, status
    week_ago = (NOW - timedelta(days=7)).isoformat()
    assert shown("inactive=7") == {r["id"] for r in rows if r["last_active"] is None or r["last_active"] <= week_ago}
    some = next(r for r in rows if r["next_lesson"])
    course_slug, lesson_slug = some["next_lesson"].split("/")
    lesson = db.session.scalar(sa.select(Lesson).where(Lesson.slug == lesson_slug))
    assert lesson.course.slug == course_slug
    assert shown(f"stuck={lesson.id}") == {r["id"] for r in rows if r["next_lesson"] == some["next_lesson"]}
    one = rows[7]
    assert shown(f"q={one['name']}") == {one["id"]}
    assert shown(f"q={one['mobile']}") == {one["id"]}
    assert shown("q=美美") == {crowd.mei.id}
    assert shown("q=nobody-is-called-this") == set()


@pytest.mark.parametrize("query", [
    "page=abc", "page=²", "page=-1", "page=0", "inactive=²", "inactive=abc", "sort=__class__", "status=evil",
    "stuck=x", "q=" + "x" * 500, "cohort_id=999", "_external=1", "page=99999999999999999999"])
def test_odd_query_arguments_do_not_break_the_dashboard(app, world, query):
    client = client_as(app, world.mentor)
    assert client.get(f"/cohorts/{world.mine.id}/dashboard?{query}").status_code == 200
    assert client.get(f"/cohorts/{world.mine.id}/export.csv?{query}").status_code == 200


# --- the CSV export -------------------------------------------------------------------------------------

def test_the_csv_export_has_every_row_a_bom_and_no_formulas(app, world):
    names = ["=HYPERLINK(\"http://evil\",\"x\")", "+1+1", "-2+3", "@SUM(A1)", "Zoë, \"the\" best"]
    for n, name in enumerate(names):
        make_trainee(f"csv{n}@example.com", world.mine, name=name, last_active=ACTIVE)
    make_trainee("intl@example.com", world.mine, name="Intl", mobile="+447700900123", last_active=ACTIVE)
    client = english(client_as(app, world.mentor))
    response = client.get(f"/cohorts/{world.mine.id}/export.csv?sort=name")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.data.decode("utf-8")
    assert text.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(text[1:])))
    header, rows = table[0], table[1:]
    assert header[:4] == ["Name", "Mobile", "Email", "Programme day"]
    assert len(rows) == len(names) + 2  # and Mei, and Intl
    cells = [cell for row in rows for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], cells
    by_name = {row[0]: row for row in rows}
    assert {"'=HYPERLINK(\"http://evil\",\"x\")", "'+1+1", "'-2+3", "'@SUM(A1)", "Zoë, \"the\" best",
            "美美"} <= set(by_name)
    assert by_name["Intl"][1] == "'+447700900123"
    mei = by_name["美美"]
    assert mei[header.index("Earnings (yuan)")] == "12.50" and mei[header.index("Last check-in")] == "2026-05-19"
    assert mei[header.index("Needs attention")] == "Behind"


def test_the_csv_export_follows_the_dashboard_filters(app, world, cases):
    client = english(client_as(app, world.mentor))
    rows = list(csv.DictReader(io.StringIO(
        client.get(f"/cohorts/{world.mine.id}/export.csv?q=quiet").data.decode("utf-8-sig"))))
    assert [r["Name"] for r in rows] == ["Quiet"] and rows[0]["Needs attention"] == "Quiet"


# --- what people wrote is never run -------------------------------------------------------------------

def test_what_a_trainee_and_a_mentor_wrote_is_escaped_or_sanitised_on_every_page(app, world):
    _, writing = load_test_quizzes()
    evil = make_trainee("evil@example.com", world.mine, name=SCRIPT)
    checkin = check_in(evil, 10, "1", note=EVIL)
    essay = quiz_service.start_attempt(db.session, evil, writing, NOW)
    quiz_service.submit_attempt(db.session, essay, {"welcome": EVIL}, NOW)
    db.session.commit()
    mentor = client_as(app, world.mentor)
    base = f"/cohorts/{world.mine.id}"
    for action, extra in (("notes", {}), ("notes", {"checkin_id": str(checkin.id)}), ("nudge", {})):
        assert post(mentor, world.mine.id, evil.id, action, body=EVIL, **extra).status_code == 302
    for path in (f"{base}/dashboard", f"{base}/attention", f"{base}/trainees/{evil.id}", "/review",
                 f"/review/{essay.id}"):
        response = mentor.get(path)
        assert response.status_code == 200, path
        assert_inert(response.text, shown_escaped=path != f"/review/{essay.id}")
    assert post(mentor, world.mine.id, evil.id, "contacted", body=EVIL).status_code == 302
    trainee_page = mentor.get(f"{base}/trainees/{evil.id}").text
    assert_inert(trainee_page)
    assert trainee_page.count("[x](javascript:alert(1))") >= 5  # her note, the note, comment, nudge, contacted
    assert_inert(mentor.get(f"{base}/dashboard?q={SCRIPT}").text)
    assert_inert(mentor.get(f'{base}/dashboard?q="><svg onload=alert(1)>').text, shown_escaped=False)
    # Her own pages: the mentor's comment on her check-in, and the nudge in her inbox (Markdown, sanitised).
    her = client_as(app, evil)
    assert_inert(her.get("/inbox").text, shown_escaped=False)
    assert_inert(her.get("/progress").text)


def test_query_arguments_cannot_turn_the_dashboard_links_into_javascript(app, world):
    """url_for(**request.args) would take _scheme/_external/_anchor from the address bar."""
    client = client_as(app, world.mentor)
    html = client.get(f"/cohorts/{world.mine.id}/dashboard?_external=1&_scheme=javascript&_anchor=%0Aalert(1)"
                      "&sort=name").text
    assert "javascript:" not in html
    assert f'href="/cohorts/{world.mine.id}/export.csv?sort=name"' in html


# --- nudges --------------------------------------------------------------------------------------------

def badge(html: str) -> str | None:
    found = re.search(r'id="inbox-link">[^<]*(?:<span class="badge[^"]*"[^>]*>(\d+)</span>)?', html)
    assert found, "no inbox link"
    return found.group(1)


def test_a_nudge_lands_in_her_inbox_with_an_unread_badge_that_clears_once_read(app, world):
    her = client_as(app, world.mei)
    assert badge(her.get("/").text) is None
    mentor = client_as(app, world.mentor)
    response = post(mentor, world.mine.id, world.mei.id, "nudge", body="Check in **today**, please")
    assert response.status_code == 302
    assert "inbox" in mentor.get(response.location).text  # the flash: sent to her inbox
    assert badge(her.get("/").text) == "1"
    inbox = her.get("/inbox").text
    assert "Check in <strong>today</strong>, please" in inbox and "王老师" in inbox
    assert badge(her.get("/").text) == "1"          # reading the page changes nothing
    assert her.post("/inbox/read").status_code == 302
    assert badge(her.get("/").text) is None
    assert "Check in <strong>today</strong>, please" in her.get("/inbox").text  # still there, read
    ana = client_as(app, world.ana)
    assert badge(ana.get("/").text) is None and "Check in <strong>today</strong>" not in ana.get("/inbox").text
    assert "Nudge sent: Check in **today**, please" in mentor.get(
        f"/cohorts/{world.mine.id}/trainees/{world.mei.id}").text  # on her timeline, as typed


def test_an_empty_nudge_is_refused_and_nothing_is_sent(app, world):
    mentor = client_as(app, world.mentor)
    assert post(mentor, world.mine.id, world.mei.id, "nudge", body="   ").status_code == 302
    assert count(InboxMessage) == 0


def test_every_comment_on_a_check_in_shows_under_it_on_her_page(app, world):
    checkin = db.session.scalar(sa.select(Checkin).where(Checkin.user_id == world.mei.id))
    client = client_as(app, world.mentor)
    for body in ("First comment", "Second comment"):
        response = post(client, world.mine.id, world.mei.id, "notes", body=body, checkin_id=str(checkin.id))
        assert response.status_code == 302
    page = client.get(f"/cohorts/{world.mine.id}/trainees/{world.mei.id}").text
    under = page[page.index(f'id="checkin-{checkin.id}"'):page.index('id="timeline-heading"')]
    assert re.findall(r'class="small text-success checkin-comment">💬 ([^<]+)</div>', under) == [
        "First comment", "Second comment"]
