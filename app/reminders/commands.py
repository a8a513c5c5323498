"""`academy reminders tick` and `academy scheduler`."""
import click
from flask.cli import with_appcontext


@click.group("reminders", help="Reminder rules and delivery.")
def reminders_command():
    pass


@click.command("scheduler", help="Run the reminder jobs alone, in the foreground (production).")
@with_appcontext
def scheduler_command():
    pass
