"""The first-week camp: today's task, 打卡 with proof, calendar and streak, wins feed, rankings, posters."""


def init_app(app) -> None:
    from app.camp import models  # noqa: F401  (the tables, for migrations)
    from app.camp import feed_views, poster_views, views
    for module in (views, feed_views, poster_views):
        app.register_blueprint(module.bp)
