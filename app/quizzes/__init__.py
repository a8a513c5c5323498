"""Quizzes: attempts, server-side grading, GIFT banks and mentor-reviewed essays."""


def init_app(app) -> None:
    from app.quizzes.views import bp
    app.register_blueprint(bp)
