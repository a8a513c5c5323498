"""Fixtures: the app on each database backend, a client, factories and a query counter.

The database suite runs on SQLite, and on PostgreSQL too when TEST_DATABASE_URL is set
(REQUIRE_POSTGRES=1 makes a missing URL an error, as in CI).
"""
import os
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from flask_migrate import upgrade

from app import create_app
from app.content import load_content
from app.content.sync import sync_courses, sync_milestones
from app.core.access import Role
from app.database import utcnow
from app.extensions import db
from tests.factories import PASSWORD, english, login, make_cohort, make_user  # noqa: F401 (tests import them from here too)

REPO = Path(__file__).resolve().parent.parent
BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


def pytest_configure(config):
    if os.environ.get("REQUIRE_POSTGRES") == "1" and not os.environ.get("TEST_DATABASE_URL"):
        raise pytest.UsageError("REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set")


def _test_config(url: str, **extra) -> dict:
    return {"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": url,
            "WTF_CSRF_ENABLED": False, "CONTENT_ROOT": str(REPO),
            "CONTENT_CHECK_SECONDS": 0, "HEALTHZ_CACHE_SECONDS": 0, **extra}  # a test sees a sync (a job) at once


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory):
    """A migrated, empty database per backend, shared by the session's tests."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    else:
        url = os.environ["TEST_DATABASE_URL"]
        engine = sa.create_engine(create_app(_test_config(url)).config["SQLALCHEMY_DATABASE_URI"])
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
    app = create_app(_test_config(url))
    with app.app_context():
        upgrade()  # the real migrations, so they are tested on every backend
        db.engine.dispose()
    return url


@pytest.fixture(scope="session")
def content():
    """The repository's real content, loaded once."""
    loaded = load_content(REPO)
    assert not loaded.problems, loaded.problems
    return loaded


@pytest.fixture(scope="session")
def course_specs(content):
    return content.courses


class Client(FlaskClient):
    """Each request in its own app context, as in production: a fresh `g` and session.

    The test's own session is expired afterwards so that it reads what the request wrote.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        db.session.expire_all()
        return response


@pytest.fixture
def make_app(database_url):
    """Build an app on the test database; every table is emptied after the test."""
    apps = []

    def build(**config):
        app = create_app(_test_config(database_url, **config))
        app.test_client_class = Client
        apps.append(app)
        return app

    yield build
    with apps[0].app_context() if apps else build().app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())
        db.engine.dispose()
    for app in apps[1:]:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def app(make_app, tmp_path):
    app = make_app(UPLOAD_DIR=str(tmp_path / "uploads"))  # photos never land in instance/
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def synced(app, content):
    """The real courses and milestones in the database (quizzes: see tests/quiz_helpers.py)."""
    report = sync_courses(db.session, content.courses, utcnow())
    sync_milestones(db.session, content.programme, content.milestones, utcnow(), report)
    db.session.commit()
    return content.courses


@pytest.fixture
def cohort(app):
    return make_cohort("Spring cohort", "SPRING1")


@pytest.fixture
def trainee(cohort):
    return make_user("mei@example.com", cohort=cohort, name="美美")


@pytest.fixture
def boss(app):
    return make_user("boss@example.com", role=Role.ADMIN, name="Boss")


@pytest.fixture
def admin_client(app, boss):
    client = english(app.test_client())
    assert login(client, boss.email).status_code == 302
    return client


@pytest.fixture
def logged_in(client, trainee):
    response = login(client, trainee.email)
    assert response.status_code == 302, response.text
    return client


@contextmanager
def count_queries():
    """Count the SQL statements run inside the block: `with count_queries() as n: ...; n()`."""
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield lambda: len(statements)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
