"""Learning: the course catalogue, lessons and lesson progress."""


def init_app(app) -> None:
    from app.learning.views import bp
    app.register_blueprint(bp)
