"""`academy demo [--trainees N]`: the demo cohort and accounts, and optionally a large synthetic cohort."""
import time

import click
from flask.cli import with_appcontext

from app.database import utcnow
from app.demo.scale import seed_scale
from app.demo.seed import DEMO_ACCOUNTS, DEMO_PASSWORD, seed_demo
from app.extensions import db


@click.command("demo")
@click.option("--trainees", "trainees", type=click.IntRange(min=1, max=99_999_999), default=None, metavar="N",
              help="Also seed a second cohort with N synthetic trainees (app/demo/scale.py).")
@with_appcontext
def demo_command(trainees):
    """Seed the demo cohort and accounts (safe to run again)."""
    cohort = seed_demo(db.session, utcnow())
    db.session.commit()
    click.echo(f'Demo cohort "{cohort.name}", invite code {cohort.invite_code}')
    for email, _, role in DEMO_ACCOUNTS:
        click.echo(f"  {role:<8} {email:<22} password {DEMO_PASSWORD}")
    if trainees:
        began = time.perf_counter()
        scale = seed_scale(db.session, trainees, utcnow())
        db.session.commit()
        click.echo(f'Demo cohort "{scale.name}", invite code {scale.invite_code}, '
                   f"seeded in {time.perf_counter() - began:.1f} s (trainees log in with mobile 199xxxxxxxx)")
