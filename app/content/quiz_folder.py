"""The quizzes/ folder: each <slug>.yml is a YAML quiz (quizzes.py), each <slug>.gift a Moodle GIFT bank
(gift_bank.py, with its .gift.yml settings and optional .en.gift)."""
from pathlib import Path

from app.content.gift_bank import load_gift_quiz
from app.content.loader import CourseSpec, Problem, Report, relative
from app.content.quizzes import QuizSpec, load_yaml_quiz


def load_quizzes(root: Path, courses: list[CourseSpec]) -> tuple[list[QuizSpec], list[Problem]]:
    """Every quiz under root/quizzes; a missing folder simply means no quizzes."""
    problems: list[Problem] = []
    folder = root / "quizzes"
    by_slug = {c.slug: c for c in courses}
    quizzes: list[QuizSpec] = []
    if not folder.is_dir():
        return quizzes, problems
    for path in sorted(folder.iterdir()):
        name = path.name
        if path.is_dir() or name.startswith(".") or name.endswith((".gift.yml", ".en.gift")) or name == "README.md":
            continue
        if name.endswith(".yml"):
            quiz = load_yaml_quiz(path, root, by_slug, problems)
        elif name.endswith(".gift"):
            quiz = load_gift_quiz(path, root, by_slug, problems)
        else:
            Report(problems, relative(path, root))(1, "unexpected file: quizzes are <slug>.yml or <slug>.gift")
            continue
        if quiz:
            quizzes.append(quiz)
    order = {c.slug: c.order for c in courses}
    for position, quiz in enumerate(sorted(quizzes, key=lambda q: (order.get(q.course, 0), q.slug))):
        quiz.position = position
    return sorted(quizzes, key=lambda q: q.position), problems
