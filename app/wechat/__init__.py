"""WeChat: one-tap login and binding, the 公众号's template messages as a reminder channel, share cards."""


def init_app(app) -> None:
    from app.wechat import models  # noqa: F401  (the tables, for migrations)
    from app.wechat import views
    views.init_app(app)
