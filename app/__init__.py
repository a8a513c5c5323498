"""Xiaob Academy: the training platform that turns newcomer resellers into earning ones."""
from pathlib import Path

from flask import Flask, jsonify

from app import config
from app.extensions import bootstrap, csrf, db, login_manager, migrate

MIGRATIONS = str(Path(__file__).resolve().parent.parent / "migrations")


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    config.load(app, test_config)

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS)
    csrf.init_app(app)
    bootstrap.init_app(app)
    login_manager.init_app(app)

    from app import i18n
    i18n.init_app(app)

    from app import (accounts, api, camp, checkins, cohorts, compression, learning, ops, quizzes, reminders, security,
                     shops, web)
    from app.content import commands as content_commands
    for part in (web, accounts, cohorts, learning, quizzes, checkins, reminders, camp, api, shops, content_commands,
                 ops, security, compression):
        part.init_app(app)

    @app.get("/healthz")
    def healthz():
        from app.reminders.models import SchedulerRun
        # One query: reading the jobs' table is the proof that the database answers.
        jobs = {job: {"last_run": finished_at.isoformat() if finished_at else None, "ok": ok}
                for job, finished_at, ok in db.session.execute(
                    db.select(SchedulerRun.job, SchedulerRun.finished_at, SchedulerRun.ok))}
        return jsonify(status="ok", database=db.engine.dialect.name,
                       scheduler={"running_here": "scheduler" in app.extensions, "jobs": jobs})

    if app.config["SCHEDULER_ENABLED"] and not app.testing and _serving():
        from app.reminders import scheduler
        scheduler.start_in_background(app)
    return app


def _serving() -> bool:
    """A web server process: `academy run`, or a WSGI server (no command line of ours). CLI commands such
    as `db upgrade` or `academy scheduler` (which runs the jobs itself) start no background jobs."""
    import click
    context = click.get_current_context(silent=True)
    return context is None or context.info_name == "run"
