import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.quizzes.grading import check_answer, correct_answer, grade, normalize_text, parse_number
from app.core.errors import DomainError

T = {"zh": "t", "en": "t"}


def options(*weights):
    return [{"id": f"o{i}", "text": T, "weight": w, "feedback": {"zh": f"f{i}", "en": f"f{i}"}}
            for i, w in enumerate(weights)]


SINGLE = {"id": "s", "type": "single", "points": 1.0, "options": options(1.0, 0.0, 0.0)}
MULTIPLE = {"id": "m", "type": "multiple", "points": 2.0, "options": options(0.5, 0.5, -1.0, 0.0)}
TRUE_FALSE = {"id": "tf", "type": "truefalse", "points": 1.0,
              "options": [{"id": "true", "text": T, "weight": 0.0}, {"id": "false", "text": T, "weight": 1.0}]}
SHORT = {"id": "sh", "type": "short", "points": 1.0,
         "answers": [{"text": "Moments", "weight": 1.0}, {"text": "朋友圈", "weight": 1.0},
                     {"text": "WeChat", "weight": 0.5, "feedback": {"zh": "差一点", "en": "Nearly"}}]}
NUMERICAL = {"id": "n", "type": "numerical", "points": 2.0,
             "ranges": [{"low": 5.975, "high": 5.995, "weight": 1.0}, {"low": 5.9, "high": 6.1, "weight": 0.5}]}
MATCHING = {"id": "mt", "type": "matching", "points": 3.0,
            "pairs": [{"id": "a", "left": T, "right_id": "r1"}, {"id": "b", "left": T, "right_id": "r2"},
                      {"id": "c", "left": T, "right_id": "r3"}],
            "choices": [{"id": "r1", "text": T}, {"id": "r2", "text": T}, {"id": "r3", "text": T}]}
ESSAY = {"id": "e", "type": "essay", "points": 10.0, "rubric": [{"criterion": T, "points": 10.0}]}
ALL = [SINGLE, MULTIPLE, TRUE_FALSE, SHORT, NUMERICAL, MATCHING]


def points(question, answer):
    return grade(question, check_answer(question, answer)).points


def test_single_choice_is_all_or_nothing_with_the_chosen_options_feedback():
    assert points(SINGLE, "o0") == 1.0 and points(SINGLE, "o1") == 0.0
    assert grade(SINGLE, "o1").feedback == [{"zh": "f1", "en": "f1"}]


def test_true_false():
    assert points(TRUE_FALSE, "false") == 1.0 and points(TRUE_FALSE, "true") == 0.0


@pytest.mark.parametrize("chosen, expected", [
    (["o0", "o1"], 2.0), (["o0"], 1.0), (["o0", "o3"], 1.0), (["o0", "o1", "o2"], 0.0),
    (["o2"], 0.0), (["o3"], 0.0), ([], 0.0)])
def test_multiple_response_gives_partial_credit_by_weight_never_below_zero(chosen, expected):
    assert points(MULTIPLE, chosen) == expected


@pytest.mark.parametrize("typed, expected", [
    ("Moments", 1.0), ("moments", 1.0), ("  MOMENTS ", 1.0), ("Ｍｏｍｅｎｔｓ", 1.0), ("朋友圈", 1.0),
    ("WeChat", 0.5), ("wechat", 0.5), ("Moment", 0.0), ("", 0.0)])
def test_short_answer_ignores_case_width_and_spaces_and_takes_the_best_weight(typed, expected):
    assert points(SHORT, typed) == expected


def test_normalize_text_treats_full_and_half_width_alike():
    assert normalize_text("ＡＢＣ　１２３") == normalize_text("abc 123") == "abc 123"


@pytest.mark.parametrize("typed, expected", [
    ("5.985", 2.0), ("5.99", 2.0), ("5.98", 2.0), ("¥5.99", 2.0), ("5.99元", 2.0), ("５.９９", 2.0),
    ("6", 1.0), ("5.95", 1.0), ("6.2", 0.0), ("abc", 0.0), (5.985, 2.0), (6, 1.0)])
def test_numerical_answers_within_tolerance_or_range(typed, expected):
    assert points(NUMERICAL, typed) == expected


def test_parse_number_accepts_how_people_type_money():
    assert parse_number("1,200") == 1200 and parse_number("20%") == 20 and parse_number("￥3.5") == 3.5
    for bad in ("", "nan", "inf", "1.2.3", True):
        with pytest.raises(DomainError):
            parse_number(bad)


@pytest.mark.parametrize("mapping, expected", [
    ({"a": "r1", "b": "r2", "c": "r3"}, 3.0), ({"a": "r1", "b": "r3", "c": "r2"}, 1.0),
    ({"a": "r1"}, 1.0), ({}, 0.0)])
def test_matching_scores_the_share_of_pairs_matched(mapping, expected):
    assert points(MATCHING, mapping) == expected


def test_essays_wait_for_a_mentor():
    graded = grade(ESSAY, check_answer(ESSAY, "我的欢迎语"))
    assert graded.points is None and graded.max_points == 10.0


@pytest.mark.parametrize("question, answer", [
    (SINGLE, "nope"), (SINGLE, ["o0"]), (MULTIPLE, ["o0", "zz"]), (MULTIPLE, [1]), (TRUE_FALSE, "maybe"),
    (SHORT, 42), (NUMERICAL, True), (NUMERICAL, {"x": 1}), (MATCHING, {"zz": "r1"}), (MATCHING, {"a": "zz"}),
    (MATCHING, "r1"), (ESSAY, ["x"])])
def test_answers_that_cannot_belong_to_the_question_are_refused(question, answer):
    with pytest.raises(DomainError):
        check_answer(question, answer)


def test_correct_answers_score_full_marks():
    for question in ALL:
        right = correct_answer(question)
        if question["type"] == "numerical":
            right = "5.985"
        assert grade(question, check_answer(question, right)).is_correct, question["id"]


# --- properties ------------------------------------------------------------------------------

def any_answer(question):
    kind = question["type"]
    ids = [o["id"] for o in question.get("options", [])]
    if kind in ("single", "truefalse"):
        return st.sampled_from(ids)
    if kind == "multiple":
        return st.lists(st.sampled_from(ids), unique=True)
    if kind == "short":
        return st.one_of(st.text(max_size=20), st.sampled_from([a["text"] for a in question["answers"]]))
    if kind == "numerical":
        return st.one_of(st.floats(allow_nan=False, allow_infinity=False, width=32).map(str), st.text(max_size=8))
    lefts, rights = [p["id"] for p in question["pairs"]], [c["id"] for c in question["choices"]]
    return st.dictionaries(st.sampled_from(lefts), st.sampled_from(rights))


@st.composite
def question_and_answer(draw):
    question = draw(st.sampled_from(ALL))
    return question, draw(any_answer(question))


@settings(max_examples=400, deadline=None)
@given(question_and_answer())
def test_a_score_is_always_between_zero_and_the_questions_points(case):
    question, answer = case
    graded = grade(question, check_answer(question, answer))
    assert 0 <= graded.points <= question["points"]


@settings(max_examples=300, deadline=None)
@given(question_and_answer(), st.randoms(use_true_random=False))
def test_shuffling_options_never_changes_a_grade(case, rng: random.Random):
    question, answer = case
    shuffled = {**question}
    for key in ("options", "choices", "pairs", "answers", "ranges"):
        if key in question:
            shuffled[key] = rng.sample(question[key], len(question[key]))
    assert grade(shuffled, check_answer(shuffled, answer)).points == grade(question, check_answer(question, answer)).points
