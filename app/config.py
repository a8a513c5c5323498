"""Configuration in layers: these defaults, then instance/config.py, then the environment.

Tests pass a mapping to create_app(), which replaces instance/config.py and wins last.
"""
import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import current_app, has_request_context, request

from app.database import compact_json

REPO_ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = str(REPO_ROOT / "migrations")


class Defaults:
    SQLALCHEMY_DATABASE_URI = None  # filled in below: sqlite:///<instance>/academy.db
    # pool_pre_ping (a round trip before each request's first query, so that a restarted PostgreSQL
    # costs no failed request) is added by load() for a database server, not for an SQLite file.
    SQLALCHEMY_ENGINE_OPTIONS = {"json_serializer": compact_json}
    CONTENT_ROOT = str(REPO_ROOT)
    # Each process checks the stored content version at most this often (app/content/snapshot.py):
    # a `content sync` reaches every web worker within this many seconds.
    CONTENT_CHECK_SECONDS = 2.0
    # /healthz reads the database (the scheduler's jobs) at most this often per process.
    HEALTHZ_CACHE_SECONDS = 1.0
    ACADEMY_TIMEZONE = "Asia/Shanghai"
    BABEL_DEFAULT_LOCALE = "zh_CN"
    # BABEL_DEFAULT_TIMEZONE follows ACADEMY_TIMEZONE (load() below).
    LANGUAGES = ("zh_CN", "en")
    BOOTSTRAP_SERVE_LOCAL = True  # our users are in China: no CDN, ever
    SESSION_COOKIE_HTTPONLY = True
    # Secure session and remember-me cookies (app/security.py): on in production behind HTTPS, off so
    # the development server works over http.
    SECURE_COOKIES = False
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_DURATION = timedelta(days=30)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None  # a phone form left open overnight must still submit
    # Login throttling, counted in the database so it holds across worker processes.
    LOGIN_WINDOW_MINUTES = 15
    LOGIN_MAX_FAILURES_PER_ACCOUNT = 5
    LOGIN_MAX_FAILURES_PER_ADDRESS = 20
    SCHEDULER_ENABLED = False
    SMTP_HOST = None
    SMTP_PORT = 25
    SMTP_USERNAME = None
    SMTP_PASSWORD = None
    SMTP_FROM = "Xiaob Academy <noreply@localhost>"
    SMTP_STARTTLS = False
    SMTP_SSL = False        # implicit TLS (port 465)
    SMTP_TIMEOUT = 30
    # Where users reach the site: links in emails, group messages and QR codes are absolute. Unset
    # (None), a page's links follow the address its request came to; messages sent by a job, outside
    # any request, use DEFAULT_BASE_URL (the address `make run` serves).
    BASE_URL = None
    # Reminders: a dispatcher's claim is released after this long (it must have died), failed
    # deliveries wait REMINDER_BACKOFF_SECONDS x 2^(tries-1) (+-50%), and die after the last try.
    REMINDER_CLAIM_TIMEOUT = 300
    REMINDER_BACKOFF_SECONDS = 60
    REMINDER_MAX_TRIES = 6
    REMINDER_HTTP_TIMEOUT = 10
    # Camp photos: checked, re-encoded without metadata, stored by app/camp/photos.py in UPLOAD_STORAGE:
    # "local" (files under UPLOAD_DIR; None: instance/uploads) or "s3" (an S3-compatible bucket, the
    # one choice for several web machines: Tencent COS, Aliyun OSS, MinIO, AWS S3).
    UPLOAD_STORAGE = "local"
    UPLOAD_DIR = None
    S3_ENDPOINT = None                  # e.g. https://cos.ap-shanghai.myqcloud.com; None: AWS's own
    S3_BUCKET = None
    S3_ACCESS_KEY = None
    S3_SECRET_KEY = None
    S3_REGION = "us-east-1"             # what the endpoint expects in its signatures, e.g. ap-shanghai
    S3_ADDRESSING_STYLE = "auto"        # "path" for MinIO (bucket in the path), "virtual" for COS and OSS
    S3_TIMEOUT = 10                     # seconds to connect or to wait for an answer
    UPLOAD_MAX_BYTES = 8 * 1024 * 1024
    UPLOAD_MAX_PIXELS = 4096 * 4096     # decoded at once (a big JPEG is decoded at a reduced scale)
    MAX_CONTENT_LENGTH = 32 * 1024 * 1024   # a whole request: three photos and the form
    SCHEDULER_LOCK_FILE = None          # SQLite: None is instance/scheduler.lock (one scheduler per machine);
                                        # PostgreSQL: an advisory lock instead (one leader across machines)
    SCHEDULER_RULES_SECONDS = 300
    SCHEDULER_DISPATCH_SECONDS = 30
    SCHEDULER_PRUNE_SECONDS = 24 * 3600
    # Sent and skipped outbox messages, delivery tries, inbox messages and login attempts are deleted
    # this many days after they were made (app/ops/retention.py); dead letters stay until handled.
    RETENTION_DAYS = 90
    # WeChat 公众号 (docs/wechat.md): no WECHAT_APP_ID, no WeChat login, share cards or channel.
    WECHAT_APP_ID = None
    WECHAT_APP_SECRET = None
    WECHAT_API_BASE = "https://api.weixin.qq.com"
    WECHAT_OPEN_BASE = "https://open.weixin.qq.com"
    WECHAT_HTTP_TIMEOUT = 5
    # SMS codes and reminders (docs/wechat.md): no SMS_SECRET_ID, no SMS.
    SMS_PROVIDER = "tencent"        # or "aliyun" (app/sms/providers.py)
    SMS_SECRET_ID = None
    SMS_SECRET_KEY = None
    SMS_SDK_APP_ID = None
    SMS_SIGN_NAME = None
    SMS_TEMPLATE_CODE = None        # the login-code template; the code is its first parameter
    SMS_ENDPOINT = None             # host[:port]; None: the provider's (sms.tencentcloudapi.com)
    SMS_SCHEME = "https"
    SMS_REGION = None               # None: the provider's (Tencent ap-guangzhou, Aliyun cn-hangzhou)
    SMS_HTTP_TIMEOUT = 5


ENVIRONMENT = {
    "DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
    "SECRET_KEY": "SECRET_KEY",
    "ACADEMY_TIMEZONE": "ACADEMY_TIMEZONE",
    "ACADEMY_CONTENT_ROOT": "CONTENT_ROOT",
    "SMTP_HOST": "SMTP_HOST",
    "SMTP_PORT": "SMTP_PORT",
    "SMTP_USERNAME": "SMTP_USERNAME",
    "SMTP_PASSWORD": "SMTP_PASSWORD",
    "SMTP_FROM": "SMTP_FROM",
    "SCHEDULER_ENABLED": "SCHEDULER_ENABLED",
    "SMTP_STARTTLS": "SMTP_STARTTLS",
    "SMTP_SSL": "SMTP_SSL",
    "ACADEMY_BASE_URL": "BASE_URL",
    "LOG_LEVEL": "LOG_LEVEL",
    "PROXY_FIX": "PROXY_FIX",
    "SECURE_COOKIES": "SECURE_COOKIES",
    "UPLOAD_STORAGE": "UPLOAD_STORAGE",
    "UPLOAD_DIR": "UPLOAD_DIR",
    "S3_ENDPOINT": "S3_ENDPOINT",
    "S3_BUCKET": "S3_BUCKET",
    "S3_ACCESS_KEY": "S3_ACCESS_KEY",
    "S3_SECRET_KEY": "S3_SECRET_KEY",
    "S3_REGION": "S3_REGION",
    "S3_ADDRESSING_STYLE": "S3_ADDRESSING_STYLE",
    "SCHEDULER_LOCK_FILE": "SCHEDULER_LOCK_FILE",
    "SCHEDULER_RULES_SECONDS": "SCHEDULER_RULES_SECONDS",
    "SCHEDULER_DISPATCH_SECONDS": "SCHEDULER_DISPATCH_SECONDS",
    "RETENTION_DAYS": "RETENTION_DAYS",
    "WECHAT_APP_ID": "WECHAT_APP_ID",
    "WECHAT_APP_SECRET": "WECHAT_APP_SECRET",
    "WECHAT_API_BASE": "WECHAT_API_BASE",
    "WECHAT_OPEN_BASE": "WECHAT_OPEN_BASE",
    "SMS_PROVIDER": "SMS_PROVIDER",
    "SMS_SECRET_ID": "SMS_SECRET_ID",
    "SMS_SECRET_KEY": "SMS_SECRET_KEY",
    "SMS_SDK_APP_ID": "SMS_SDK_APP_ID",
    "SMS_SIGN_NAME": "SMS_SIGN_NAME",
    "SMS_TEMPLATE_CODE": "SMS_TEMPLATE_CODE",
    "SMS_ENDPOINT": "SMS_ENDPOINT",
    "SMS_SCHEME": "SMS_SCHEME",
    "SMS_REGION": "SMS_REGION",
}


DEFAULT_BASE_URL = "http://127.0.0.1:5000"


def base_url() -> str:
    """The site's address without a trailing slash: BASE_URL, else the request's own, else the default."""
    configured = current_app.config.get("BASE_URL")
    if configured:
        return configured.rstrip("/")
    return request.host_url.rstrip("/") if has_request_context() else DEFAULT_BASE_URL


def database_url(url: str) -> str:
    """Accept the usual postgres:// spellings and use the psycopg 3 driver for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def load(app, overrides=None) -> None:
    app.config.from_object(Defaults)
    if overrides is None:
        app.config.from_pyfile("config.py", silent=True)
    for env_name, key in ENVIRONMENT.items():
        if env_name in os.environ:
            app.config[key] = os.environ[env_name]
    if overrides:
        app.config.update(overrides)

    for flag in ("SCHEDULER_ENABLED", "SMTP_STARTTLS", "SMTP_SSL", "SECURE_COOKIES"):
        if isinstance(app.config[flag], str):
            app.config[flag] = app.config[flag].lower() in ("1", "true", "yes", "on")
    for number in ("SMTP_PORT", "SCHEDULER_RULES_SECONDS", "SCHEDULER_DISPATCH_SECONDS", "SCHEDULER_PRUNE_SECONDS",
                   "RETENTION_DAYS"):
        app.config[number] = int(app.config[number])
    app.config["BABEL_DEFAULT_TIMEZONE"] = app.config["ACADEMY_TIMEZONE"]
    url = app.config["SQLALCHEMY_DATABASE_URI"] or f"sqlite:///{Path(app.instance_path) / 'academy.db'}"
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url(url)
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True, **app.config["SQLALCHEMY_ENGINE_OPTIONS"]}
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))


def _instance_secret(instance: Path) -> str:
    """A secret generated once per installation and kept in instance/secret_key."""
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
