"""A reader for Moodle's GIFT question format.

`parse_gift(text)` returns the questions it could read and a `(line, message)` for each one it
could not; it never raises on bad input. Pure Python: no Flask, no database.

How the text is read:

* The file is cut into questions at blank lines. Lines starting with `//` are comments and are
  dropped wherever they are (they neither end a question nor belong to one).
* `$CATEGORY: path` sets the category of the questions that follow.
* A question is `::title::` (optional), a format such as `[markdown]` (optional), its text and
  at most one answer block `{...}`. Text after the block makes it a missing-word question.
* Escapes (`\\~ \\= \\# \\{ \\} \\:`, `\\\\` and `\\n`) are swapped for private placeholders before
  anything else, so an escaped character never has its special meaning; they are turned back
  into plain characters only when a piece of text is handed out.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

__all__ = ["FORMATS", "GiftAnswer", "GiftQuestion", "parse_gift"]

FORMATS = ("moodle", "markdown", "html", "plain")
BLANK = "_____"

# Escaped character -> placeholder (Unicode private use area), and back.
_PLACEHOLDER = {"~": "\ue000", "=": "\ue001", "#": "\ue002", "{": "\ue003", "}": "\ue004", ":": "\ue005",
                "\\": "\ue006", "n": "\ue007"}
_RESOLVE = str.maketrans({v: ("\n" if k == "n" else k) for k, v in _PLACEHOLDER.items()})

_FORMAT_PREFIX = re.compile(r"\[([A-Za-z]+)\](?!\()")
_WEIGHT = re.compile(r"%\s*([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))\s*%")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_TRUE_FALSE = {"T": True, "TRUE": True, "F": False, "FALSE": False}
# No space is put between the blank and a closing punctuation mark that follows it.
_CLOSING = set(".,;:!?)]}…。，、；：！？）】》」』”’")


@dataclass
class GiftAnswer:
    text: str = ""                 # option text, accepted short answer, or matching left side
    is_correct: bool = False       # True for an "=" answer
    weight: float | None = None    # fraction from %n% (%50% -> 0.5); None when no %n% given
    feedback: str | None = None    # from "#feedback"
    value: float | None = None     # numerical: the value ...
    tolerance: float = 0.0         # ... and its tolerance ({#x:tol})
    low: float | None = None       # numerical range {#a..b}
    high: float | None = None
    match: str | None = None       # matching: the right side of "=left -> right"


@dataclass
class GiftQuestion:
    line: int                      # 1-based line where the question starts in the file
    kind: str                      # single, multiple, truefalse, short, numerical, matching, essay, description
    text: str                      # question text; missing-word questions get a "_____" where the block was
    format: str = "moodle"         # moodle, markdown, html or plain
    title: str | None = None       # from ::title::
    category: str | None = None    # the current $CATEGORY: when the question was read
    answers: list[GiftAnswer] = field(default_factory=list)
    truth: bool | None = None      # truefalse answer
    true_feedback: str | None = None   # truefalse: shown when she answers TRUE
    false_feedback: str | None = None  # truefalse: shown when she answers FALSE
    general_feedback: str | None = None  # from "####..."


class _Problem(Exception):
    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line, self.message = line, message


class _Src:
    """A piece of a question (escapes already replaced by placeholders) that knows the file
    line of each of its characters, so that problems can be reported where they are."""

    __slots__ = ("s", "lines", "base")

    def __init__(self, s: str, lines: list[int], base: int):
        self.s, self.lines, self.base = s, lines, base

    def __getitem__(self, part: slice) -> _Src:
        start = part.start or 0
        base = self.lines[start] if start < len(self.lines) else (self.lines[-1] if self.lines else self.base)
        return _Src(self.s[part], self.lines[part], base)

    def line(self, index: int = 0) -> int:
        return self.lines[index] if 0 <= index < len(self.lines) else self.base

    def find(self, sub: str, start: int = 0, end: int | None = None) -> int:
        return self.s.find(sub, start, len(self.s) if end is None else end)

    def strip(self) -> _Src:
        start = len(self.s) - len(self.s.lstrip())
        end = len(self.s.rstrip())
        return self[start:max(start, end)]

    def lstrip(self) -> _Src:
        return self[len(self.s) - len(self.s.lstrip()):]

    def text(self) -> str:
        """The plain text: placeholders back to the characters they stand for, stripped."""
        return self.s.strip().translate(_RESOLVE).strip(" \t")


def _escape_line(raw: str) -> str:
    out, i = [], 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw) and raw[i + 1] in _PLACEHOLDER:
            out.append(_PLACEHOLDER[raw[i + 1]])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _source(lines: list[tuple[int, str]]) -> _Src:
    chars: list[str] = []
    numbers: list[int] = []
    for k, (number, raw) in enumerate(lines):
        if k:
            chars.append("\n")
            numbers.append(number)
        escaped = _escape_line(raw)
        chars.append(escaped)
        numbers.extend([number] * len(escaped))
    return _Src("".join(chars), numbers, lines[0][0] if lines else 1)


def _optional(piece: _Src | None) -> str | None:
    if piece is None:
        return None
    return piece.text() or None


# --- answers ------------------------------------------------------------------------------

@dataclass
class _Part:
    marker: str | None             # "=", "~" or None for a bare answer
    weight: float | None
    body: _Src                     # the answer itself, without weight and feedback
    feedback: _Src | None
    line: int


def _split_answers(block: _Src, allowed: str = "=~") -> list[_Part]:
    """Cut an answer block at its unescaped = and ~ markers."""
    marks = [i for i, ch in enumerate(block.s) if ch in "=~"]
    if not marks:
        return [_part(None, block)]
    before = block[: marks[0]]
    if before.s.strip():
        start = before.strip()
        raise _Problem(start.line(), f'"{start.text()}" comes before the first answer: start each answer with '
                                     f"{' or '.join(allowed)} (escape a literal = or ~ as \\= or \\~)")
    parts = []
    for k, at in enumerate(marks):
        end = marks[k + 1] if k + 1 < len(marks) else len(block.s)
        parts.append(_part(block.s[at], block[at + 1:end], block.line(at)))
    return parts


def _part(marker: str | None, piece: _Src, line: int | None = None) -> _Part:
    piece = piece.lstrip()
    line = piece.line() if line is None else line
    weight = None
    if piece.s.startswith("%"):
        found = _WEIGHT.match(piece.s)
        if not found:
            raise _Problem(piece.line(), "a weight looks like %50% or %-100% (percent, -100 to 100)")
        percent = float(found.group(1))
        if not -100 <= percent <= 100:
            raise _Problem(piece.line(), f"weight {percent:g}% is out of range: use -100 to 100")
        weight = percent / 100
        piece = piece[found.end():]
    hash_at = piece.find("#")
    feedback = None
    if hash_at >= 0:
        piece, feedback = piece[:hash_at], piece[hash_at + 1:]
    return _Part(marker, weight, piece, feedback, line)


def _number(piece: _Src, what: str) -> float:
    text = piece.text()
    if not _NUMBER.fullmatch(text):
        shown = f'"{text}"' if text else "nothing"
        raise _Problem(piece.strip().line(), f"numerical {what}: {shown} is not a number")
    value = float(text)
    if not math.isfinite(value):
        raise _Problem(piece.strip().line(), f"numerical {what}: {text} is too big")
    return value


def _numerical(block: _Src, line: int) -> list[GiftAnswer]:
    block = block.strip()
    if not block.s:
        raise _Problem(line, "numerical answer missing: write {#value}, {#value:tolerance} or {#low..high}")
    if "~" in block.s:
        raise _Problem(block.line(block.find("~")),
                       "numerical answers start with = (partial credit: =%50%value:tolerance)")
    answers = []
    for part in _split_answers(block, "="):
        spec = part.body.strip()
        answer = GiftAnswer(is_correct=True, weight=part.weight, feedback=_optional(part.feedback))
        if ".." in spec.s:
            at = spec.find("..")
            answer.low = _number(spec[:at], "range start")
            answer.high = _number(spec[at + 2:], "range end")
            if answer.low > answer.high:
                raise _Problem(spec.line(), f"numerical range {answer.low:g}..{answer.high:g}: "
                                            "the first number must not be bigger than the second")
        elif ":" in spec.s:
            at = spec.find(":")
            answer.value = _number(spec[:at], "answer")
            answer.tolerance = _number(spec[at + 1:], "tolerance")
            if answer.tolerance < 0:
                raise _Problem(spec.line(at), f"numerical tolerance {answer.tolerance:g} must not be negative")
        else:
            answer.value = _number(spec, "answer")
        answer.text = spec.text()
        answers.append(answer)
    return answers


def _matching(parts: list[_Part], line: int) -> list[GiftAnswer]:
    answers = []
    for part in parts:
        if part.marker != "=":
            raise _Problem(part.line, "matching: every pair starts with = (=left -> right)")
        arrow = part.body.find("->")
        if arrow < 0:
            raise _Problem(part.line, f'matching pair "{part.body.text()}" has no "->": write =left -> right')
        left, right = part.body[:arrow].text(), part.body[arrow + 2:].text()
        if not right:
            raise _Problem(part.line, "matching pair with an empty right side: write =left -> right")
        # An empty left side (= -> answer) is, as in Moodle, one more wrong answer to choose from.
        answers.append(GiftAnswer(text=left, match=right, is_correct=bool(left), weight=part.weight,
                                  feedback=_optional(part.feedback)))
    real = sum(bool(a.text) for a in answers)
    if real < 2:
        raise _Problem(line, f"matching needs at least 2 pairs (=left -> right), found {real}")
    return answers


def _choices(parts: list[_Part]) -> list[GiftAnswer]:
    answers = []
    for part in parts:
        text = part.body.text()
        if not text:
            raise _Problem(part.line, "empty answer")
        answers.append(GiftAnswer(text=text, is_correct=part.marker != "~", weight=part.weight,
                                  feedback=_optional(part.feedback)))
    return answers


# --- questions ----------------------------------------------------------------------------

def _with_blank(before: str, after: str) -> str:
    text = f"{before} {BLANK}" if before else BLANK
    if after:
        text += after if after[0] in _CLOSING else f" {after}"
    return text


def _read_question(src: _Src, line: int, category: str | None) -> GiftQuestion:
    question = GiftQuestion(line=line, kind="description", text="", category=category)
    src = src.strip()

    if src.s.startswith("::"):
        end = src.find("::", 2)
        if end < 0:
            raise _Problem(src.line(), "title not closed: write ::title:: (escape a literal colon as \\:)")
        question.title = src[2:end].text() or None
        src = src[end + 2:].lstrip()

    found = _FORMAT_PREFIX.match(src.s)
    if found:
        name = found.group(1).lower()
        if name not in FORMATS:
            raise _Problem(src.line(), f"unknown format [{found.group(1)}]: use [moodle], [markdown], [html] or "
                                       "[plain] (to start the text with brackets, put [moodle] before them)")
        question.format = name
        src = src[found.end():].lstrip()

    opening, closing = src.find("{"), src.find("}")
    if closing >= 0 and (opening < 0 or closing < opening):
        raise _Problem(src.line(closing), "'}' without '{' (escape a literal brace as \\})")
    if opening < 0:
        question.text = src.text()
        if not question.text:
            raise _Problem(line, "empty question text")
        return question

    closing = src.find("}", opening + 1)
    nested = src.find("{", opening + 1, closing if closing >= 0 else None)
    if nested >= 0:
        raise _Problem(src.line(opening), f"'{{' not closed before the next '{{' (line {src.line(nested)}): "
                                          "close the answer block with '}', or escape a literal brace as \\{")
    if closing < 0:
        raise _Problem(src.line(opening), "unclosed '{': the answer block needs a closing '}'")
    after = src[closing + 1:]
    if (again := after.find("{")) >= 0:
        raise _Problem(after.line(again), "a second answer block: a question has one {...} "
                                          "(escape a literal brace as \\{)")
    if (stray := after.find("}")) >= 0:
        raise _Problem(after.line(stray), "'}' without '{' (escape a literal brace as \\})")

    block = src[opening + 1:closing]
    general = None
    if (at := block.find("####")) >= 0:
        block, general = block[:at], block[at + 4:]
    if (at := after.find("####")) >= 0:
        if general is not None:
            raise _Problem(after.line(at), "two general feedbacks (####): keep one")
        after, general = after[:at], after[at + 4:]
    question.general_feedback = _optional(general)

    before_text, after_text = src[:opening].text(), after.text()
    question.text = _with_blank(before_text, after_text) if after_text else before_text
    if not before_text and not after_text:
        raise _Problem(line, "empty question text")

    _read_answers(question, block.strip(), src.line(opening))
    return question


def _read_answers(question: GiftQuestion, block: _Src, line: int) -> None:
    if not block.s:
        question.kind = "essay"
        return
    if block.s.startswith("#"):
        question.kind = "numerical"
        question.answers = _numerical(block[1:], line)
        return

    hash_at = block.find("#")
    head = block[:hash_at] if hash_at >= 0 else block
    if (truth := _TRUE_FALSE.get(head.text().upper())) is not None:
        question.kind, question.truth = "truefalse", truth
        wrong = right = None  # {TRUE#wrong#right}: the first is shown for a wrong answer
        if hash_at >= 0:
            rest = block[hash_at + 1:]
            second = rest.find("#")
            wrong, right = (rest, None) if second < 0 else (rest[:second], rest[second + 1:])
        wrong, right = _optional(wrong), _optional(right)
        if truth:
            question.true_feedback, question.false_feedback = right, wrong
        else:
            question.true_feedback, question.false_feedback = wrong, right
        return

    parts = _split_answers(block)
    if any(part.marker == "=" and "->" in part.body.s for part in parts):
        question.kind = "matching"
        question.answers = _matching(parts, line)
        return

    question.answers = _choices(parts)
    markers = {part.marker for part in parts}
    if "~" not in markers:
        question.kind = "short"
    elif "=" in markers:
        question.kind = "single"
    elif any((answer.weight or 0) > 0 for answer in question.answers):
        question.kind = "multiple"
        positive = sum(answer.weight for answer in question.answers if answer.weight and answer.weight > 0)
        if abs(positive - 1) > 0.011:
            raise _Problem(line, f"multiple answers: the positive weights add up to {positive * 100:g}%, not 100%")
    else:
        raise _Problem(line, "no correct answer: mark it with = (or, for several right answers, "
                             "give the ~ answers positive weights such as ~%50%)")


# --- the file -----------------------------------------------------------------------------

def _blocks(text: str) -> list[list[tuple[int, str]]]:
    """Non-comment lines, grouped into blank-line separated blocks, with their line numbers."""
    blocks: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        stripped = raw.strip()
        if not stripped:
            if current:
                blocks.append(current)
                current = []
        elif not stripped.startswith("//"):
            current.append((number, raw))
    if current:
        blocks.append(current)
    return blocks


def parse_gift(text: str) -> tuple[list[GiftQuestion], list[tuple[int, str]]]:
    """All the good questions, and (line, message) for each broken one; never raises on bad input."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    questions: list[GiftQuestion] = []
    errors: list[tuple[int, str]] = []
    category: str | None = None
    for block in _blocks(text):
        while block and block[0][1].strip().startswith("$CATEGORY:"):
            category = block[0][1].strip()[len("$CATEGORY:"):].strip() or None
            block = block[1:]
        if not block:
            continue
        line = block[0][0]
        try:
            questions.append(_read_question(_source(block), line, category))
        except _Problem as problem:
            errors.append((problem.line, problem.message))
        except Exception as exc:  # noqa: BLE001 - a bad question must never stop the whole file
            errors.append((line, f"could not read this question ({type(exc).__name__})"))
    return questions, errors
