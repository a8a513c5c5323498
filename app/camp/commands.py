"""`academy photos sizes`: make the thumbnail and medium size of photos uploaded before they existed."""
import click
from flask.cli import with_appcontext

from app.camp import photos as camp_photos
from app.extensions import db


@click.group(help="Camp photos in their storage.")
def photos():
    pass


@photos.command("sizes")
@click.option("--batch", default=50, show_default=True, help="Photos committed at a time.")
@with_appcontext
def sizes(batch):
    """Make the missing thumbnail and medium sizes (safe to stop and run again)."""
    made = camp_photos.make_missing_sizes(db.session, batch=batch)
    click.echo(f"{made} photo(s) given their thumbnail and medium size.")
