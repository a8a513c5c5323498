"""Reminders: rules write due messages to the outbox; dispatchers deliver them through channels."""


def init_app(app) -> None:
    from app.reminders import channel_choices, channel_views, commands, views  # noqa: F401  (channel_choices: its table)
    app.register_blueprint(views.bp)
    channel_views.init_app(app)
    app.cli.add_command(commands.reminders_command)
    app.cli.add_command(commands.scheduler_command)
