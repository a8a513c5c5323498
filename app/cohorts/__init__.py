"""Cohorts: trainees who start together, their mentors, dashboards, numbers and administration."""


def init_app(app) -> None:
    from app.cohorts import admin_views, mentor_views, stats_views, views
    for module in (views, mentor_views, stats_views, admin_views):
        app.register_blueprint(module.bp)
