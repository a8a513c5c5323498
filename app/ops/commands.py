"""`academy serve` (gunicorn), `academy backup FILE` and `academy restore FILE` (SQLite)."""
import importlib
import os
import sqlite3
import tempfile
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import make_url
from app.config import MIGRATIONS

SQLITE_HEADER = b"SQLite format 3\x00"
MAX_WORKERS = 8  # sync workers each hold a database connection and ~100 MB: more only queue on SQLite


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may use (containers, taskset)
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_workers() -> int:
    """gunicorn's rule of thumb, 2 x cores + 1 (5 on our 2-core machines), at most MAX_WORKERS."""
    return min(2 * cores() + 1, MAX_WORKERS)


# --- academy serve -----------------------------------------------------------------------------

def gunicorn_options(host: str, port: int, workers: int, timeout: int, graceful_timeout: int) -> dict:
    return {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "worker_class": "sync",       # behind nginx, which buffers slow clients
        "timeout": timeout,           # a worker silent this long is killed and replaced
        "graceful_timeout": graceful_timeout,  # on SIGTERM/HUP, time to finish the requests in flight
        "keepalive": 5,               # nginx keeps upstream connections open a little longer than 2 s
        "max_requests": 2000,         # recycle workers now and then (with jitter, not all at once)
        "max_requests_jitter": 200,
        "accesslog": None,            # our JSON request line (app/ops/logging.py) replaces it
        "errorlog": "-",              # gunicorn's own messages on stderr
        "loglevel": "info",
        "proc_name": "academy-web",
        "control_socket_disable": True,  # no ~/.gunicorn/gunicorn.ctl: systemd signals are enough
    }


def make_server(options: dict):
    from gunicorn.app.base import BaseApplication  # only `academy serve` needs gunicorn: not loaded by every command

    class AcademyServer(BaseApplication):
        """gunicorn's custom application pattern: our options, and `app:create_app()` in each worker."""

        def __init__(self, options: dict):
            self.options = options
            super().__init__()

        def load_config(self):
            for key, value in self.options.items():
                self.cfg.set(key, value)

        def load(self):
            # By name, as gunicorn loads any app: the factory itself lists this module's commands.
            return importlib.import_module("app.factory").create_app()

    return AcademyServer(options)


@click.command("serve", help="Run the production web server (gunicorn). Never runs the reminder jobs: "
                             "start one `academy scheduler` for those.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", type=click.IntRange(1, 64), envvar="WEB_CONCURRENCY",
              help=f"Worker processes [default: 2 x cores + 1, at most {MAX_WORKERS}; env WEB_CONCURRENCY].")
@click.option("--timeout", default=30, show_default=True, type=click.IntRange(1),
              help="Seconds before a stuck worker is killed.")
@click.option("--graceful-timeout", default=25, show_default=True, type=click.IntRange(1),
              help="Seconds for requests in flight to finish on stop or reload.")
def serve_command(host, port, workers, timeout, graceful_timeout):
    if os.environ.get("SCHEDULER_ENABLED", "").lower() in ("1", "true", "yes", "on"):
        click.echo("serve: SCHEDULER_ENABLED is ignored by web workers; run `academy scheduler` once instead",
                   err=True)
    # Web workers never run the reminder jobs, whatever instance/config.py says (the environment wins).
    os.environ["SCHEDULER_ENABLED"] = "0"
    make_server(gunicorn_options(host, port, workers or default_workers(), timeout, graceful_timeout)).run()


# --- academy backup / restore ------------------------------------------------------------------

def sqlite_path() -> Path:
    """The live SQLite database's file, or a clear refusal for anything else."""
    url = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "sqlite":
        raise click.ClickException(
            f"backup and restore work on SQLite only; this database is {url.get_backend_name()}. "
            "Use PostgreSQL's own tools: pg_dump --format=custom --file=FILE \"$DATABASE_URL\" to back up, "
            "pg_restore --clean --if-exists --dbname=\"$DATABASE_URL\" FILE to restore.")
    if not url.database or url.database == ":memory:" or url.database.startswith("file::memory:"):
        raise click.ClickException("the database is in memory: there is nothing to back up")
    return Path(url.database)


def _open_readonly(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)


def inspect_database(path: Path) -> str:
    """The alembic revision of an SQLite file of this app; ClickException if it is anything else."""
    if not path.is_file():
        raise click.ClickException(f"{path}: no such file")
    with open(path, "rb") as handle:
        if handle.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            raise click.ClickException(f"{path} is not an SQLite database")
    try:
        conn = _open_readonly(path)
        try:
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise click.ClickException(f"{path} is damaged: {check}")
            has_version = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'").fetchone()
            if not has_version:
                raise click.ClickException(f"{path} is an SQLite database, but not one of this app "
                                           "(no alembic_version table)")
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        raise click.ClickException(f"{path} cannot be read as an SQLite database: {error}") from None
    if row is None:
        raise click.ClickException(f"{path} has an empty alembic_version table: never migrated")
    return row[0]


def migration_heads() -> tuple[set[str], set[str]]:
    """(every revision the code knows, the heads)."""
    # Only backup and restore read the migration scripts: alembic's script machinery is not loaded by other commands.
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    script = ScriptDirectory.from_config(config)
    return {r.revision for r in script.walk_revisions()}, set(script.get_heads())


def copy_database(source: Path, target: Path, *, source_readonly: bool) -> None:
    """Copy with SQLite's online backup API: a consistent snapshot of the source, written into the
    target under its lock, so that other connections to either see a whole database, never half."""
    src = _open_readonly(source) if source_readonly else sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(target, timeout=30)  # the timeout is the busy handler for the target's lock
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


@click.command("backup", help="Copy the live SQLite database to FILE (safe while the app runs).")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(file: Path):
    live = sqlite_path()
    if not live.is_file():
        raise click.ClickException(f"no database at {live}")
    if file.resolve() == live.resolve():
        raise click.ClickException("FILE is the live database itself")
    file.parent.mkdir(parents=True, exist_ok=True)
    # Written beside FILE under a temporary name, then renamed: FILE is a whole backup or the old one.
    handle, partial = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".partial", dir=file.parent)
    os.close(handle)
    partial = Path(partial)
    try:
        copy_database(live, partial, source_readonly=False)
        conn = sqlite3.connect(partial)
        try:
            conn.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        finally:
            conn.close()
        revision = inspect_database(partial)
        os.replace(partial, file)
    finally:
        partial.unlink(missing_ok=True)
    click.echo(f"backup: {live} -> {file} ({file.stat().st_size} bytes, migration {revision})")


@click.command("restore", help="Replace the live SQLite database with FILE, a backup of this app.")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_command(file: Path, yes: bool):
    live = sqlite_path()
    revision = inspect_database(file)
    known, heads = migration_heads()
    if revision not in known:
        raise click.ClickException(f"{file} is at migration {revision}, which this version of the app does "
                                   "not know (a backup from a newer version?): not restored")
    if file.resolve() == live.resolve():
        raise click.ClickException("FILE is the live database itself")
    if not yes:
        click.confirm(f"Replace the database at {live} with {file}? Everything written since that backup "
                      "is lost", abort=True)
    live.parent.mkdir(parents=True, exist_ok=True)
    copy_database(file, live, source_readonly=True)
    conn = sqlite3.connect(live, timeout=30)
    try:
        conn.execute("PRAGMA journal_mode=WAL")  # as the app runs it (app/database.py)
    finally:
        conn.close()
    click.echo(f"restore: {file} -> {live} (migration {revision})")
    if revision not in heads:
        click.echo("restore: the backup is older than the code: run `academy db upgrade` now")
