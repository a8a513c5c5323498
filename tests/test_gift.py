"""The GIFT reader (app/content/gift.py): pure parsing, no app needed."""
import os
import tempfile
import textwrap

import pytest

from app.content.gift import GiftAnswer, GiftQuestion, parse_gift


def parse(source: str) -> tuple[list[GiftQuestion], list[tuple[int, str]]]:
    return parse_gift(textwrap.dedent(source).lstrip("\n"))


def one(source: str) -> GiftQuestion:
    questions, errors = parse(source)
    assert errors == []
    assert len(questions) == 1
    return questions[0]


def error(source: str) -> tuple[int, str]:
    questions, errors = parse(source)
    assert questions == []
    assert len(errors) == 1
    return errors[0]


# --- file structure -----------------------------------------------------------------------

def test_empty_and_comment_only_files_have_no_questions():
    assert parse_gift("") == ([], [])
    assert parse_gift("\n\n   \n") == ([], [])
    assert parse_gift("// just a note\n// and another\n") == ([], [])


def test_questions_are_separated_by_blank_lines_and_keep_their_start_line():
    questions, errors = parse("""
        // 第一部分

        Is a reseller's first week target ¥100? {T}


        ::stock::
        Should she stock up before her first sale? {F}
        // a comment between questions
           \t
        What is the commission? {#15}
    """)
    assert errors == []
    assert [(q.line, q.kind) for q in questions] == [(3, "truefalse"), (6, "truefalse"), (10, "numerical")]
    assert questions[1].title == "stock"
    assert questions[1].text == "Should she stock up before her first sale?"


def test_comment_lines_inside_a_question_are_ignored():
    q = one("""
        Which channel brings the most buyers?
        // the options below were checked with mentors
        {
            =WeChat groups
            // old option, kept for history
            ~Street flyers
        }
    """)
    assert q.text == "Which channel brings the most buyers?"
    assert [a.text for a in q.answers] == ["WeChat groups", "Street flyers"]


def test_a_comment_line_does_not_end_a_question():
    # Only blank lines separate questions: the comment is dropped and both lines form one question.
    questions, errors = parse("""
        First {T}
        // not a separator
        Second {F}
    """)
    assert questions == []
    assert errors == [(3, errors[0][1])] and "second answer block" in errors[0][1]


def test_double_slash_inside_a_line_is_text():
    q = one("See https://example.com/guide for the rules. {T}")
    assert q.text == "See https://example.com/guide for the rules."


def test_crlf_and_bom():
    source = "\ufeff::a:: First {T}\r\n\r\n// note\r\n::b:: Second\r\n{=yes ~no}\r\n"
    questions, errors = parse_gift(source)
    assert errors == []
    assert [(q.line, q.title, q.text) for q in questions] == [(1, "a", "First"), (4, "b", "Second")]
    assert [a.text for a in questions[1].answers] == ["yes", "no"]


def test_old_mac_line_endings():
    questions, errors = parse_gift("A {T}\r\rB {F}\r")
    assert errors == [] and [(q.line, q.truth) for q in questions] == [(1, True), (3, False)]


def test_chinese_text_answers_and_feedback():
    q = one("""
        ::选品::新手代理第一周应该先推哪类产品？{
            =复购率高的日用品 #对，容易出第一单
            ~高价护肤套装 #客单价太高，新手难开口
            ~自己不熟悉的产品
        ####先卖自己用过、朋友常买的东西。
        }
    """)
    assert q.title == "选品"
    assert q.kind == "single"
    assert q.text == "新手代理第一周应该先推哪类产品？"
    assert q.answers[0] == GiftAnswer(text="复购率高的日用品", is_correct=True, feedback="对，容易出第一单")
    assert q.answers[1].feedback == "客单价太高，新手难开口"
    assert q.general_feedback == "先卖自己用过、朋友常买的东西。"


def test_category_applies_to_following_questions():
    questions, errors = parse("""
        No category yet {T}

        $CATEGORY: $course$/top/新手/选品

        ::a:: One {T}

        ::b:: Two {F}

        $CATEGORY: sales/closing
        ::c:: Three {T}
    """)
    assert errors == []
    assert [(q.title, q.category) for q in questions] == [
        (None, None), ("a", "$course$/top/新手/选品"), ("b", "$course$/top/新手/选品"), ("c", "sales/closing")]
    assert questions[3].line == 10


# --- title, format, text --------------------------------------------------------------------

def test_title_on_its_own_line_and_escaped_colon_in_title():
    q = one("""
        ::Step 1\\: the pitch::
        Say hello first. {T}
    """)
    assert q.title == "Step 1: the pitch"
    assert q.text == "Say hello first."


def test_empty_title_is_none():
    assert one("::::Text {T}").title is None


@pytest.mark.parametrize("name", ["markdown", "html", "plain", "moodle", "Markdown"])
def test_format_prefix(name):
    q = one(f"::t::[{name}]**Bold** claim {{T}}")
    assert q.format == name.lower()
    assert q.text == "**Bold** claim"


def test_format_without_title_and_default_format():
    assert one("[html]<b>Hi</b> {T}").format == "html"
    q = one("Plain question {T}")
    assert q.format == "moodle" and q.title is None


def test_markdown_link_at_the_start_is_text_not_a_format():
    q = one("[Taobao](https://taobao.com) is a marketplace. {T}")
    assert q.format == "moodle"
    assert q.text == "[Taobao](https://taobao.com) is a marketplace."


def test_multiline_question_text_keeps_its_lines():
    q = one("""
        [markdown]
        First line
        second line {T}
    """)
    assert q.text == "First line\nsecond line"


# --- escapes --------------------------------------------------------------------------------

def test_escapes_in_text():
    q = one(r"Is 1 \= 1 and \{x\} \~ \#1 \: ok\\ here? {T}")
    assert q.text == r"Is 1 = 1 and {x} ~ #1 : ok\ here?"


def test_escaped_newline():
    assert one(r"Line one\nLine two {T}").text == "Line one\nLine two"


def test_escaped_brace_does_not_open_a_block():
    q = one(r"Type \{name\} in the template.")
    assert q.kind == "description"
    assert q.text == "Type {name} in the template."


def test_escapes_inside_answers_and_feedback():
    q = one(r"""
        Which is the shortcut? {
            =Ctrl\=C \{copy\} #Right\: it copies \# and \~ stays
            ~A \~ B #no \{ \} here
        }
    """)
    assert q.kind == "single"
    assert q.answers[0].text == "Ctrl=C {copy}"
    assert q.answers[0].feedback == "Right: it copies # and ~ stays"
    assert q.answers[1].text == "A ~ B"
    assert q.answers[1].feedback == "no { } here"


def test_escapes_in_general_feedback_and_truefalse_feedback():
    q = one(r"Is \#1 the best rank? {T#No\: \#2 is#Yes\, \#1 \= top####Rank \{1\} wins}")
    assert q.text == "Is #1 the best rank?"
    assert q.false_feedback == "No: #2 is"
    assert q.true_feedback == r"Yes\, #1 = top"  # \, is not a GIFT escape: kept as typed
    assert q.general_feedback == "Rank {1} wins"


def test_unknown_backslash_sequences_are_kept():
    assert one(r"Path C:\temp\x \% {T}").text == r"Path C:\temp\x \%"


def test_double_backslash_before_a_brace_leaves_the_brace_special():
    q = one(r"Ends with a backslash\\ {=yes ~no}")
    assert q.text == "Ends with a backslash\\"
    assert q.kind == "single"


# --- kinds ----------------------------------------------------------------------------------

def test_description():
    q = one("::intro:: The next questions are about your first customers.")
    assert (q.kind, q.text, q.answers) == ("description", "The next questions are about your first customers.", [])


def test_essay():
    q = one("::story:: Tell us how you made your first sale. {}")
    assert (q.kind, q.text, q.answers) == ("essay", "Tell us how you made your first sale.", [])


def test_essay_with_general_feedback():
    q = one("Describe your best customer. {\n####Think of who buys again.\n}")
    assert q.kind == "essay"
    assert q.general_feedback == "Think of who buys again."


@pytest.mark.parametrize("mark, truth", [("T", True), ("TRUE", True), ("F", False), ("FALSE", False),
                                         ("true", True), (" F ", False)])
def test_truefalse(mark, truth):
    q = one(f"Statement {{{mark}}}")
    assert (q.kind, q.truth, q.true_feedback, q.false_feedback, q.answers) == ("truefalse", truth, None, None, [])


def test_truefalse_feedback_first_is_for_the_wrong_answer_second_for_the_right_one():
    # Moodle: {TRUE#feedback for a wrong answer#feedback for a right answer}
    q = one("Samples help first sales. {TRUE#No: samples let buyers try.#Yes: try before buying.}")
    assert q.truth is True
    assert q.false_feedback == "No: samples let buyers try."  # she said FALSE: wrong
    assert q.true_feedback == "Yes: try before buying."       # she said TRUE: right

    q = one("Spamming groups grows sales. {F #Wrong, it gets you removed. #Right, it gets you removed.}")
    assert q.truth is False
    assert q.true_feedback == "Wrong, it gets you removed."   # she said TRUE: wrong
    assert q.false_feedback == "Right, it gets you removed."  # she said FALSE: right


def test_truefalse_with_only_the_wrong_answer_feedback():
    q = one("Statement {T#Think again}")
    assert (q.false_feedback, q.true_feedback) == ("Think again", None)


def test_single_choice_with_feedback_and_answers_on_separate_lines():
    q = one("""
        ::price::Which price should a newcomer quote first?
        {
            =The brand's suggested retail price #Right: keep prices consistent.
            ~Half price to win the customer #This hurts you and the team.
            ~Whatever the customer asks
        }
    """)
    assert q.kind == "single"
    assert [(a.text, a.is_correct, a.weight) for a in q.answers] == [
        ("The brand's suggested retail price", True, None),
        ("Half price to win the customer", False, None),
        ("Whatever the customer asks", False, None)]
    assert q.answers[0].feedback == "Right: keep prices consistent."
    assert q.answers[2].feedback is None


def test_single_choice_with_partial_credit_weights():
    q = one("Best reply to 'too expensive'? {=%100%Explain the value ~%50%Offer a sample ~%0%Argue ~Ignore}")
    assert q.kind == "single"
    assert [a.weight for a in q.answers] == [1.0, 0.5, 0.0, None]
    assert [a.is_correct for a in q.answers] == [True, False, False, False]


def test_multiple_response_with_weights():
    q = one("""
        Which two habits grow repeat sales? {
            ~%50%Follow up after delivery #Yes
            ~%50%Remember birthdays
            ~%-100%Post ads every hour #No
        }
    """)
    assert q.kind == "multiple"
    assert [(a.text, a.weight, a.is_correct) for a in q.answers] == [
        ("Follow up after delivery", 0.5, False), ("Remember birthdays", 0.5, False),
        ("Post ads every hour", -1.0, False)]
    assert q.answers[0].feedback == "Yes" and q.answers[2].feedback == "No"


def test_multiple_response_with_thirds_and_decimal_weights():
    q = one("Pick three {~%33.333%a ~%33.333%b ~%33.333%c ~%-50%d}")
    assert q.kind == "multiple"
    assert q.answers[0].weight == pytest.approx(0.33333)


def test_short_answer():
    q = one("::fee::What is the joining fee called? {=deposit =保证金 #Correct}")
    assert q.kind == "short"
    assert [(a.text, a.is_correct, a.weight, a.feedback) for a in q.answers] == [
        ("deposit", True, None, None), ("保证金", True, None, "Correct")]


def test_short_answer_with_weights():
    q = one("Name the app {=%100%WeChat =%50%Weixin}")
    assert q.kind == "short" and [a.weight for a in q.answers] == [1.0, 0.5]


def test_short_answer_without_equals_sign():
    q = one("What is 6 plus 2? {eight #Good}")
    assert q.kind == "short"
    assert q.answers == [GiftAnswer(text="eight", is_correct=True, feedback="Good")]


def test_matching():
    q = one("""
        ::match::Match the tool to its use. {
            =Moments -> showing daily use
            =Group chat -> answering many buyers at once
            =Private chat -> closing the sale
        }
    """)
    assert q.kind == "matching"
    assert [(a.text, a.match) for a in q.answers] == [
        ("Moments", "showing daily use"), ("Group chat", "answering many buyers at once"),
        ("Private chat", "closing the sale")]


def test_matching_with_two_pairs_escapes_and_chinese():
    q = one(r"配对 { =朋友圈 -> 展示 =a\=b -> c\:d ####general }")
    assert q.kind == "matching"
    assert [(a.text, a.match) for a in q.answers] == [("朋友圈", "展示"), ("a=b", "c:d")]
    assert q.general_feedback == "general"


@pytest.mark.parametrize("block, value, tolerance", [
    ("{#5}", 5.0, 0.0), ("{#3.14:0.01}", 3.14, 0.01), ("{#-2.5}", -2.5, 0.0), ("{#1e3}", 1000.0, 0.0),
    ("{#2.5E-1:0}", 0.25, 0.0), ("{# 100 : 0 }", 100.0, 0.0), ("{#.5:.1}", 0.5, 0.1), ("{#+7}", 7.0, 0.0)])
def test_numerical_value_and_tolerance(block, value, tolerance):
    q = one(f"How much? {block}")
    assert q.kind == "numerical"
    [answer] = q.answers
    assert (answer.value, answer.tolerance, answer.low, answer.high) == (value, tolerance, None, None)
    assert answer.is_correct and answer.weight is None


def test_numerical_range():
    q = one("Between -2.5 and 1e3? {#-2.5..1e3}")
    [answer] = q.answers
    assert (answer.low, answer.high, answer.value) == (-2.5, 1000.0, None)


def test_numerical_with_feedback():
    q = one("Target for week one, in yuan? {#100:0 #Yes, ¥100.}")
    assert q.answers[0].feedback == "Yes, ¥100."
    assert (q.answers[0].value, q.answers[0].tolerance) == (100.0, 0.0)


def test_numerical_multiple_answers():
    q = one("""
        How many days is the return window? {#
            =7:0 #Exactly
            =%50%7:2 #Close
            =%25%1..30
        }
    """)
    assert q.kind == "numerical"
    assert [(a.value, a.tolerance, a.low, a.high, a.weight, a.feedback) for a in q.answers] == [
        (7.0, 0.0, None, None, None, "Exactly"), (7.0, 2.0, None, None, 0.5, "Close"),
        (None, 0.0, 1.0, 30.0, 0.25, None)]


def test_numerical_multiple_answers_on_one_line():
    q = one("When? {#=5:0 =%50%5:1 #fb}")
    assert [(a.value, a.tolerance, a.weight, a.feedback) for a in q.answers] == [
        (5.0, 0.0, None, None), (5.0, 1.0, 0.5, "fb")]


def test_missing_word():
    q = one("A newcomer should {~ignore =answer ~delete} every customer message.")
    assert q.kind == "single"
    assert q.text == "A newcomer should _____ every customer message."


def test_missing_word_before_closing_punctuation_and_at_the_start():
    assert one("The first target is {#100} yuan.").text == "The first target is _____ yuan."
    assert one("Her first sale came from {=a friend}.").text == "Her first sale came from _____."
    assert one("{=WeChat} is where most buyers are.").text == "_____ is where most buyers are."
    assert one("新手第一周的目标是{#100}元。").text == "新手第一周的目标是 _____ 元。"
    assert one("第一单来自{=朋友}。").text == "第一单来自 _____。"


def test_missing_word_over_several_lines():
    q = one("""
        The team call is on the {
            ~first
            =second
        } Monday of the month.
    """)
    assert q.text == "The team call is on the _____ Monday of the month."
    assert [a.is_correct for a in q.answers] == [False, True]


def test_missing_word_kinds():
    assert one("Samples are {T} useful.").kind == "truefalse"
    assert one("Two plus {=two =2} equals four.").kind == "short"


def test_general_feedback_inside_and_after_the_block():
    q = one("Pick one {=a ~b ####Because a.}")
    assert q.general_feedback == "Because a."
    q = one("Pick one {=a ~b}\n####Because a.")
    assert q.general_feedback == "Because a."
    assert q.text == "Pick one"


def test_feedback_on_every_answer_and_general_feedback():
    q = one("Q {=a #fa ~b #fb ~c #fc ####all}")
    assert [a.feedback for a in q.answers] == ["fa", "fb", "fc"]
    assert q.general_feedback == "all"


def test_weight_bounds_are_accepted():
    q = one("Q {~%100%a ~%-100%b}")
    assert [a.weight for a in q.answers] == [1.0, -1.0]


# --- errors ---------------------------------------------------------------------------------

def test_unclosed_brace():
    line, message = error("""
        ::q::
        Which one?
        {=a
        ~b
    """)
    assert line == 3 and "unclosed" in message


def test_unclosed_brace_followed_by_another_brace():
    line, message = error("Which {=a ~b\nnext {=c}")
    assert line == 1 and "not closed" in message


def test_second_answer_block():
    line, message = error("""
        First {=a ~b}
        then {=c ~d}
    """)
    assert line == 2 and "second answer block" in message


def test_closing_brace_without_opening():
    line, message = error("Oops } here")
    assert line == 1 and "'}' without '{'" in message
    line, message = error("Oops {T}\nstill }")
    assert line == 2 and "'}' without '{'" in message


def test_choice_with_no_correct_answer():
    line, message = error("Which?\n{~a ~b ~c}")
    assert line == 2 and "no correct answer" in message
    line, message = error("Which? {~%-50%a ~%0%b}")
    assert "no correct answer" in message


def test_multiple_response_weights_must_add_up_to_100():
    line, message = error("Which? {~%50%a ~%40%b ~%-100%c}")
    assert "add up to 90%" in message


def test_numerical_answer_that_is_not_a_number():
    line, message = error("""
        How many? {#
            =5
            =five
        }
    """)
    assert line == 3 and '"five" is not a number' in message


@pytest.mark.parametrize("block", ["{#abc}", "{#1,5}", "{#5:x}", "{#1..}", "{#nan}", "{#inf}", "{#1_000}",
                                   "{#1e999}", "{#}", "{#5:-1}", "{#5..1}", "{#~5}", "{#=5 ~6}"])
def test_bad_numerical_answers(block):
    line, message = error(f"How many? {block}")
    assert line == 1 and "numerical" in message


def test_weight_out_of_range():
    line, message = error("Which?\n{\n=a\n~%150%b\n}")
    assert line == 4 and "150% is out of range" in message
    line, message = error("Which? {=a ~%-101%b}")
    assert "out of range" in message


def test_malformed_weight():
    line, message = error("Which? {=a ~%abc%b}")
    assert "weight" in message


def test_matching_needs_two_pairs():
    line, message = error("Match { =a -> b }")
    assert line == 1 and "at least 2 pairs" in message


def test_matching_pair_without_arrow():
    line, message = error("Match {\n=a -> b\n=c d\n=e -> f\n}")
    assert line == 3 and 'has no "->"' in message


def test_matching_pair_with_a_tilde_or_an_empty_right_side():
    assert "starts with =" in error("Match { =a -> b =c -> d ~e -> f }")[1]
    assert "empty right side" in error("Match { =a -> b =c -> }")[1]
    # An empty left side is Moodle's extra wrong answer: tests/test_gift_parity.py


def test_empty_question_text():
    assert parse_gift("\n\n::only a title::\n{=a ~b}") == ([], [(3, "empty question text")])
    assert "empty question text" in error("::t::")[1]


def test_unknown_format():
    line, message = error("::t::\n[rtf]Some text {T}")
    assert line == 2 and "unknown format [rtf]" in message


def test_brackets_at_the_start_of_the_text_after_an_explicit_format():
    q = one("[moodle][Note] Read this first.")
    assert q.text == "[Note] Read this first."


def test_title_not_closed():
    line, message = error("::title without end {T}")
    assert "title not closed" in message


def test_empty_answer_and_text_before_the_first_answer():
    assert "empty answer" in error("Which? {=a ~ ~b}")[1]
    assert "before the first answer" in error("Which? {1+1=2 ~3}")[1]


def test_two_general_feedbacks():
    assert "two general feedbacks" in error("Q {=a ~b ####one}\n####two")[1]


def test_broken_question_among_good_ones():
    questions, errors = parse("""
        $CATEGORY: week1

        ::good1:: Reply within an hour? {T}

        ::broken::
        How many samples per customer? {#
            =one
        }

        ::good2:: Best first customers? {=friends ~strangers}

        ::also broken:: Pick {~a ~b}

        ::good3:: 最后一题 {F}
    """)
    assert [q.title for q in questions] == ["good1", "good2", "good3"]
    assert [q.line for q in questions] == [3, 10, 14]
    assert all(q.category == "week1" for q in questions)
    assert [line for line, _ in errors] == [7, 12]
    assert "not a number" in errors[0][1] and "no correct answer" in errors[1][1]


def test_errors_are_reported_for_each_broken_question_in_order():
    questions, errors = parse_gift("A {=x\n\nB {~y ~z}\n\nC [bad] {T}\n\n[bad] D {T}")
    assert [q.text for q in questions] == ["C [bad]"]
    assert [line for line, _ in errors] == [1, 3, 7]


# --- a realistic bank -----------------------------------------------------------------------

BANK = r"""// Xiaob Academy: week-one bank for newcomer resellers.
// Written in the style of Moodle's GIFT examples.

$CATEGORY: $course$/top/Week one/Choosing products

::Intro::[markdown]
These questions check how you **choose** your first products.

::Q1 repeat buyers:: A product people buy again every month is a good first product. {TRUE
#Think of what your friends reorder.
#Yes: repeat buyers make the first ¥1,000 easier.}

::Q2 first product::Which product should a newcomer promote first? {
    =The one she uses herself every day #Right: she can talk about it honestly.
    ~The most expensive set #A high price makes the first sale harder.
    ~Whatever is trending today #Trends change before she has learnt the product.
####Start with what you know and use.
}

::Q3 trial sizes::Which of these help a first sale? {
    ~%50%A trial size #Buyers can test it cheaply.
    ~%50%A before/after photo from her own use
    ~%-100%Promising results nobody can check #Never promise what you cannot show.
}

::Q4 margin::With a ¥80 retail price and a ¥56 cost, what is her margin in percent? {#30:0.5
####(80 - 56) / 80 = 30%.}

::Q5 restock::She restocks when fewer than {#3..5} boxes are left.

::Q6 reorder days::After how many days should she check in with a buyer of a 30-day pack? {#
    =25:0 #Yes: a few days before it runs out.
    =%50%30:2 #A little late.
}

::Q7 platform::The app most of her buyers use is called {=WeChat =微信 =Weixin}.

::Q8 match::Match each product to the buyer it suits. {
    =Baby wipes -> young parents
    =Protein bars -> people at the gym
    =Hand cream -> office workers
}

::Q9 story::In a few sentences, explain why you picked your first product. {}

::Q10 price escape::Her price list says "\{brand\} cream \= ¥80 \~ ¥90". Is that a range? {T}
"""


def test_realistic_bank():
    questions, errors = parse_gift(BANK)
    assert errors == []
    by_title = {q.title: q for q in questions}
    assert len(by_title) == 11
    assert [q.kind for q in questions] == ["description", "truefalse", "single", "multiple", "numerical",
                                           "numerical", "numerical", "short", "matching", "essay", "truefalse"]
    assert {q.category for q in questions} == {"$course$/top/Week one/Choosing products"}

    intro = by_title["Intro"]
    assert intro.format == "markdown" and intro.text == "These questions check how you **choose** your first products."

    q1 = by_title["Q1 repeat buyers"]
    assert q1.truth is True and q1.line == 9
    assert q1.true_feedback == "Yes: repeat buyers make the first ¥1,000 easier."
    assert q1.false_feedback == "Think of what your friends reorder."

    q2 = by_title["Q2 first product"]
    assert [a.is_correct for a in q2.answers] == [True, False, False]
    assert q2.general_feedback == "Start with what you know and use."

    q3 = by_title["Q3 trial sizes"]
    assert sum(a.weight for a in q3.answers if a.weight > 0) == pytest.approx(1.0)
    assert q3.answers[1].text == "A before/after photo from her own use"

    q4 = by_title["Q4 margin"]
    assert (q4.answers[0].value, q4.answers[0].tolerance) == (30.0, 0.5)
    assert q4.general_feedback == "(80 - 56) / 80 = 30%."

    q5 = by_title["Q5 restock"]
    assert q5.text == "She restocks when fewer than _____ boxes are left."
    assert (q5.answers[0].low, q5.answers[0].high) == (3.0, 5.0)

    q6 = by_title["Q6 reorder days"]
    assert [(a.value, a.tolerance, a.weight) for a in q6.answers] == [(25.0, 0.0, None), (30.0, 2.0, 0.5)]

    q7 = by_title["Q7 platform"]
    assert q7.text == "The app most of her buyers use is called _____."
    assert [a.text for a in q7.answers] == ["WeChat", "微信", "Weixin"]

    assert [a.match for a in by_title["Q8 match"].answers] == ["young parents", "people at the gym", "office workers"]
    assert by_title["Q9 story"].kind == "essay"
    assert by_title["Q10 price escape"].text == 'Her price list says "{brand} cream = ¥80 ~ ¥90". Is that a range?'


def test_realistic_bank_with_windows_line_endings_is_the_same():
    assert parse_gift(BANK.replace("\n", "\r\n")) == parse_gift(BANK)
    assert parse_gift("\ufeff" + BANK) == parse_gift(BANK)


# --- properties ---------------------------------------------------------------------------

# Hypothesis keeps caches in ./.hypothesis unless told otherwise: keep the work tree clean.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "xiaob-hypothesis"))
hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

SPECIAL = "{}=~#:\\%->[]/$ \n\tTFabc1.05新手"


def escape(text: str) -> str:
    out = text.replace("\\", "\\\\")
    for ch in "~=#{}:":
        out = out.replace(ch, "\\" + ch)
    return out


@hypothesis.settings(max_examples=300, deadline=None, database=None)
@hypothesis.given(st.lists(st.sampled_from(list(SPECIAL) + ["\r\n", "//", "::", "####", "->"]), max_size=60).map("".join))
def test_never_raises_and_never_hits_an_internal_error(source):
    questions, errors = parse_gift(source)
    assert all(isinstance(q, GiftQuestion) for q in questions)
    line_count = source.replace("\r\n", "\n").replace("\r", "\n").count("\n") + 1
    for line, message in errors:
        assert 1 <= line <= line_count
        assert "could not read" not in message


@hypothesis.settings(max_examples=300, deadline=None, database=None)
@hypothesis.given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Co", "Cc", "Zl", "Zp")),
                          max_size=60))
def test_never_raises_on_any_unicode(source):
    parse_gift(source)


answer_text = (st.text(alphabet=st.sampled_from(list("ab 新手¥%->[]/\\n{}=~#:TF")), min_size=1, max_size=20)
               .map(str.strip)
               .filter(lambda s: s and not s.startswith("%") and "->" not in s))


@hypothesis.settings(max_examples=200, deadline=None, database=None)
@hypothesis.given(st.lists(answer_text, min_size=2, max_size=5), answer_text, answer_text)
def test_escaped_answers_round_trip(texts, feedback, general):
    body = " ".join(("=" if i == 0 else "~") + escape(t) for i, t in enumerate(texts))
    source = f"::t::Pick one {{{body} #{escape(feedback)} ####{escape(general)}}}"
    questions, errors = parse_gift(source)
    assert errors == []
    [q] = questions
    assert q.kind == "single"
    assert [a.text for a in q.answers] == texts
    assert q.answers[-1].feedback == feedback
    assert q.general_feedback == general
