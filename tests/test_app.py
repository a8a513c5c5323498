import sqlalchemy as sa
from flask import Flask

from app import config
from app.config import database_url
from app.extensions import db


def test_healthz_answers_ok_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "ok"


def test_config_layers_defaults_instance_file_then_environment(tmp_path, monkeypatch):
    (tmp_path / "config.py").write_text("ACADEMY_TIMEZONE = 'Asia/Tokyo'\nSMTP_PORT = 2525\n")
    monkeypatch.setenv("SMTP_PORT", "2626")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    app = Flask("t", instance_path=str(tmp_path), instance_relative_config=True)
    config.load(app)
    assert app.config["ACADEMY_TIMEZONE"] == "Asia/Tokyo"  # instance file over default
    assert app.config["SMTP_PORT"] == 2626  # environment over instance file
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'academy.db'}"
    secret = app.config["SECRET_KEY"]
    assert len(secret) == 64 and (tmp_path / "secret_key").read_text() == secret
    again = Flask("t", instance_path=str(tmp_path), instance_relative_config=True)
    config.load(again)
    assert again.config["SECRET_KEY"] == secret  # generated once, then kept


def test_postgres_urls_use_psycopg3():
    assert database_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert database_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_sqlite_connections_get_wal_foreign_keys_and_busy_timeout(app):
    if db.engine.dialect.name != "sqlite":
        return
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(sa.text("PRAGMA busy_timeout")).scalar() == 5000


def test_migrations_match_the_models(app):
    """A model change without its migration fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []
