"""Moodle GIFT parity: a matching pair with an empty left side is one more wrong answer, and `*` in a
short answer is Moodle's wildcard. Parsed, loaded and graded as Moodle does."""
from app.content.gift import parse_gift
from app.quizzes.grading import check_answer, grade, short_answer_match, wildcard_matches
from tests.test_quiz_files import SETTINGS, load, write_bank

MATCH = "::pairs:: 配对 {=一一 -> 壹壹 =二二 -> 贰贰 = -> 叁叁 =三三 -> 肆肆}\n"
EN_MATCH = "::pairs:: Match {=One -> I =Two -> II = -> III =Three -> IV}\n"
SHORT = "::word:: 朋友圈的英文叫什么?{=Moments =%50%Moment* =%0%*#再想想:是朋友圈的英文名}\n"
EN_SHORT = "::word:: What is it called in Chinese?{=朋友圈 =%50%朋友* =%0%*#Think again}\n"


def test_an_empty_left_side_parses_as_an_extra_wrong_answer():
    [question], errors = parse_gift(MATCH)
    assert errors == [] and question.kind == "matching"
    assert [(a.text, a.match, a.is_correct) for a in question.answers] == [
        ("一一", "壹壹", True), ("二二", "贰贰", True), ("", "叁叁", False), ("三三", "肆肆", True)]


def test_matching_still_needs_two_real_pairs_and_a_right_side():
    assert "at least 2 pairs" in parse_gift("Match { =a -> b = -> c = -> d }")[1][0][1]
    assert "empty right side" in parse_gift("Match { =a -> b =c -> }")[1][0][1]


def load_bank(root, gift: str, english: str) -> dict:
    write_bank(root, gift=gift, settings=SETTINGS, english=english)
    [quiz], problems = load(root)
    assert problems == []
    return quiz.questions[0]


def test_the_extra_answer_is_a_choice_but_not_a_pair_and_grading_counts_the_real_pairs(tmp_path):
    question = load_bank(tmp_path, MATCH, EN_MATCH)
    assert len(question["pairs"]) == 3 and len(question["choices"]) == 4
    assert [c["text"]["en"] for c in question["choices"]] == ["I", "II", "III", "IV"]
    extra = question["choices"][2]["id"]
    assert extra not in {p["right_id"] for p in question["pairs"]}
    right = {p["id"]: p["right_id"] for p in question["pairs"]}
    assert grade(question, check_answer(question, right)).is_correct
    wrong = {**right, question["pairs"][0]["id"]: extra}       # the distractor chosen for one of three
    result = grade(question, check_answer(question, wrong))
    assert result.points == round(2 / 3, 4) and not result.is_correct


def test_the_wildcard_matches_any_run_of_characters_like_moodle():
    assert wildcard_matches("*", "anything at all") and wildcard_matches("*", "")
    assert wildcard_matches("Moment*", "moments") and wildcard_matches("微信*群", "微信宝妈群")
    assert not wildcard_matches("微信*群", "微信群聊")
    assert wildcard_matches(r"5\*3", "5*3") and not wildcard_matches(r"5\*3", "5x3")   # an escaped star is a star
    assert wildcard_matches("a**b", "axyzb")                                            # a run of stars is one
    assert not wildcard_matches("a.b", "axb") and wildcard_matches("(1+1)", "（1+1）")   # no regex, widths alike
    assert not wildcard_matches("a＊b", "axb")                                          # a full-width star is text


def test_short_answers_take_the_first_match_in_order_as_moodle_does(tmp_path):
    question = load_bank(tmp_path, SHORT, EN_SHORT)
    assert grade(question, "Moments").points == 1.0
    assert grade(question, "moment").points == 0.5                   # the wildcard answer, not the catch-all
    caught = grade(question, "WeChat")
    assert caught.points == 0.0 and caught.feedback == [{"zh": "再想想:是朋友圈的英文名", "en": "再想想:是朋友圈的英文名"}]
    assert grade(question, "朋友圈").points == 1.0                  # the English file's answer still counts
    first = short_answer_match([{"text": "*", "weight": 0.0}, {"text": "Moments", "weight": 1.0}], "Moments")
    assert first["weight"] == 0.0                                    # first match wins, even a worse one
