"""Read quizzes/ (YAML quizzes and GIFT banks) into normalised quiz specs.

Every user-visible text is rendered to sanitised HTML here, once, and stored with the quiz.
Option and matching ids are opaque hashes, so a page's form values never hint at the key.
"""
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from app.content.loader import SLUG, CourseSpec, Problem, Report, digest, relative, read_yaml_file
from app.content.render import render_inline, render_markdown
from app.content.yamlnode import LANGS, Node, both_languages

QUESTION_TYPES = {"single", "multiple", "truefalse", "short", "numerical", "matching", "essay", "description"}
SETTINGS = {"course", "lesson", "title", "description", "pass_mark", "max_attempts", "time_limit_minutes",
            "shuffle_questions", "shuffle_options", "draw", "hide_answers_until_passed", "feedback"}
TRUE_FALSE_TEXT = {True: {"zh": "对", "en": "True"}, False: {"zh": "错", "en": "False"}}
COMMON_QUESTION_FIELDS = {"id", "type", "points", "text", "explanation"}
TYPE_FIELDS = {
    "single": {"options"}, "multiple": {"options"}, "truefalse": {"answer", "feedback"},
    "short": {"answers"}, "numerical": {"answer", "tolerance", "range", "answers"},
    "matching": {"pairs"}, "essay": {"rubric"}, "description": set(),
}


@dataclass
class QuizSpec:
    slug: str
    course: str
    lesson: str | None
    title: dict
    description: dict
    feedback: dict
    settings: dict
    questions: list[dict]
    source_path: str
    content_hash: str = ""
    position: int = 0


def opaque_id(*parts) -> str:
    return "x" + hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:10]


class QuizReader:
    """Checks one content file's fields (a quiz's first); every problem goes to `report` and reading
    carries on."""

    def __init__(self, slug: str, report: Report):
        self.slug, self.report = slug, report
        self.ok = True

    @classmethod
    def for_file(cls, path: Path, root: Path, problems: list[Problem], suffix: str) -> "QuizReader":
        """A reader for a file named after its key (the name less `suffix`), which must be a slug."""
        key = path.name[: -len(suffix)]
        reader = cls(key, Report(problems, relative(path, root)))
        if not SLUG.match(key):
            reader.problem(1, f'file name "{key}": use lowercase letters, digits and dashes')
        return reader

    def problem(self, line: int, message: str) -> None:
        # A field both required and checked (e.g. text:) must not be reported missing twice.
        if Problem(self.report.path, line, message) not in self.report.problems:
            self.report(line, message)
        self.ok = False

    def read_mapping(self, path: Path, allowed: set[str], required: set[str], expected: str) -> Node | None:
        """The file's YAML when it is a mapping of fields (checked against `allowed` and `required`);
        None, with the problem reported, when it cannot be read or is something else."""
        node = read_yaml_file(path, self.report)
        if node is None:
            return None
        if not node.is_mapping:
            self.problem(node.line, f"expected {expected}")
            return None
        self.fields(node, allowed, required)
        return node

    def fields(self, node: Node, allowed: set[str], required: set[str], where: str = "") -> None:
        seen = set()
        for key, line in node.keys():
            if key in seen:
                self.problem(line, f"{where}{key}: given twice")
            seen.add(key)
            if key not in allowed:
                self.problem(line, f"{where}{key}: unknown field (expected: {', '.join(sorted(allowed))})")
        for key in sorted(required - seen):
            self.problem(node.line, f"{where}{key}: missing")

    def localized(self, node: Node, key: str, *, required: bool, inline: bool = False, where: str = ""):
        """A {zh, en} Markdown text, rendered; or a plain string when `allow_plain`."""
        sub = node.get(key)
        if sub is None:
            if required:
                self.problem(node.line, f"{where}{key}: missing")
            return None
        texts = both_languages(node, key, self.problem, where=where, numbers=True)
        return {lang: (render_inline if inline else render_markdown)(text) for lang, text in texts.items()} if texts else None

    def integer(self, node: Node, key: str, low: int, high: int, default=None, where: str = ""):
        sub = node.get(key)
        if sub is None:
            return default
        value = sub.value
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.problem(sub.line, f"{where}{key}: must be an integer from {low} to {high}")
            return default
        return value

    def number(self, node: Node, key: str, where: str = ""):
        sub = node.get(key)
        if sub is None:
            return None
        if isinstance(sub.value, bool) or not isinstance(sub.value, (int, float)):
            self.problem(sub.line, f"{where}{key}: must be a number")
            return None
        return float(sub.value)

    def boolean(self, node: Node, key: str, default: bool) -> bool:
        sub = node.get(key)
        if sub is None:
            return default
        if not isinstance(sub.value, bool):
            self.problem(sub.line, f"{key}: must be true or false")
            return default
        return sub.value

    def settings(self, node: Node) -> dict:
        return {
            "pass_mark": self.integer(node, "pass_mark", 0, 100, 70),
            "max_attempts": self.integer(node, "max_attempts", 0, 100, 0),
            "time_limit_minutes": self.integer(node, "time_limit_minutes", 1, 600),
            "draw": self.integer(node, "draw", 1, 1000),
            "shuffle_questions": self.boolean(node, "shuffle_questions", True),
            "shuffle_options": self.boolean(node, "shuffle_options", True),
            "hide_answers_until_passed": self.boolean(node, "hide_answers_until_passed", False),
        }

    # --- YAML questions ------------------------------------------------------------------

    def question(self, node: Node, index: int, ids: set[str]) -> dict | None:
        if not node.is_mapping:
            self.problem(node.line, f"questions[{index + 1}]: expected a question (id:, type:, text: ...)")
            return None
        qid = node.value.get("id")
        where = f"question {qid}: " if isinstance(qid, str) else f"questions[{index + 1}]: "
        kind = node.value.get("type")
        if kind not in QUESTION_TYPES:
            line = node.get("type").line if node.get("type") else node.line
            self.problem(line, f"{where}type: must be one of {', '.join(sorted(QUESTION_TYPES))}")
            return None
        self.fields(node, COMMON_QUESTION_FIELDS | TYPE_FIELDS[kind], {"id", "type", "text"}, where)
        if not isinstance(qid, str) or not SLUG.match(qid):
            if "id" in node.value:
                self.problem(node.get("id").line, f"{where}id: use lowercase letters, digits and dashes")
            return None
        if qid in ids:
            self.problem(node.get("id").line, f"{where}id: used by another question of this quiz")
        ids.add(qid)
        before = self.ok
        self.ok = True
        points = None if kind == "description" else self.number(node, "points", where)
        question = {"id": qid, "type": kind,
                    "points": 0.0 if kind == "description" else (1.0 if points is None else points),
                    "text": self.localized(node, "text", required=True, where=where),
                    "explanation": self.localized(node, "explanation", required=False, where=where)}
        if question["points"] <= 0 and kind != "description":
            self.problem(node.get("points").line, f"{where}points: must be above 0")
        getattr(self, f"_yaml_{kind}")(node, question, where)
        ok, self.ok = self.ok, before and self.ok
        return question if ok else None

    def _options(self, node: Node, where: str, weighted: bool) -> list[dict]:
        items = node.get("options")
        if items is None or not items.is_sequence or len(items.items()) < 2:
            self.problem(items.line if items else node.line, f"{where}options: give at least 2 options")
            return []
        options = []
        for i, item in enumerate(items.items()):
            here = f"{where}option {i + 1}: "
            if not item.is_mapping:
                self.problem(item.line, f"{here}expected text: and {'weight' if weighted else 'correct'}:")
                continue
            self.fields(item, {"text", "feedback", "weight" if weighted else "correct"}, {"text"}, here)
            if weighted:
                weight = self.number(item, "weight", here)
                if weight is not None and not -100 <= weight <= 100:
                    self.problem(item.get("weight").line, f"{here}weight: must be from -100 to 100 (percent)")
                weight = (weight or 0) / 100
            else:
                correct = item.value.get("correct", False)
                if not isinstance(correct, bool):
                    self.problem(item.get("correct").line, f"{here}correct: must be true or false")
                weight = 1.0 if correct is True else 0.0
            text = self.localized(item, "text", required=True, inline=True, where=here)
            options.append({"id": opaque_id(self.slug, node.value["id"], i, text and text["zh"]),
                            "text": text, "weight": weight,
                            "feedback": self.localized(item, "feedback", required=False, where=here)})
        return options

    def _yaml_single(self, node, question, where):
        question["options"] = self._options(node, where, weighted=False)
        if question["options"] and sum(o["weight"] == 1.0 for o in question["options"]) != 1:
            self.problem(node.get("options").line, f"{where}options: exactly one must be correct: true")

    def _yaml_multiple(self, node, question, where):
        question["options"] = self._options(node, where, weighted=True)
        positive = sum(o["weight"] for o in question["options"] if o["weight"] > 0)
        if question["options"] and abs(positive - 1) > 0.011:
            self.problem(node.get("options").line,
                         f"{where}options: the positive weights add up to {positive * 100:g}, not 100")

    def _yaml_truefalse(self, node, question, where):
        answer = node.value.get("answer")
        if not isinstance(answer, bool):
            self.problem(node.get("answer").line if node.get("answer") else node.line,
                         f"{where}answer: must be true or false")
            return
        feedback = node.get("feedback")
        if feedback is not None:
            self.fields(feedback, {"true", "false"}, set(), f"{where}feedback.")
        question["options"] = [
            {"id": str(value).lower(), "text": TRUE_FALSE_TEXT[value], "weight": 1.0 if value == answer else 0.0,
             "feedback": self.localized(feedback, str(value).lower(), required=False, where=where)
             if feedback is not None else None}
            for value in (True, False)]

    def _yaml_short(self, node, question, where):
        items = node.get("answers")
        answers = []
        for item in items.items() if items is not None and items.is_sequence else []:
            if isinstance(item.value, (str, int, float)) and not isinstance(item.value, bool):
                answers.append({"text": str(item.value), "weight": 1.0, "feedback": None})
            elif item.is_mapping and isinstance(item.value.get("text"), (str, int, float)):
                self.fields(item, {"text", "weight", "feedback"}, {"text"}, where)
                weight = self.number(item, "weight", where)
                answers.append({"text": str(item.value["text"]), "weight": 1.0 if weight is None else weight / 100,
                                "feedback": self.localized(item, "feedback", required=False, where=where)})
            else:
                self.problem(item.line, f"{where}answers: each is a text, or text: with weight:/feedback:")
        if not answers:
            self.problem(items.line if items else node.line, f"{where}answers: give at least one accepted answer")
        elif max(a["weight"] for a in answers) < 1:
            self.problem(items.line, f"{where}answers: one answer must be worth full marks")
        question["answers"] = answers

    def _range(self, node: Node, where: str) -> dict | None:
        if node.get("range") is not None:
            low_high = node.value["range"]
            if (not isinstance(low_high, list) or len(low_high) != 2
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in low_high)
                    or low_high[0] > low_high[1]):
                self.problem(node.get("range").line, f"{where}range: must be [low, high] numbers, low first")
                return None
            low, high = map(float, low_high)
            return {"low": low, "high": high, "display": f"{low:g} – {high:g}"}
        answer = self.number(node, "answer", where)
        if answer is None:
            self.problem(node.line, f"{where}answer: give answer: (with tolerance:) or range: [low, high]")
            return None
        tolerance = abs(self.number(node, "tolerance", where) or 0)
        return {"low": answer - tolerance, "high": answer + tolerance, "display": f"{answer:g}"}

    def _yaml_numerical(self, node, question, where):
        items = node.get("answers")
        if items is None:
            found = self._range(node, where)
            question["ranges"] = [{**found, "weight": 1.0, "feedback": None}] if found else []
            return
        ranges = []
        for item in items.items():
            self.fields(item, {"answer", "tolerance", "range", "weight", "feedback"}, set(), where)
            found = self._range(item, where)
            weight = self.number(item, "weight", where)
            if found:
                ranges.append({**found, "weight": 1.0 if weight is None else weight / 100,
                               "feedback": self.localized(item, "feedback", required=False, where=where)})
        if not ranges or max(r["weight"] for r in ranges) < 1:
            self.problem(items.line, f"{where}answers: one answer must be worth full marks")
        question["ranges"] = ranges

    def _yaml_matching(self, node, question, where):
        items = node.get("pairs")
        if items is None or len(items.items()) < 2:
            self.problem(items.line if items else node.line, f"{where}pairs: give at least 2 pairs")
            return
        lefts, rights = [], []
        for i, item in enumerate(items.items()):
            self.fields(item, {"left", "right"}, {"left", "right"}, f"{where}pair {i + 1}: ")
            lefts.append(self.localized(item, "left", required=True, inline=True, where=where))
            rights.append(self.localized(item, "right", required=True, inline=True, where=where))
        if None not in lefts and None not in rights:
            self._matching(question, list(zip(lefts, rights)))

    def _matching(self, question: dict, pairs: list[tuple[dict, dict]]) -> None:
        """Pairs to match; a pair with an empty left side (GIFT's "= -> answer") only adds a wrong choice."""
        choices: dict[str, dict] = {}
        question["pairs"] = []
        for i, (left, right) in enumerate(pairs):
            right_id = opaque_id(self.slug, question["id"], "right", right["zh"])
            choices.setdefault(right_id, {"id": right_id, "text": right})
            if not left["zh"].strip():
                continue
            question["pairs"].append({"id": opaque_id(self.slug, question["id"], "left", i), "left": left,
                                      "right_id": right_id})
        question["choices"] = list(choices.values())

    def _yaml_essay(self, node, question, where):
        items = node.get("rubric")
        rubric = []
        for i, item in enumerate(items.items() if items is not None else []):
            self.fields(item, {"criterion", "points"}, {"criterion", "points"}, f"{where}rubric {i + 1}: ")
            points = self.number(item, "points", where)
            rubric.append({"criterion": self.localized(item, "criterion", required=True, inline=True, where=where),
                           "points": points or 0})
        if not rubric:
            rubric = [{"criterion": {"zh": "整体质量", "en": "Overall quality"}, "points": question["points"]}]
        elif abs(sum(r["points"] for r in rubric) - question["points"]) > 1e-6:
            self.problem(items.line, f"{where}rubric: its points add up to {sum(r['points'] for r in rubric):g}, "
                                     f"but the question is worth {question['points']:g} (points:)")
        question["rubric"] = rubric

    def _yaml_description(self, node, question, where):
        pass


# --- the files ----------------------------------------------------------------------------

def lesson_links(reader: QuizReader, node: Node, courses: dict[str, CourseSpec]) -> tuple[str | None, str | None]:
    course_slug, lesson_slug = node.value.get("course"), node.value.get("lesson")
    course = courses.get(course_slug) if isinstance(course_slug, str) else None
    if "course" in node.value and course is None:
        reader.problem(node.get("course").line, f"course: no course {course_slug!r} in courses/")
    if lesson_slug is not None and course is not None and lesson_slug not in {l.slug for l in course.lessons}:
        reader.problem(node.get("lesson").line, f"lesson: no lesson {lesson_slug!r} in course {course_slug}")
    return course_slug if course else None, lesson_slug


def check_draw(reader: QuizReader, node: Node, settings: dict, questions: list[dict]) -> None:
    graded = sum(q["type"] != "description" for q in questions)
    if settings["draw"] and settings["draw"] > graded:
        reader.problem(node.get("draw").line, f"draw: {settings['draw']} but the quiz has {graded} questions")


def load_yaml_quiz(path: Path, root: Path, courses: dict, problems: list[Problem]) -> QuizSpec | None:
    reader = QuizReader.for_file(path, root, problems, ".yml")
    slug, report = reader.slug, reader.report
    node = reader.read_mapping(path, SETTINGS | {"questions"}, {"course", "title", "questions"},
                               "the quiz's fields (course:, title:, questions: ...)")
    if node is None:
        return None
    course, lesson = lesson_links(reader, node, courses)
    settings = reader.settings(node)
    items = node.get("questions")
    questions, ids = [], set()
    if items is not None and (not items.is_sequence or not items.items()):
        reader.problem(items.line, "questions: give a list of questions")
    for i, item in enumerate(items.items() if items is not None else []):
        question = reader.question(item, i, ids)
        if question:
            questions.append(question)
    if len(questions) == len(items.items() if items is not None else []):  # broken ones would not count
        check_draw(reader, node, settings, questions)
    spec = QuizSpec(slug=slug, course=course, lesson=lesson, settings=settings, questions=questions,
                    title=reader.localized(node, "title", required=True, inline=True),
                    description=reader.localized(node, "description", required=False) or {"zh": "", "en": ""},
                    feedback=reader.localized(node, "feedback", required=False) or {"zh": "", "en": ""},
                    source_path=report.path)
    if not reader.ok:
        return None
    spec.content_hash = digest(json.loads(json.dumps(spec.__dict__, default=str)))
    return spec
