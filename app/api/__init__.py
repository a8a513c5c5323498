"""The JSON API v1, its OpenAPI document and personal access tokens."""


def init_app(app) -> None:
    from app.api import commands, pages, views
    views.init_app(app)
    pages.init_app(app)
    app.cli.add_command(commands.tokens)
