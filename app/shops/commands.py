import click
from flask.cli import with_appcontext

from app.database import utcnow
from app.extensions import db
from app.shops.service import create_shop


@click.group(help="Shops that send signed order events.")
def shops():
    pass


@shops.command("create")
@click.argument("name")
@with_appcontext
def create(name):
    """Create a shop; print its id, then its secret, each alone on the last two lines."""
    try:
        shop = create_shop(db.session, name, utcnow())
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    db.session.commit()
    click.echo(f"shop {shop.name}: X-Shop-Id, then the signing secret (shown once; keep it secret):", err=True)
    click.echo(shop.key)
    click.echo(shop.secret)
