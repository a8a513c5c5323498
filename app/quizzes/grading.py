"""Grading: pure functions from a question (answer key included) and her answer to points.

A question is the normalised dict the loader builds (see docs/quizzes.md); weights are
fractions (1.0 = full marks). Answers come from forms or JSON, so they are checked here too.
"""
import math
import re
import unicodedata
from dataclasses import dataclass, field
from app.core.errors import DomainError

CHOICE_TYPES = {"single", "truefalse", "multiple"}


@dataclass
class Graded:
    points: float | None            # None while a mentor has to score it (essays)
    max_points: float
    is_correct: bool | None = None  # full marks?
    feedback: list[dict] = field(default_factory=list)  # {zh, en} texts for what she chose

    @property
    def fraction(self) -> float:
        return (self.points or 0) / self.max_points if self.max_points else 0.0


def normalize_text(value: str) -> str:
    """全角 and 半角 the same (NFKC), case ignored, spaces collapsed."""
    value = unicodedata.normalize("NFKC", value).casefold()
    return re.sub(r"\s+", " ", value).strip()


def parse_number(value) -> float:
    """12.5, "12.50", "¥12.5", "12.5元", "１２.５", "1,200", "20%" -> a float."""
    if isinstance(value, bool):
        raise DomainError("not a number")
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = unicodedata.normalize("NFKC", str(value)).strip().replace(",", "").replace(" ", "")
        text = text.removeprefix("¥").removeprefix("￥").removesuffix("元").removesuffix("%")
        try:
            number = float(text)
        except ValueError:
            raise DomainError("not a number") from None
    if not math.isfinite(number):
        raise DomainError("not a number")
    return number


def _clamp(value: float) -> float:
    return max(0.0, min(1.0, value))


def _option_ids(question: dict) -> set[str]:
    return {option["id"] for option in question["options"]}


def check_answer(question: dict, answer):
    """Return the answer in canonical form, or raise DomainError. None means not answered."""
    kind = question["type"]
    if answer is None or answer == "" or answer == []:
        return None
    if kind in ("single", "truefalse"):
        if not isinstance(answer, str) or answer not in _option_ids(question):
            raise DomainError("no such option")
        return answer
    if kind == "multiple":
        chosen = [answer] if isinstance(answer, str) else answer
        if not isinstance(chosen, list) or not all(isinstance(a, str) for a in chosen):
            raise DomainError("expected a list of options")
        if not set(chosen) <= _option_ids(question):
            raise DomainError("no such option")
        return sorted(set(chosen))
    if kind in ("short", "essay"):
        if not isinstance(answer, str):
            raise DomainError("expected text")
        return answer[:20000]
    if kind == "numerical":
        if not isinstance(answer, (str, int, float)) or isinstance(answer, bool):
            raise DomainError("expected a number")
        return str(answer).strip()[:40]  # kept as typed; a non-number simply scores 0
    if kind == "matching":
        if not isinstance(answer, dict):
            raise DomainError("expected a left -> right mapping")
        lefts = {pair["id"] for pair in question["pairs"]}
        rights = {choice["id"] for choice in question["choices"]}
        if not set(answer) <= lefts or not all(v in rights for v in answer.values() if v):
            raise DomainError("no such pair")
        return {left: right for left, right in answer.items() if right}
    if kind == "description":
        raise DomainError("a description takes no answer")
    raise DomainError(f"unknown question type {kind}")


def grade(question: dict, answer) -> Graded:
    """Points for one answer (already checked). Never more than the question's points, never below 0."""
    kind, points = question["type"], float(question.get("points", 1))
    if kind == "description":
        return Graded(0.0, 0.0)
    if kind == "essay":
        return Graded(None, points)
    if answer is None:
        return Graded(0.0, points, False)

    fraction, feedback = 0.0, []
    if kind in ("single", "truefalse"):
        option = next(o for o in question["options"] if o["id"] == answer)
        fraction, feedback = _clamp(option["weight"]), [option.get("feedback")]
    elif kind == "multiple":
        chosen = [o for o in question["options"] if o["id"] in answer]
        fraction = _clamp(sum(o["weight"] for o in chosen))
        feedback = [o.get("feedback") for o in chosen]
    elif kind == "short":
        best = short_answer_match(question["answers"], answer)
        if best:
            fraction, feedback = _clamp(best["weight"]), [best.get("feedback")]
    elif kind == "numerical":
        try:
            value = parse_number(answer)
        except DomainError:
            value = None
        if value is not None:
            # A hair of slack so that 0.1 + 0.2 style float error never costs a mark.
            matches = [r for r in question["ranges"] if r["low"] - 1e-9 <= value <= r["high"] + 1e-9]
            best = max(matches, key=lambda r: r["weight"], default=None)
            if best:
                fraction, feedback = _clamp(best["weight"]), [best.get("feedback")]
    elif kind == "matching":
        right = sum(answer.get(pair["id"]) == pair["right_id"] for pair in question["pairs"])
        fraction = right / len(question["pairs"])
    else:
        raise DomainError(f"unknown question type {kind}")
    score = round(points * fraction, 4)
    return Graded(score, points, math.isclose(fraction, 1.0), [f for f in feedback if f])


def wildcard_matches(pattern: str, given: str) -> bool:
    """Moodle's short-answer test: `*` stands for any run of characters (a backslash before it keeps a
    star itself). The pattern is split at its stars first, so a full-width ＊ stays a plain character;
    each piece and her answer are then normalised alike (width, case, spaces)."""
    pieces = re.split(r"(?<!\\)\*+", pattern.strip())
    regexp = ".*".join(re.escape(_loose(piece.replace("\\*", "*"))) for piece in pieces)
    return re.fullmatch(regexp, normalize_text(given), re.DOTALL) is not None


def _loose(text: str) -> str:
    """normalize_text without the trim: a piece between two stars keeps its edges."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).casefold())


def short_answer_match(answers: list[dict], given: str) -> dict | None:
    """The accepted answer hers matches, as Moodle picks it: the first in the list's order. Answers from
    two language files form two lists (their "list" key); the better of the two first matches counts."""
    firsts: dict = {}
    for accepted in answers:
        key = accepted.get("list")
        if key not in firsts and wildcard_matches(accepted["text"], given):
            firsts[key] = accepted
    return max(firsts.values(), key=lambda a: a["weight"], default=None)


def correct_answer(question: dict):
    """What a full-marks answer looks like, for the result page."""
    kind = question["type"]
    if kind in ("single", "truefalse"):
        return max(question["options"], key=lambda o: o["weight"])["id"]
    if kind == "multiple":
        return [o["id"] for o in question["options"] if o["weight"] > 0]
    if kind == "short":
        return max(question["answers"], key=lambda a: a["weight"])["text"]
    if kind == "numerical":
        best = max(question["ranges"], key=lambda r: r["weight"])
        return best.get("display") or (f"{best['low']:g}" if best["low"] == best["high"] else f"{best['low']:g} – {best['high']:g}")
    if kind == "matching":
        return {pair["id"]: pair["right_id"] for pair in question["pairs"]}
    return None
