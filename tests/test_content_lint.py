"""The style checks of `academy content check`: full-width punctuation in Chinese text, and quizzes
whose right option is not given away by being the longest."""
import shutil
from pathlib import Path

import pytest

from app import create_app
from app.content import load_content
from app.content.lint import half_width_marks, half_width_marks_in_line, lint, longest_option_shares
from tests.conftest import REPO


@pytest.mark.parametrize("line, marks", [
    ("13道题,20分钟", [","]),
    ("先问一句:你家最近最常买什么?", [":", "?"]),
    ("指标1(要大于50%)", ["(", ")"]),
    ("售后率（要小于1%)", [")"]),                 # the pair of a full-width bracket
    ("**提示**:先私聊。", [":"]),               # Markdown emphasis between the word and its colon
    ("她一口气吃了七八个.", ["."]),
    ("嗯...好吧", ["."]),                         # the first dot of an ellipsis
    ("29.9元一盒，约500克。", []),                 # a decimal
    ("1. 小林 1箱", []),                           # a numbered list
    ("晚上20:00到21:30", []),                      # a time
    ("zh: 欢迎大家！", []),                         # the YAML key before Chinese text
    ("Type “#接龙” in the group, then add a line.", []),   # English quoting a Chinese word
    ("::welcome:: 欢迎，我是小林。", []),             # a GIFT question's title
    ("\\#接龙 赣南脐橙", []),
])
def test_half_width_marks_touching_chinese_are_found(line, marks):
    assert [mark for _, mark in half_width_marks_in_line(line)] == marks


def test_the_real_content_has_no_half_width_punctuation_in_chinese():
    assert half_width_marks(REPO) == []


def test_every_real_quiz_gives_the_longest_option_as_the_right_one_in_at_most_a_third(content):
    shares = {s.quiz: s for s in longest_option_shares(content.quizzes)}
    assert shares, "no quizzes"
    for share in shares.values():
        for lang in ("zh", "en"):
            assert 3 * share.longest[lang] <= share.single, (share.quiz, lang, share.longest, share.single)


QUIZ = """\
course: {course}
title: {{zh: 小测, en: Quiz}}
questions:
"""
SINGLE = """\
  - id: q{n}
    type: single
    text: {{zh: "选哪个？", en: "Which one?"}}
    options:
      - text: {{zh: {right}, en: {right_en}}}
        correct: true
      - text: {{zh: 短, en: Short}}
"""


@pytest.fixture
def root(tmp_path) -> Path:
    for folder in ("courses", "milestones"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    (tmp_path / "quizzes").mkdir()
    return tmp_path


def run_content_check(root: Path):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x"})
    return app.test_cli_runner().invoke(args=["content", "check", "--root", str(root)])


def test_check_names_the_file_and_line_of_a_half_width_mark(root):
    lesson = root / "courses/group-building/warm-contacts.md"
    lines = lesson.read_text(encoding="utf-8").split("\n")
    lines.append("今晚就做,写下10个名字。")
    lesson.write_text("\n".join(lines), encoding="utf-8")
    result = run_content_check(root)
    assert result.exit_code == 1
    assert (f"courses/group-building/warm-contacts.md:{len(lines)}: half-width ',' in Chinese text: write '，'"
            in result.output)


def test_check_refuses_a_quiz_whose_right_option_is_mostly_the_longest_and_reports_every_share(root):
    course = load_content(root).courses[0].slug
    long_right = "".join(SINGLE.format(n=n, right="很长的正确答案", right_en="A long right answer") for n in (1, 2))
    short_right = SINGLE.format(n=3, right="对", right_en="Right")
    (root / "quizzes/leaky.yml").write_text(QUIZ.format(course=course) + long_right + short_right, encoding="utf-8")
    (root / "quizzes/fair.yml").write_text(QUIZ.format(course=course) + short_right + SINGLE.format(
        n=4, right="很长的正确答案", right_en="A long right answer") + SINGLE.format(n=5, right="对", right_en="Right"),
        encoding="utf-8")
    content = load_content(root)
    assert content.problems == []
    problems, shares = lint(root, content.quizzes)
    assert [str(p) for p in problems] == [
        "quizzes/leaky.yml:1: the right option is the strictly longest in 2 of 3 single-choice questions (zh): "
        "at most a third, or guessing the longest passes"]
    result = run_content_check(root)
    assert result.exit_code == 1
    assert "quizzes/fair.yml: right option strictly longest in 1/3 (zh), 1/3 (en) single-choice questions" in result.output
    assert "quizzes/leaky.yml: right option strictly longest in 2/3 (zh), 2/3 (en)" in result.output
