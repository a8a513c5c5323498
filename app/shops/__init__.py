"""Shops: order events signed by each shop (webhook), commission as her earnings, the earnings centre."""


def init_app(app) -> None:
    from app.shops import commands, hooks, views
    app.register_blueprint(hooks.bp)
    app.register_blueprint(views.bp)
    app.cli.add_command(commands.shops)
