"""Cohorts: trainees who start together, their invite code and their mentors."""


def init_app(app) -> None:
    from app.cohorts.views import bp
    app.register_blueprint(bp)
