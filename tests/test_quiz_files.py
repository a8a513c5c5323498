"""Quizzes as files: every broken quiz file is reported as `path:line: message`.

The loader tests write a valid quiz in tmp_path, break exactly one thing, and assert the
exact path and line; the quizzes link to the repository's real courses. The database tests
sync quizzes (courses from the `synced` fixture) and check what changes, and what does not.
"""
import copy
import re
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.content.loader import load_courses
from app.content.quiz_folder import load_quizzes
from app.content.sync import SyncReport, sync_quizzes
from app.database import utcnow
from app.extensions import db
from app.learning.models import Course
from app.quizzes.grading import grade
from app.quizzes import service
from app.quizzes.models import Quiz, QuizAttempt
from tests.factories import assert_one_problem

REPO = Path(__file__).resolve().parent.parent
COURSES, _ = load_courses(REPO)

# One question of every type; the line numbers on the right are the ones the assertions use.
QUIZ = """\
course: product-selection
lesson: margin-math
title: {zh: 小测, en: Quiz}
pass_mark: 70
max_attempts: 3
draw: 8
questions:
  - id: pick
    type: single
    text: {zh: 选一个, en: Pick one}
    options:
      - {text: {zh: 对的, en: Right}, correct: true}
      - {text: {zh: 错的, en: Wrong}, correct: false}
  - id: many
    type: multiple
    text: {zh: 选几个, en: Pick some}
    options:
      - {text: {zh: 甲, en: A}, weight: 50}
      - {text: {zh: 乙, en: B}, weight: 50}
      - {text: {zh: 丙, en: C}, weight: -100}
  - id: fact
    type: truefalse
    text: {zh: 对吗, en: Is it so}
    answer: true
  - id: word
    type: short
    text: {zh: 填词, en: Fill in}
    answers: [朋友圈, Moments]
  - id: sum
    type: numerical
    text: {zh: 算一算, en: Work it out}
    answer: 6
    tolerance: 0.1
  - id: between
    type: numerical
    text: {zh: 范围, en: Range}
    range: [1, 5]
  - id: pairs
    type: matching
    text: {zh: 配对, en: Match}
    pairs:
      - {left: {zh: 一, en: One}, right: {zh: 壹, en: I}}
      - {left: {zh: 二, en: Two}, right: {zh: 贰, en: II}}
  - id: write
    type: essay
    points: 4
    text: {zh: 写一段, en: Write}
    rubric:
      - {criterion: {zh: 清楚, en: Clear}, points: 2}
      - {criterion: {zh: 温暖, en: Warm}, points: 2}
  - id: note
    type: description
    text: {zh: 说明, en: Note}
"""
#  1 course  2 lesson  3 title  4 pass_mark  5 max_attempts  6 draw  7 questions:
#  8 pick  9 type  10 text  11 options:  12-13 options
# 14 many  15 type  16 text  17 options:  18-20 options (weights 50, 50, -100)
# 21 fact  22 type  23 text  24 answer
# 25 word  26 type  27 text  28 answers
# 29 sum  30 type  31 text  32 answer  33 tolerance
# 34 between  35 type  36 text  37 range
# 38 pairs  39 type  40 text  41 pairs:  42-43 pairs
# 44 write  45 type  46 points  47 text  48 rubric:  49-50 criteria
# 51 note  52 type  53 text
Q = "quizzes/quiz.yml"


def write_quiz(root: Path, name: str, text: str) -> Path:
    path = root / "quizzes" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def load(root: Path):
    return load_quizzes(root, COURSES)


def quiz_problems(root: Path) -> list[str]:
    return [str(p) for p in load(root)[1]]


def quiz_with(old: str, new: str):
    assert old in QUIZ, old
    return QUIZ.replace(old, new, 1)


def test_valid_quiz_loads(tmp_path):
    write_quiz(tmp_path, "quiz.yml", QUIZ)
    [quiz], found = load(tmp_path)
    assert found == []
    assert (quiz.slug, quiz.course, quiz.lesson, quiz.source_path) == ("quiz", "product-selection", "margin-math", Q)
    assert [q["id"] for q in quiz.questions] == ["pick", "many", "fact", "word", "sum", "between", "pairs", "write",
                                                 "note"]
    assert quiz.settings["draw"] == 8 and quiz.title == {"zh": "小测", "en": "Quiz"}


BROKEN = [
    ("unknown-course", quiz_with("course: product-selection", "course: cooking"), f"{Q}:1: course: no course 'cooking'"),
    ("unknown-lesson", quiz_with("lesson: margin-math", "lesson: baking"), f"{Q}:2: lesson: no lesson 'baking'"),
    ("missing-title", quiz_with("title: {zh: 小测, en: Quiz}\n", ""), f"{Q}:1: title: missing"),
    ("missing-questions", QUIZ[:QUIZ.index("draw:")], f"{Q}:1: questions: missing"),
    ("empty-questions", QUIZ[:QUIZ.index("draw:")] + "questions: []\n", f"{Q}:6: questions: give a list"),
    ("unknown-field", quiz_with("draw: 8\n", "draw: 8\ncolour: red\n"), f"{Q}:7: colour: unknown field"),
    ("pass-mark-150", quiz_with("pass_mark: 70", "pass_mark: 150"), f"{Q}:4: pass_mark: must be an integer from 0 to 100"),
    ("max-attempts-text", quiz_with("max_attempts: 3", 'max_attempts: "three"'), f"{Q}:5: max_attempts: must be an integer"),
    ("draw-too-many", quiz_with("draw: 8", "draw: 9"), f"{Q}:6: draw: 9 but the quiz has 8 questions"),
    ("unknown-type", quiz_with("type: single", "type: choice"), f"{Q}:9: question pick: type: must be one of"),
    ("missing-id", quiz_with("  - id: pick\n    type: single", "  - type: single"), f"{Q}:8: questions[1]: id: missing"),
    ("bad-id", quiz_with("id: pick", "id: Pick_One"), f"{Q}:8: question Pick_One: id: use lowercase letters"),
    ("duplicate-id", quiz_with("id: many", "id: pick"), f"{Q}:14: question pick: id: used by another question"),
    ("missing-text", quiz_with("    text: {zh: 选一个, en: Pick one}\n", ""), f"{Q}:8: question pick: text: missing"),
    ("text-without-en", quiz_with("{zh: 选一个, en: Pick one}", "{zh: 选一个}"), f'{Q}:10: question pick: text: missing "en"'),
    ("single-none-correct", quiz_with("correct: true", "correct: false"), f"{Q}:12: question pick: options: exactly one"),
    ("single-two-correct", quiz_with("correct: false", "correct: true"), f"{Q}:12: question pick: options: exactly one"),
    ("multiple-not-100", quiz_with("weight: 50}", "weight: 40}"),
     f"{Q}:18: question many: options: the positive weights add up to 90, not 100"),
    ("weight-below-100", quiz_with("weight: -100", "weight: -150"),
     f"{Q}:20: question many: option 3: weight: must be from -100 to 100"),
    ("truefalse-yes", quiz_with("answer: true", 'answer: "yes"'), f"{Q}:24: question fact: answer: must be true or false"),
    ("short-no-answers", quiz_with("answers: [朋友圈, Moments]", "answers: []"), f"{Q}:28: question word: answers: give"),
    ("numerical-no-answer", quiz_with("    answer: 6\n    tolerance: 0.1\n", ""), f"{Q}:29: question sum: answer: give"),
    ("range-reversed", quiz_with("range: [1, 5]", "range: [5, 1]"), f"{Q}:37: question between: range: must be [low, high]"),
    ("matching-one-pair", quiz_with("      - {left: {zh: 二, en: Two}, right: {zh: 贰, en: II}}\n", ""),
     f"{Q}:42: question pairs: pairs: give at least 2 pairs"),
    ("rubric-not-points", quiz_with("points: 4", "points: 5"), f"{Q}:49: question write: rubric: its points add up to 4"),
    ("points-zero", quiz_with("type: single\n", "type: single\n    points: 0\n"), f"{Q}:10: question pick: points: must be above"),
    ("points-negative", quiz_with("type: single\n", "type: single\n    points: -1\n"), f"{Q}:10: question pick: points: must be"),
    ("question-unknown-field", quiz_with("type: single\n", "type: single\n    hint: x\n"), f"{Q}:10: question pick: hint: unknown"),
    ("yaml-error", quiz_with("pass_mark: 70", "pass_mark: 70: 80"), f"{Q}:4: YAML: mapping values are not allowed"),
    ("yaml-unclosed", quiz_with("answer: true", "answer: [true"), f"{Q}:25: YAML: "),
]


@pytest.mark.parametrize("text, expected", [pytest.param(t, e, id=i) for i, t, e in BROKEN])
def test_each_problem_is_reported_with_path_and_line(tmp_path, text, expected):
    write_quiz(tmp_path, "quiz.yml", text)
    assert_one_problem(quiz_problems(tmp_path), expected)
    assert load(tmp_path)[0] == []  # a broken quiz is not loaded


def test_weight_above_100_is_reported(tmp_path):
    write_quiz(tmp_path, "quiz.yml", quiz_with("weight: 50}", "weight: 150}"))
    assert f"{Q}:18: question many: option 1: weight: must be from -100 to 100 (percent)" in quiz_problems(tmp_path)


def test_unexpected_file_in_quizzes(tmp_path):
    write_quiz(tmp_path, "notes.txt", "todo\n")
    assert_one_problem(quiz_problems(tmp_path), "quizzes/notes.txt:1: unexpected file")


def test_no_quizzes_folder_means_no_quizzes(tmp_path):
    assert load(tmp_path) == ([], [])


def test_every_broken_question_is_reported_and_other_files_still_load(tmp_path):
    broken = (QUIZ.replace("correct: true", "correct: false").replace("range: [1, 5]", "range: [5, 1]")
              .replace("type: truefalse", "type: yesno"))
    write_quiz(tmp_path, "broken.yml", broken)
    write_quiz(tmp_path, "also-broken.yml", quiz_with("pass_mark: 70", "pass_mark: 150"))
    write_quiz(tmp_path, "fine.yml", QUIZ)
    quizzes, found = load(tmp_path)
    assert sorted(map(str, found)) == sorted([
        "quizzes/also-broken.yml:4: pass_mark: must be an integer from 0 to 100",
        "quizzes/broken.yml:12: question pick: options: exactly one must be correct: true",
        "quizzes/broken.yml:22: question fact: type: must be one of "
        "description, essay, matching, multiple, numerical, short, single, truefalse",
        "quizzes/broken.yml:37: question between: range: must be [low, high] numbers, low first",
    ])
    assert [q.slug for q in quizzes] == ["fine"]


# --- GIFT banks ------------------------------------------------------------------------------

SETTINGS = """\
course: group-building
language: zh
title: {zh: 题库, en: Bank}
pass_mark: 60
"""
GIFT = """\
::pick:: 选哪个？{=对的 ~错的}

::fact:: 群主要先自我介绍。{T}

::word:: 朋友圈的英文叫什么？{=Moments}
"""
EN_GIFT = """\
::pick:: Which one?{=Right ~Wrong}

::fact:: The owner introduces herself first.{T}

::word:: What is the feed called in Chinese?{=朋友圈}
"""
G, GY, GE = "quizzes/bank.gift", "quizzes/bank.gift.yml", "quizzes/bank.en.gift"


def write_bank(root: Path, gift: str = GIFT, settings: str | None = SETTINGS, english: str | None = None) -> None:
    write_quiz(root, "bank.gift", gift)
    if settings is not None:
        write_quiz(root, "bank.gift.yml", settings)
    if english is not None:
        write_quiz(root, "bank.en.gift", english)


def test_bank_with_english_version(tmp_path):
    write_bank(tmp_path, english=EN_GIFT)
    [quiz], found = load(tmp_path)
    assert found == []
    assert (quiz.slug, quiz.course, quiz.settings["pass_mark"], quiz.source_path) == ("bank", "group-building", 60, G)
    pick, fact, word = quiz.questions
    assert [q["id"] for q in quiz.questions] == ["pick", "fact", "word"]
    assert "选哪个" in pick["text"]["zh"] and "Which one" in pick["text"]["en"]
    assert [o["text"]["en"] for o in pick["options"]] == ["Right", "Wrong"]
    assert [o["weight"] for o in pick["options"]] == [1.0, 0.0]
    assert fact["options"][0]["weight"] == 1.0
    assert sorted(a["text"] for a in word["answers"]) == ["Moments", "朋友圈"]
    assert grade(word, " moments ").is_correct and grade(word, "朋友圈").is_correct and not grade(word, "群").is_correct


def test_bank_without_english_shows_its_own_text_to_everyone(tmp_path):
    write_bank(tmp_path)
    [quiz], found = load(tmp_path)
    assert found == []
    assert quiz.questions[0]["text"]["zh"] == quiz.questions[0]["text"]["en"]


BROKEN_BANKS = [
    ("settings-missing", dict(settings=None), f"{G}:1: settings missing: add bank.gift.yml"),
    ("settings-no-course", dict(settings=SETTINGS.replace("course: group-building\n", "")), f"{GY}:1: course: missing"),
    ("settings-no-language", dict(settings=SETTINGS.replace("language: zh\n", "")), f"{GY}:1: language: missing"),
    ("settings-french", dict(settings=SETTINGS.replace("language: zh", "language: fr")), f"{GY}:2: language: must be zh"),
    ("settings-unknown-course", dict(settings=SETTINGS.replace("group-building", "cooking")), f"{GY}:1: course: no course"),
    ("settings-yaml-error", dict(settings=SETTINGS.replace("pass_mark: 60", "pass_mark: 60: 1")), f"{GY}:4: YAML: "),
    ("draw-too-many", dict(settings=SETTINGS + "draw: 4\n"), f"{GY}:5: draw: 4 but the quiz has 3 questions"),
    ("en-fewer-questions", dict(english=EN_GIFT.split("\n\n::word::")[0]), f"{GE}:1: 2 questions but bank.gift has 3"),
    ("en-other-answers", dict(english=EN_GIFT.replace("{=Right ~Wrong}", "{~Right =Wrong}")),
     f"{GE}:1: question differs from bank.gift:1"),
    ("en-other-type", dict(english=EN_GIFT.replace("{T}", "{=Yes ~No}")), f"{GE}:3: question differs from bank.gift:3"),
    ("en-other-title", dict(english=EN_GIFT.replace("::word::", "::feed::")), f"{GE}:5: question differs from bank.gift:5"),
    ("same-title-twice", dict(gift=GIFT.replace("::fact::", "::pick::"), english=EN_GIFT.replace("::fact::", "::pick::")),
     f"{G}:3: question id 'pick' (from its ::title::) is used twice"),
    ("empty-bank", dict(gift="// nothing yet\n", english=None), f"{G}:1: no questions"),
]


@pytest.mark.parametrize("change, expected", [pytest.param(c, e, id=i) for i, c, e in BROKEN_BANKS])
def test_each_bank_problem_is_reported_with_path_and_line(tmp_path, change, expected):
    write_bank(tmp_path, **{"english": EN_GIFT, **change})
    assert_one_problem(quiz_problems(tmp_path), expected)


NO_CORRECT = "no correct answer: mark it with ="


def test_a_broken_gift_question_is_reported_and_the_good_ones_load(tmp_path):
    write_bank(tmp_path, gift=GIFT.replace("\n::fact::", "\n::bad:: 哪个?{~甲 ~乙}\n\n::fact::"))
    [quiz], [problem] = load(tmp_path)
    assert str(problem).startswith(f"{G}:3: {NO_CORRECT}")
    assert [q["id"] for q in quiz.questions] == ["pick", "fact", "word"]


def test_a_bank_whose_only_question_is_broken_is_not_loaded(tmp_path):
    write_bank(tmp_path, gift="::bad:: 哪个?{~甲 ~乙}\n")
    quizzes, [broken, empty] = load(tmp_path)
    assert quizzes == []
    assert str(broken).startswith(f"{G}:1: {NO_CORRECT}") and str(empty) == f"{G}:1: no questions"


def test_an_empty_bank_is_reported_even_after_another_files_problem(tmp_path):
    write_quiz(tmp_path, "aaa.yml", quiz_with("pass_mark: 70", "pass_mark: 150"))
    write_bank(tmp_path, gift="// nothing yet\n")
    quizzes, found = load(tmp_path)
    assert quizzes == []
    assert f"{G}:1: no questions" in [str(p) for p in found]


# --- the repository's quizzes ------------------------------------------------------------------

def test_repository_quizzes_load_without_problems():
    quizzes, found = load(REPO)
    assert found == []
    by_course: dict[str, list] = {}
    for quiz in quizzes:
        by_course.setdefault(quiz.course, []).append(quiz)
    for course in COURSES:
        if course.slug == "start-here" or not course.lessons:
            continue
        rich = [q for q in by_course.get(course.slug, [])
                if sum(x["type"] != "description" for x in q.questions) >= 8
                and len({x["type"] for x in q.questions} - {"description"}) >= 4]
        assert rich, f"{course.slug} has no quiz with 8 questions of 4 types"
    assert any(q.source_path.endswith(".gift") for q in quizzes)
    assert any(q.course == "content-creation" and any(x["type"] == "essay" for x in q.questions) for q in quizzes)


# --- ids never carry the answer key -----------------------------------------------------------------

OPAQUE = re.compile(r"^x[0-9a-f]{10}$")


def ids_of(quizzes) -> list[str]:
    """Every option, matching-left and matching-right id (true/false are the same for every question)."""
    ids = []
    for quiz in quizzes:
        for question in quiz.questions:
            items = question.get("pairs", []) + question.get("choices", [])
            items += question.get("options", []) if question["type"] != "truefalse" else []
            ids += [item["id"] for item in items]
    return ids


@pytest.mark.parametrize("where", ["yaml", "gift", "repository"])
def test_option_and_matching_ids_are_opaque_distinct_and_stable(tmp_path, where):
    if where == "yaml":
        write_quiz(tmp_path, "quiz.yml", QUIZ)
    elif where == "gift":
        write_bank(tmp_path, gift=GIFT + "\n::pairs:: 配对 {=一一 -> 壹壹 =二二 -> 贰贰}\n",
                   english=EN_GIFT + "\n::pairs:: Match {=One -> I =Two -> II}\n")
    root = REPO if where == "repository" else tmp_path
    ids = ids_of(load(root)[0])
    assert len(ids) >= 6 and len(ids) == len(set(ids))
    assert all(OPAQUE.match(i) for i in ids), ids
    assert ids_of(load(root)[0]) == ids


def test_option_ids_do_not_depend_on_which_option_is_right(tmp_path):
    write_quiz(tmp_path, "quiz.yml", QUIZ)
    before = load(tmp_path)[0][0].questions[0]["options"]
    swapped = QUIZ.replace("correct: true}", "@").replace("correct: false}", "correct: true}").replace("@", "correct: false}")
    write_quiz(tmp_path, "quiz.yml", swapped)
    after = load(tmp_path)[0][0].questions[0]["options"]
    assert [o["weight"] for o in after] == [0.0, 1.0]
    assert [o["id"] for o in after] == [o["id"] for o in before]


# --- syncing into the database -----------------------------------------------------------------------

def sync_quiz_files(root: Path) -> SyncReport:
    quizzes, found = load(root)
    assert found == [], found
    report = SyncReport()
    sync_quizzes(db.session, quizzes, utcnow(), report)
    db.session.commit()
    return report


def test_syncing_the_repository_quizzes_twice_changes_nothing(synced):
    first = sync_quiz_files(REPO)
    assert len(first.created) == len(load(REPO)[0]) and not first.updated and not first.archived
    before = db.session.execute(sa.select(Quiz.id, Quiz.updated_at, Quiz.content_hash).order_by(Quiz.id)).all()
    second = sync_quiz_files(REPO)
    assert not second.changed, second
    db.session.expire_all()
    assert db.session.execute(sa.select(Quiz.id, Quiz.updated_at, Quiz.content_hash).order_by(Quiz.id)).all() == before


def test_a_removed_quiz_is_archived_and_keeps_its_attempts(synced, trainee, tmp_path):
    path = write_quiz(tmp_path, "quiz.yml", QUIZ)
    write_quiz(tmp_path, "other.yml", QUIZ)
    sync_quiz_files(tmp_path)
    quiz = service.find_quiz(db.session, "quiz")
    attempt = service.start_attempt(db.session, trainee, quiz, utcnow())
    db.session.commit()
    path.unlink()
    report = sync_quiz_files(tmp_path)
    assert report.archived == [Q] and not report.created and not report.updated
    db.session.expire_all()
    assert quiz.is_archived and service.find_quiz(db.session, "quiz") is None
    assert db.session.get(QuizAttempt, attempt.id).quiz_id == quiz.id
    assert not service.find_quiz(db.session, "other").is_archived
    write_quiz(tmp_path, "quiz.yml", QUIZ)  # put back: the same row comes back
    assert sync_quiz_files(tmp_path).updated == ["quiz quiz"]
    assert service.find_quiz(db.session, "quiz").id == quiz.id


def test_an_edited_quiz_updates_in_place_and_started_attempts_keep_their_questions(synced, trainee, tmp_path):
    write_quiz(tmp_path, "quiz.yml", QUIZ)
    sync_quiz_files(tmp_path)
    quiz = service.find_quiz(db.session, "quiz")
    attempt = service.start_attempt(db.session, trainee, quiz, utcnow())
    db.session.commit()
    drawn = copy.deepcopy(attempt.questions)
    write_quiz(tmp_path, "quiz.yml", QUIZ.replace("选一个", "选一个吧").replace("pass_mark: 70", "pass_mark: 80"))
    report = sync_quiz_files(tmp_path)
    assert report.updated == ["quiz quiz"] and not report.created and not report.archived
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(Quiz.id))) == 1
    quiz = service.find_quiz(db.session, "quiz")
    assert quiz.pass_mark == 80 and "选一个吧" in quiz.questions[0]["text"]["zh"]
    attempt = db.session.get(QuizAttempt, attempt.id)
    assert attempt.questions == drawn and attempt.quiz_id == quiz.id
    assert "选一个吧" not in str(attempt.questions)


# --- the commands ------------------------------------------------------------------------------------

@pytest.fixture
def content_root(tmp_path):
    """The real courses, with a quiz folder that a test fills."""
    shutil.copytree(REPO / "courses", tmp_path / "courses")
    write_quiz(tmp_path, "quiz.yml", QUIZ)
    return tmp_path


def test_check_command_fails_and_prints_the_quiz_problems(app, content_root):
    write_quiz(content_root, "broken.yml", quiz_with("pass_mark: 70", "pass_mark: 150"))
    write_bank(content_root, settings=SETTINGS.replace("language: zh", "language: fr"))
    result = app.test_cli_runner().invoke(args=["content", "check", "--root", str(content_root)])
    assert result.exit_code == 1
    assert "quizzes/broken.yml:4: pass_mark: must be an integer from 0 to 100" in result.output
    assert f"{GY}:2: language: must be zh or en" in result.output
    assert "2 problem(s)" in result.output


def test_check_command_counts_the_quizzes(app, content_root):
    write_bank(content_root)
    result = app.test_cli_runner().invoke(args=["content", "check", "--root", str(content_root)])
    assert result.exit_code == 0, result.output
    assert "2 quizzes" in result.output


def test_sync_command_refuses_while_a_quiz_has_a_problem(app, content_root):
    write_quiz(content_root, "broken.yml", quiz_with("range: [1, 5]", "range: [5, 1]"))
    result = app.test_cli_runner().invoke(args=["content", "sync", "--root", str(content_root)])
    assert result.exit_code == 1
    assert "quizzes/broken.yml:37: question between: range: must be [low, high]" in result.output
    assert "nothing was synced" in result.output
    assert db.session.scalar(sa.select(sa.func.count(Course.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(Quiz.id))) == 0
    (content_root / "quizzes" / "broken.yml").unlink()
    result = app.test_cli_runner().invoke(args=["content", "sync", "--root", str(content_root)])
    assert result.exit_code == 0, result.output
    assert service.find_quiz(db.session, "quiz") is not None
