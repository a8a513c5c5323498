"""Test factories: people, cohorts, API headers and a frozen clock. Every test file takes its helpers
from here (or conftest's fixtures); none defines its own copy."""
import io

import pytest
import time_machine
from PIL import Image

from app.accounts.service import create_user
from app.api.models import create_token
from app.cohorts.models import Cohort
from app.core.access import Role
from app.database import utcnow
from app.extensions import db

PASSWORD = "correct horse 8"

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
