"""The content snapshot: built once per content version, shared by requests, renewed by `content sync`."""
import dataclasses

import sqlalchemy as sa

from app.content import snapshot
from app.content.models import ContentVersion
from app.content.sync import sync_courses
from app.database import utcnow
from app.extensions import db
from tests.conftest import count_queries, login, make_user

LESSON = "/courses/group-building/daily-rhythm"


def test_a_lesson_page_makes_at_most_three_queries(make_app, cohort, synced):
    """Her session, her progress on the lesson, the header's unread count: the content is shared."""
    trainee = make_user("q@example.com", cohort=cohort)
    app = make_app(CONTENT_CHECK_SECONDS=60)  # production's behaviour: the version checked now and then
    client = app.test_client()
    login(client, trainee.email)
    client.get(LESSON)
    counts = {}
    for url in (LESSON, "/courses/start-here/targets-and-formula", "/", "/courses", "/courses/group-building"):
        with app.app_context(), count_queries() as n:
            assert client.get(url).status_code == 200
        counts[url] = n()
    assert counts[LESSON] <= 3, counts
    assert counts["/courses/start-here/targets-and-formula"] <= 3, counts
    assert counts["/"] <= 5 and counts["/courses"] <= 4 and counts["/courses/group-building"] <= 4, counts


def test_the_snapshot_is_built_once_per_content_version(make_app, cohort, synced, monkeypatch):
    trainee = make_user("q@example.com", cohort=cohort)
    app = make_app()  # checks the version on every request (tests' setting)
    builds = []
    real_build = snapshot.build
    monkeypatch.setattr(snapshot, "build", lambda session, version: builds.append(version) or real_build(session, version))
    client = app.test_client()
    login(client, trainee.email)
    for url in (LESSON, "/", "/courses", LESSON, "/"):
        assert client.get(url).status_code == 200
    assert len(builds) == 1
    version = db.session.scalar(sa.select(ContentVersion.version))
    assert builds == [version] and version


def test_a_sync_that_changes_nothing_keeps_the_version(app, synced, content):
    before = db.session.scalar(sa.select(ContentVersion.version))
    report = sync_courses(db.session, content.courses, utcnow())
    db.session.commit()
    assert not report.changed
    assert db.session.scalar(sa.select(ContentVersion.version)) == before


def test_a_sync_reaches_every_worker(make_app, cohort, synced, content):
    """Two processes' worth of apps on one database: a sync through one is seen by the other's pages."""
    trainee = make_user("q@example.com", cohort=cohort)
    worker = make_app()
    client = worker.test_client()
    login(client, trainee.email)
    assert client.get(LESSON).status_code == 200  # its snapshot built
    course = next(c for c in content.courses if c.slug == "group-building")
    lesson = next(spec for spec in course.lessons if spec.slug == "daily-rhythm")
    renamed = dataclasses.replace(lesson, title={"zh": "新的标题：每日节奏", "en": "A new title"},
                                  content_hash="changed")
    changed = dataclasses.replace(course, lessons=[renamed if spec is lesson else spec for spec in course.lessons])
    other = make_app()  # `content sync` run elsewhere
    with other.app_context():
        report = sync_courses(db.session, [changed if c is course else c for c in content.courses], utcnow())
        db.session.commit()
        db.session.remove()
    assert report.updated == ["group-building/daily-rhythm"]
    page = client.get(LESSON).get_data(as_text=True)
    assert "新的标题：每日节奏" in page
    assert "A new title" in client.get(LESSON, headers={"Accept-Language": "en"}).get_data(as_text=True)


def test_the_snapshot_holds_copies_not_database_rows(app, synced):
    content = snapshot.current(db.session)
    lesson = content.lesson("group-building", "daily-rhythm")
    assert lesson.course.slug == "group-building" and lesson in lesson.course.lessons
    assert lesson.text("title", "zh") and lesson.text("body_html", "en")
    assert not hasattr(lesson, "_sa_instance_state")  # no session can load, expire or flush it
    assert all(not hasattr(quiz, "questions") for quiz in content.quizzes)  # answer keys stay in the database
