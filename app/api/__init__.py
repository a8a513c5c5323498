"""The JSON API v1, its OpenAPI document and personal access tokens."""


def init_app(app) -> None:
    from app.api import actions, commands, pages, views  # noqa: F401 (actions adds its routes to views.bp)
    views.init_app(app)
    pages.init_app(app)
    app.cli.add_command(commands.tokens)
