"""The `academy` command: Flask's CLI (run, db, shell) plus the project's commands."""
from flask.cli import FlaskGroup

from app import create_app


def main() -> None:
    FlaskGroup(create_app=create_app, help="Xiaob Academy").main()
