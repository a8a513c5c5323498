import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from app.accounts.models import User
from app.api.models import create_token
from app.database import utcnow
from app.extensions import db


@click.group(help="Personal access tokens for the API.")
def tokens():
    pass


@tokens.command("create")
@click.argument("email")
@click.option("--name", default="cli", show_default=True, help="A label to recognise the token by.")
@with_appcontext
def create(email, name):
    """Print a new token for EMAIL, alone on the last line."""
    user = db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"no user with email {email}")
    _, secret = create_token(db.session, user, name, utcnow())
    db.session.commit()
    click.echo(f"token for {user.email} (shown once; keep it secret):", err=True)
    click.echo(secret)
