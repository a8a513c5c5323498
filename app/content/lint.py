"""Style checks over the content, run by `academy content check` (not by sync: they judge the
writing, not whether it loads).

- Chinese text uses full-width punctuation: a half-width , ; : ! ? ( ) or a sentence-ending .
  touching a Chinese character is reported with its file and line.
- Quizzes teach, not trick: in a quiz's single-choice questions the right option may be the
  strictly longest one in at most a third of them (checked in each language), or guessing
  "the longest" would pass.
"""
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from app.content.loader import Problem
from app.content.quizzes import LANGS, QuizSpec

# Ideographs, CJK punctuation (。、《》「」…) and full-width forms (，：（）…).
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff01-\uff60]")
LATIN = re.compile(r"[A-Za-z]")
HALF_WIDTH = {",": "，", ";": "；", ":": "：", "!": "！", "?": "？", "(": "（", ")": "）", ".": "。"}
# Markdown marks that may sit between a Chinese character and its punctuation: **加粗**,
SKIP = "*_`~"
GIFT_TITLE = re.compile(r"^\s*::.*?::")
MAX_LONGEST_SHARE = Fraction(1, 3)
TEXT_SUFFIXES = (".md", ".yml", ".gift")


@dataclass(frozen=True)
class HalfWidthMark:
    path: str
    line: int
    column: int      # 0-based, in the line
    mark: str

    @property
    def full_width(self) -> str:
        return HALF_WIDTH[self.mark]


def _neighbour(line: str, index: int, step: int) -> str:
    index += step
    while 0 <= index < len(line) and line[index] in SKIP:
        index += step
    return line[index] if 0 <= index < len(line) else ""


def is_chinese_line(line: str) -> bool:
    """A line written in Chinese: more Chinese characters than Latin letters (an English line
    quoting a few Chinese words is English; a Chinese template inside an English lesson is Chinese)."""
    return len(CJK.findall(line)) > len(LATIN.findall(line))


def half_width_marks_in_line(line: str) -> list[tuple[int, str]]:
    """(column, mark) of each half-width mark touching a Chinese character in a Chinese line."""
    if not is_chinese_line(line):
        return []
    if GIFT_TITLE.match(line):  # ::title:: of a GIFT question
        line = " " * GIFT_TITLE.match(line).end() + line[GIFT_TITLE.match(line).end():]
    found, opened = [], []   # opened: for each "(" still open, whether it was reported
    for index, char in enumerate(line):
        if char == "（":
            opened.append(True)
        if char not in HALF_WIDTH or (index and line[index - 1] == "\\"):
            continue
        before, after = _neighbour(line, index, -1), _neighbour(line, index, 1)
        if char == ")" and opened and opened.pop():  # closing a full-width or reported "(": （50%)
            found.append((index, char))
            continue
        if char == ".":
            # Only a full stop after a Chinese character; not a decimal (29.9) or a numbered list (1.).
            if after.isdigit() or not CJK.match(before or " "):
                continue
        elif char == ":" and line[:index].strip() in LANGS:  # the YAML key of `zh: ...`
            continue
        touches = bool(CJK.match(before or " ") or CJK.match(after or " "))
        if char == "(":
            opened.append(touches)
        if touches:
            found.append((index, char))
    return found


def half_width_marks(root: Path) -> list[HalfWidthMark]:
    """Every half-width mark in Chinese text under courses/, quizzes/ and milestones/."""
    marks = []
    for folder in ("courses", "quizzes", "milestones"):
        base = root / folder
        if not base.is_dir():
            continue
        for path in sorted(p for p in base.rglob("*") if p.is_file() and p.name.endswith(TEXT_SUFFIXES)):
            try:
                lines = path.read_text(encoding="utf-8").split("\n")
            except (OSError, UnicodeDecodeError):
                continue  # the loader reports unreadable files
            rel = path.relative_to(root).as_posix()
            for number, line in enumerate(lines, 1):
                if line.lstrip().startswith({".yml": "#", ".gift": "//"}.get(path.suffix, "\0")):
                    continue  # a comment: for the authors, not shown
                marks += [HalfWidthMark(rel, number, column, mark) for column, mark in half_width_marks_in_line(line)]
    return marks


def _plain(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html or "").strip()


@dataclass(frozen=True)
class LongestShare:
    quiz: str
    source_path: str
    single: int                    # single-choice questions
    longest: dict[str, int]        # language -> how many have the right option strictly longest

    def share(self, lang: str) -> Fraction:
        return Fraction(self.longest[lang], self.single) if self.single else Fraction(0)

    @property
    def too_high(self) -> bool:
        return any(self.share(lang) > MAX_LONGEST_SHARE for lang in LANGS)


def right_is_strictly_longest(question: dict, lang: str) -> bool:
    lengths = [(len(_plain(o["text"][lang])), o["weight"] == 1.0) for o in question["options"]]
    right = next(length for length, correct in lengths if correct)
    return all(right > length for length, correct in lengths if not correct)


def longest_option_shares(quizzes: list[QuizSpec]) -> list[LongestShare]:
    shares = []
    for quiz in quizzes:
        single = [q for q in quiz.questions if q["type"] == "single" and q.get("options")]
        shares.append(LongestShare(quiz.slug, quiz.source_path, len(single),
                                   {lang: sum(right_is_strictly_longest(q, lang) for q in single) for lang in LANGS}))
    return shares


def lint(root: Path, quizzes: list[QuizSpec]) -> tuple[list[Problem], list[LongestShare]]:
    """The style problems (as path:line: message) and each quiz's longest-option share."""
    problems = [Problem(m.path, m.line, f"half-width {m.mark!r} in Chinese text: write {m.full_width!r}")
                for m in half_width_marks(root)]
    shares = longest_option_shares(quizzes)
    for share in shares:
        if share.too_high:
            worst = max(LANGS, key=share.share)
            problems.append(Problem(share.source_path, 1, (
                f"the right option is the strictly longest in {share.longest[worst]} of {share.single} "
                f"single-choice questions ({worst}): at most a third, or guessing the longest passes")))
    return problems, shares
