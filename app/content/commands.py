import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app.content import load_content
from app.content.lint import lint
from app.content.sync import sync_content
from app.database import utcnow
from app.extensions import db


@click.group(help="Check and load courses/, quizzes/ and milestones/.")
def content():
    pass


def _load(root: Path):
    content = load_content(root)
    for problem in content.problems:
        click.echo(str(problem), err=True)
    return content


@content.command("check")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), help="Folder holding courses/ (default: the repository).")
@with_appcontext
def check(root):
    """Validate every content file; print path:line: message for each problem."""
    root = root or Path(current_app.config["CONTENT_ROOT"])
    content = _load(root)
    style_problems, shares = lint(root, content.quizzes)
    for problem in style_problems:
        click.echo(str(problem), err=True)
    for share in shares:
        if share.single:
            click.echo(f"{share.source_path}: right option strictly longest in "
                       + ", ".join(f"{share.longest[lang]}/{share.single} ({lang})" for lang in ("zh", "en"))
                       + " single-choice questions")
    lessons = sum(len(c.lessons) for c in content.courses)
    problems = content.problems + style_problems
    if problems:
        click.echo(f"{len(problems)} problem(s)", err=True)
        sys.exit(1)
    click.echo(f"ok: {len(content.courses)} courses, {lessons} lessons, {len(content.quizzes)} quizzes")


@content.command("sync")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def sync(root):
    """Load the content into the database (idempotent); refuses while any file has a problem."""
    content = _load(root or Path(current_app.config["CONTENT_ROOT"]))
    if content.problems:
        click.echo(f"{len(content.problems)} problem(s): nothing was synced", err=True)
        sys.exit(1)
    report = sync_content(db.session, content, utcnow())
    db.session.commit()
    click.echo(f"synced: {report}")
