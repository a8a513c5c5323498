import click
from flask.cli import with_appcontext

from app.accounts import service
from app.core.access import Role
from app.extensions import db
from app.core.errors import DomainError


@click.group(help="Manage user accounts.")
def users():
    pass


@users.command("create")
@click.option("--email")
@click.option("--mobile")
@click.option("--password", required=True)
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.TRAINEE.value, show_default=True)
@click.option("--cohort", "cohort_code", help="Invite code of the cohort to join (trainees) or coach (mentors).")
@click.option("--name", help="Display name (default: the part of the email before @, or the mobile).")
@with_appcontext
def create(email, mobile, password, role, cohort_code, name):
    """Create an account."""
    cohort = None
    if cohort_code:
        cohort = service.find_cohort_by_code(db.session, cohort_code)
        if cohort is None:
            raise click.BadParameter(f"no cohort with invite code {cohort_code}", param_hint="--cohort")
    try:
        user = service.create_user(
            db.session, name=name or (email.split("@")[0] if email else mobile or "user"), password=password,
            role=role, email=email, mobile=mobile, cohort=cohort if role == Role.TRAINEE else None)
    except DomainError as e:
        raise click.ClickException(f"{e.field}: {e}")
    if cohort is not None and role == Role.MENTOR:
        cohort.mentors.append(user)
    db.session.commit()
    click.echo(f"created {user.role} {user.email or user.mobile} (id {user.id})")
