"""SMS: login, registration and reset codes, and the SMS reminder channel, through one provider."""


def is_configured(config) -> bool:
    return bool(config.get("SMS_SECRET_ID") and config.get("SMS_SECRET_KEY") and config.get("SMS_SDK_APP_ID"))


def init_app(app) -> None:
    from app.sms import models  # noqa: F401  (the tables, for migrations)
    from app.sms import views
    app.register_blueprint(views.bp)

    @app.context_processor
    def sms_flags():
        return {"sms_login": is_configured(app.config)}
