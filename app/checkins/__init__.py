"""Check-ins: milestones (¥100 in week one, ¥1,000 in month one), daily numbers, the line, the diagnosis."""


def init_app(app) -> None:
    from app.checkins.views import bp
    app.register_blueprint(bp)
    from app.checkins.import_views import bp as import_bp
    app.register_blueprint(import_bp)
