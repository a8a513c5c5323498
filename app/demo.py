"""`academy demo`: a demo cohort and one account of each role, created idempotently."""
from datetime import datetime
from zoneinfo import ZoneInfo

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from app.accounts.models import Role, User
from app.accounts.service import create_user
from app.cohorts.models import Cohort
from app.database import utcnow
from app.extensions import db

DEMO_CODE = "DEMO2026"
DEMO_PASSWORD = "xiaob-demo-2026"
DEMO_ACCOUNTS = [
    ("admin@demo.local", "演示管理员", Role.ADMIN),
    ("mentor@demo.local", "王老师", Role.MENTOR),
    ("trainee@demo.local", "李小美", Role.TRAINEE),
]


def seed_demo(session, now: datetime) -> Cohort:
    cohort = session.scalar(sa.select(Cohort).where(Cohort.invite_code == DEMO_CODE))
    if cohort is None:
        cohort = Cohort(name="Demo cohort", invite_code=DEMO_CODE, timezone="Asia/Shanghai",
                        start_date=now.astimezone(ZoneInfo("Asia/Shanghai")).date())
        session.add(cohort)
    for email, name, role in DEMO_ACCOUNTS:
        user = session.scalar(sa.select(User).where(User.email == email))
        if user is None:
            user = create_user(session, name=name, email=email, password=DEMO_PASSWORD, role=role,
                               cohort=cohort if role == Role.TRAINEE else None)
        if role == Role.MENTOR and user not in cohort.mentors:
            cohort.mentors.append(user)
    session.flush()
    return cohort


@click.command("demo")
@with_appcontext
def demo_command():
    """Seed the demo cohort and accounts (safe to run again)."""
    cohort = seed_demo(db.session, utcnow())
    db.session.commit()
    click.echo(f'Demo cohort "{cohort.name}", invite code {cohort.invite_code}')
    for email, _, role in DEMO_ACCOUNTS:
        click.echo(f"  {role:<8} {email:<22} password {DEMO_PASSWORD}")
