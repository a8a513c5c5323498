"""Test factories: people and cohorts (the usual programme calendar: START, on(), programme_date()),
clients and API headers, clocks, photos, content files, and the hostile text every page must keep inert.
Every test file takes its helpers from here (or conftest's fixtures); none defines its own copy, and a
helper's name means one thing across the suite."""
import io
import itertools
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
import sqlalchemy as sa
from PIL import Image

from app.accounts.models import User
from app.accounts.service import create_user
from app.api.models import create_token
from app.camp.models import CampTask
from app.checkins.service import record_checkin
from app.cohorts.models import Cohort
from app.content import load_content
from app.core.access import Role
from app.database import utcnow
from app.extensions import db

PASSWORD = "correct horse 8"
SCRIPT = "<script>alert(1)</script>"
# What a hostile name or text tries: a script, a Markdown link and a link to javascript:, an image's onerror.
EVIL = f'{SCRIPT} [x](javascript:alert(1)) <a href="javascript:alert(2)">y</a> <img src=x onerror=alert(3)>'
SHANGHAI = "Asia/Shanghai"
START = date(2026, 5, 4)   # the usual test cohort's day 1: a Monday in May (no daylight-saving change anywhere)
JOINED = datetime(2026, 4, 1, tzinfo=timezone.utc)   # the usual trainee registered well before it
_numbers = itertools.count(1)


def at(local: str, tz: str = SHANGHAI) -> datetime:
    """A wall-clock time in a time zone, as the UTC instant the server sees."""
    return datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(tz)).astimezone(timezone.utc)


def programme_date(n: int, start: date = START) -> date:
    """Day n of a programme whose day 1 is `start`."""
    return start + timedelta(days=n - 1)


def on(n: int, clock: str = "12:00", tz: str = SHANGHAI, start: date = START) -> datetime:
    """Programme day n at a wall-clock time in `tz`, as the UTC instant the server sees."""
    return at(f"{programme_date(n, start).isoformat()} {clock}", tz)


def make_cohort(name: str, code: str, start=None) -> Cohort:
    cohort = Cohort(name=name, invite_code=code, start_date=start or utcnow().date())
    db.session.add(cohort)
    db.session.commit()
    return cohort


def make_user(email: str, role: str = Role.TRAINEE, cohort: Cohort | None = None, **fields):
    user = create_user(db.session, name=fields.pop("name", email.split("@")[0]), email=email,
                       password=fields.pop("password", PASSWORD), role=role, cohort=cohort, **fields)
    if role == Role.MENTOR and cohort is not None:
        cohort.mentors.append(user)
    db.session.commit()
    return user


def make_trainee(email: str | None = None, cohort: Cohort | None = None, *, tz: str = SHANGHAI,
                 start: date = START, joined: datetime = JOINED, last_active: datetime | None = None,
                 **fields) -> User:
    """A trainee reading English, registered at `joined` (before her cohort starts, so that her programme
    day counts from the cohort's), in a cohort of her own starting on `start` unless given one;
    `last_active` is when she last logged in."""
    n = next(_numbers)
    cohort = cohort or make_cohort(f"Cohort {n}", f"COHORT{n}", start)
    user = make_user(email or f"trainee{n}@example.com", cohort=cohort, timezone=tz, **{"locale": "en", **fields})
    user.created_at, user.last_login_at = joined, last_active
    db.session.commit()
    return user


@dataclass
class TwoCohorts:
    """My cohort (Spring, with its mentor 王老师 and the trainee 美美) and another (Autumn, with 李老师 and
    Ana), both starting on the same day, and an admin: who may see what between two cohorts."""
    mine: Cohort
    other: Cohort
    mentor: User
    other_mentor: User
    admin: User
    mei: User
    ana: User


def two_cohorts(start: date = START, **trainee_fields) -> TwoCohorts:
    mine, other = make_cohort("Spring cohort", "SPRING", start), make_cohort("Autumn cohort", "AUTUMN", start)
    return TwoCohorts(
        mine, other,
        make_user("mentor@example.com", Role.MENTOR, mine, name="王老师", locale="en"),
        make_user("other@example.com", Role.MENTOR, other, name="李老师", locale="en"),
        make_user("admin@example.com", Role.ADMIN, name="Admin", locale="en"),
        make_trainee("mei@example.com", mine, name="美美", **trainee_fields),
        make_trainee("ana@example.com", other, name="Ana", **trainee_fields))


def check_in(user, n: int, earnings: str = "40", *, clock: str = "12:00", at: datetime | None = None,
             start: date = START, source: str = "web", **counts):
    """Her check-in for programme day n (a cohort starting on `start`), made at `clock` that day (or at
    `at`), through the service as the form or the import writes it; committed."""
    checkin, _ = record_checkin(db.session, user, {"date": programme_date(n, start).isoformat(), "earnings": earnings,
                                                   **{k: str(v) for k, v in counts.items()}},
                                at or on(n, clock, start=start), source=source)
    db.session.commit()
    return checkin


def camp_task(n: int) -> CampTask:
    """The camp plan's task of day n (from the synced content)."""
    return db.session.scalar(sa.select(CampTask).where(CampTask.day == n))


def count(model, *where) -> int:
    """How many rows of `model` are stored (that match `where`)."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def api_headers(user) -> dict:
    """A new API token for `user`, as the Authorization header."""
    _, secret = create_token(db.session, user, "test", utcnow())
    db.session.commit()
    return bearer(secret)


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def english(client):
    """The client asks for English pages, as a browser set to English does."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def login(client, identifier: str, password: str = PASSWORD, **extra):
    return client.post("/login", data={"identifier": identifier, "password": password, **extra})


def sign_in(client, user) -> None:
    """Log the client in as `user` through the login form (it must work)."""
    response = login(client, user.email)
    assert response.status_code == 302, response.text


def client_as(app, user=None):
    """A new test client, logged in as `user` (anonymous without one)."""
    client = app.test_client()
    if user is not None:
        sign_in(client, user)
    return client


def assert_inert(html: str, shown_escaped: bool = True) -> None:
    """EVIL on a page does nothing: no script, no javascript: link, no onerror; shown as text unless
    `shown_escaped` is False (a page that does not show it at all)."""
    assert SCRIPT not in html
    assert not re.search(r"<script", html, re.I)
    assert not re.search(r"""(href|src)\s*=\s*["']?\s*javascript:""", html, re.I)
    assert not re.search(r"<img[^>]*onerror", html, re.I)
    if shown_escaped:
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def edit_file(path: Path, old: str, new: str) -> int:
    """Replace the first `old` in a file by `new` (`old` must be there); returns the line `new` starts on."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return text[:text.index(old)].count("\n") + 1


def content_problems(root: Path) -> list[str]:
    """What `content check` would report for the content under `root`."""
    return [str(p) for p in load_content(root).problems]


def assert_one_problem(found: list, expected: str) -> None:
    """Exactly one problem, which starts with `expected` (`path:line: message`, the message may be a prefix)."""
    found = [str(p) for p in found]
    assert len(found) == 1, found
    assert found[0].startswith(expected), found


def frozen_clock(now, *, autouse: bool = False):
    """A `clock` fixture: time stands still at `now` (yields the traveller, to move it on)."""
    @pytest.fixture(name="clock", autouse=autouse)
    def clock():
        with time_machine.travel(now, tick=False) as traveller:
            yield traveller
    return clock


def jpeg(size=(40, 30), color=(200, 40, 40)) -> bytes:
    """A small real JPEG, as a phone would upload."""
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG")
    return out.getvalue()
