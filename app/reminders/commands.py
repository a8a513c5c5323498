"""`academy reminders tick|dispatch` and `academy scheduler`."""
from datetime import datetime, timezone

import click
from flask import current_app
from flask.cli import with_appcontext

from app.extensions import db
from app.reminders import outbox
from app.reminders.rules import run_rules
from app.database import utcnow
from app.reminders import scheduler


def _moment(value: str | None) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


@click.group("reminders", help="Reminder rules and delivery.")
def reminders_command():
    pass


@reminders_command.command("tick", help="Run the reminder rules, then one dispatch pass.")
@click.option("--now", help="ISO-8601 moment to run at (default: the clock); without an offset, UTC.")
@with_appcontext
def tick(now):
    moment = _moment(now) or utcnow()
    created = run_rules(db.session, moment)
    db.session.commit()
    click.echo(f"rules: {sum(created.values())} new ({', '.join(f'{k} {v}' for k, v in sorted(created.items())) or '-'})")
    outcomes = outbox.dispatch(db.session, _moment(now))
    click.echo(f"dispatch: {', '.join(f'{k} {v}' for k, v in sorted(outcomes.items())) or 'nothing due'}")


@reminders_command.command("dispatch", help="One dispatch pass (several may run at once on PostgreSQL).")
@click.option("--now", help="ISO-8601 moment to run at (default: the clock).")
@click.option("--batch", default=100, show_default=True)
@with_appcontext
def dispatch(now, batch):
    outcomes = outbox.dispatch(db.session, _moment(now), batch=batch)
    click.echo(f"dispatch: {', '.join(f'{k} {v}' for k, v in sorted(outcomes.items())) or 'nothing due'}")


@click.command("scheduler", help="Run the reminder jobs alone, in the foreground (production).")
@with_appcontext
def scheduler_command():
    click.echo("scheduler: rules every {} s, dispatch every {} s".format(
        current_app.config["SCHEDULER_RULES_SECONDS"], current_app.config["SCHEDULER_DISPATCH_SECONDS"]))
    scheduler.run_forever(current_app._get_current_object())
