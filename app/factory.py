"""Builds the app: settings, extensions, then every part in turn. This file is the table of contents:
each blueprint (named after its module) and command is listed here once."""
import time
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask, jsonify

from app import compression, config, home, i18n, layout, ops, security
from app.templating import TemplateEnvironment
from app.accounts import commands as accounts_commands
from app.accounts import views as accounts_views
from app.api import actions as api_actions
from app.api import commands as api_commands
from app.api import token_views
from app.api import views as api_views
from app.camp import commands as camp_commands
from app.camp import feed_views, photos, poster_views
from app.camp import views as camp_views
from app.checkins import import_views
from app.checkins import views as checkins_views
from app.cohorts import admin_views, mentor_views, stats_views
from app.cohorts import views as cohorts_views
from app.content import commands as content_commands
from app.core import money
from app.database import read
from app.demo.commands import demo_command
from app.extensions import bootstrap, csrf, db, login_manager, migrate
from app.learning import views as learning_views
from app.ops import commands as ops_commands
from app.ops import logging as ops_logging
from app.ops import metrics
from app.quizzes import views as quizzes_views
from app.reminders import commands as reminders_commands
from app.reminders import scheduler
from app.reminders import views as reminders_views
from app.reminders.models import SchedulerRun
from app.shops import commands as shops_commands
from app.shops import hooks as shop_hooks
from app.shops import views as shops_views
from app.sms import views as sms_views
from app.reminders import channel_views, effect_views
from app.wechat import views as wechat_views

BLUEPRINTS = (home.bp, cohorts_views.bp, mentor_views.bp, stats_views.bp, admin_views.bp, learning_views.bp,
              quizzes_views.bp, checkins_views.bp, import_views.bp, reminders_views.bp, camp_views.bp,
              feed_views.bp, poster_views.bp, api_views.bp, api_actions.bp, token_views.bp, shop_hooks.bp,
              shops_views.bp, metrics.bp, wechat_views.bp, sms_views.bp, channel_views.bp, effect_views.bp)
COMMANDS = (accounts_commands.users, api_commands.tokens, content_commands.content, demo_command,
            reminders_commands.reminders_command, reminders_commands.scheduler_command,
            ops_commands.serve_command, ops_commands.backup_command, ops_commands.restore_command,
            shops_commands.shops, camp_commands.photos)
_SCHEDULER_RUNS = sa.select(SchedulerRun.job, SchedulerRun.finished_at, SchedulerRun.ok)


class Academy(Flask):
    jinja_environment = TemplateEnvironment

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._sync: dict = {}

    def ensure_sync(self, func):
        """Flask asks, for each hook and the view of every request, whether it is a coroutine function
        (inspect: about a tenth of /healthz's Python); ours never change, so the answer is kept."""
        try:
            return self._sync[func]
        except KeyError:
            synced = self._sync[func] = super().ensure_sync(func)
            return synced
        except TypeError:   # an unhashable callable
            return super().ensure_sync(func)


def create_app(test_config: dict | None = None) -> Flask:
    app = Academy("app", instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    config.load(app, test_config)
    photos.check_settings(app.config)  # a photo storage that cannot work stops the start, not an upload

    db.init_app(app)
    migrate.init_app(app, db, directory=config.MIGRATIONS)
    csrf.init_app(app)
    bootstrap.init_app(app)
    login_manager.init_app(app)

    for part in (i18n, money, layout, accounts_views, ops_logging, ops, security, compression, wechat_views, sms_views,
                 channel_views):
        part.init_app(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    for command in COMMANDS:
        app.cli.add_command(command)

    checked = {"at": float("-inf"), "jobs": None}

    @app.get("/healthz")
    def healthz():
        # One query, at most once a HEALTHZ_CACHE_SECONDS per process (a probe every few seconds, or a
        # load balancer's many, cost the database nothing more): reading the jobs' table is the proof
        # that the database answers. A query that fails is a 500 and is not kept.
        now = time.monotonic()
        if now - checked["at"] >= app.config["HEALTHZ_CACHE_SECONDS"]:
            checked["jobs"] = {job: {"last_run": finished_at.isoformat() if finished_at else None, "ok": ok}
                               for job, finished_at, ok in read(db.session, _SCHEDULER_RUNS)}
            checked["at"] = now
        return jsonify(status="ok", database=db.engine.dialect.name,
                       scheduler={"running_here": "scheduler" in app.extensions, "jobs": checked["jobs"]})

    if app.config["SCHEDULER_ENABLED"] and not app.testing and _serving():
        scheduler.start_in_background(app)
    return app


def _serving() -> bool:
    """A web server process: `academy run`, or a WSGI server (no command line of ours). CLI commands such
    as `db upgrade` or `academy scheduler` (which runs the jobs itself) start no background jobs."""
    context = click.get_current_context(silent=True)
    return context is None or context.info_name == "run"
