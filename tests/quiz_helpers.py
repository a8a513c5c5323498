"""Load the test quizzes of tests/data/quizzes into the database, linked to the real courses.

Tests change a quiz's settings on the row itself (e.g. quiz.time_limit_minutes = 1).
"""
from pathlib import Path

from app.content.loader import load_courses
from app.content.quiz_folder import load_quizzes
from app.content.sync import SyncReport, sync_quizzes
from app.database import utcnow
from app.extensions import db
from app.quizzes.service import find_quiz

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parent.parent


def load_test_quizzes():
    courses, problems = load_courses(REPO)
    quizzes, quiz_problems = load_quizzes(DATA, courses)
    assert not problems and not quiz_problems, quiz_problems
    sync_quizzes(db.session, quizzes, utcnow(), SyncReport())
    db.session.commit()
    return find_quiz(db.session, "sample"), find_quiz(db.session, "writing")
