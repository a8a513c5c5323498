"""Read milestones/camp.yml: when each day's task opens, the make-up (补卡) rule, and the tasks, zh + en."""
import re
from dataclasses import dataclass, field
from pathlib import Path

from app.content.loader import SLUG, CourseSpec, Problem, Report, digest, relative
from app.content.quizzes import QuizReader
from app.content.render import render_markdown
from app.content.yamlnode import Node, both_languages

TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
PROOFS = ("text", "photo", "number")
FIELDS = {"unlock_at", "makeup", "tasks"}
MAKEUP_FIELDS = {"per_week", "within_hours"}
TASK_FIELDS = {"key", "day", "title", "body", "lesson", "proof", "number_label"}
TASK_REQUIRED = {"key", "day", "title", "body", "lesson", "proof"}
# The columns' sizes (app/camp/models.py): longer text would not fit.
MAX_TITLE, MAX_LABEL, MAX_KEY = 200, 120, 80


@dataclass
class CampTaskSpec:
    key: str
    day: int
    title: dict            # {"zh", "en"}: plain text
    body_html: dict        # {"zh", "en"}: rendered Markdown
    lesson: str            # course/lesson
    proof: list[str]       # what her 打卡 must include
    number_label: dict | None
    source_path: str
    content_hash: str = ""
    line: int = 1          # of the task in camp.yml, for problems found later (prerequisites.py)


@dataclass
class CampSpec:
    unlock_at: str                 # "HH:MM", her local time
    makeup_per_week: int
    makeup_within_hours: int
    source_path: str
    tasks: list[CampTaskSpec] = field(default_factory=list)

    @property
    def settings(self) -> dict:
        """What is stored in Programme.camp (the tasks go to their own table)."""
        return {"unlock_at": self.unlock_at,
                "makeup": {"per_week": self.makeup_per_week, "within_hours": self.makeup_within_hours}}


def load_camp(path: Path, root: Path, courses: list[CourseSpec], problems: list[Problem]) -> CampSpec | None:
    """The camp plan, or None after reporting every problem found as path:line."""
    report = Report(problems, relative(path, root))
    reader = QuizReader("camp", report)
    node = reader.read_mapping(path, FIELDS, FIELDS, "unlock_at:, makeup: and tasks:")
    if node is None:
        return None
    unlock_at = _clock(reader, node, "unlock_at")
    per_week, within_hours = _makeup(reader, node.get("makeup"))
    lessons = {f"{c.slug}/{lesson.slug}" for c in courses for lesson in c.lessons}
    tasks = _tasks(reader, node.get("tasks"), lessons, report.path)
    if not reader.ok:
        return None
    return CampSpec(unlock_at=unlock_at, makeup_per_week=per_week, makeup_within_hours=within_hours,
                    source_path=report.path, tasks=sorted(tasks, key=lambda t: t.day))


def _clock(reader: QuizReader, node: Node, key: str) -> str | None:
    sub = node.get(key)
    if sub is not None and not (isinstance(sub.value, str) and TIME.match(sub.value)):
        # Unquoted, YAML reads 20:00 as a number (sexagesimal): hence the quotes.
        reader.problem(sub.line, f'{key}: a time as "HH:MM" in quotes, e.g. "08:00"')
        return None
    return sub.value if sub is not None else None


def _makeup(reader: QuizReader, node: Node | None) -> tuple[int | None, int | None]:
    if node is None:
        return None, None
    if not node.is_mapping:
        reader.problem(node.line, "makeup: expected per_week: and within_hours: under it")
        return None, None
    reader.fields(node, MAKEUP_FIELDS, MAKEUP_FIELDS, "makeup.")
    return (reader.integer(node, "per_week", 0, 7, where="makeup."),
            reader.integer(node, "within_hours", 0, 24 * 30, where="makeup."))


def _tasks(reader: QuizReader, node: Node | None, lessons: set[str], source_path: str) -> list[CampTaskSpec]:
    if node is None:
        return []
    if not node.is_sequence or not node.items():
        reader.problem(node.line, "tasks: expected a list of tasks (- key: ..., day: ...)")
        return []
    tasks, keys, days = [], {}, {}
    for index, item in enumerate(node.items(), 1):
        task = _task(reader, item, index, lessons, source_path)
        if task is None:
            continue
        if task.key in keys:
            reader.problem(item.get("key").line,
                           f"task {task.key}: key: also used by the task on line {keys[task.key]}")
        elif task.day in days:
            reader.problem(item.get("day").line, f"task {task.key}: day: {task.day} already has the task "
                                                 f"{days[task.day]} (one task a day)")
        keys.setdefault(task.key, item.line)
        days.setdefault(task.day, task.key)
        tasks.append(task)
    return tasks


def _task(reader: QuizReader, item: Node, index: int, lessons: set[str], source_path: str) -> CampTaskSpec | None:
    if not item.is_mapping:
        reader.problem(item.line, f"tasks[{index}]: expected a task (key:, day:, title: ...)")
        return None
    key = item.value.get("key")
    where = f"task {key}: " if isinstance(key, str) else f"tasks[{index}]: "
    before, reader.ok = reader.ok, True
    reader.fields(item, TASK_FIELDS, TASK_REQUIRED, where)
    if "key" in item.value and not (isinstance(key, str) and SLUG.match(key) and len(key) <= MAX_KEY):
        reader.problem(item.get("key").line, f"{where}key: lowercase letters, digits and dashes, "
                                             f"at most {MAX_KEY} characters")
    day = reader.integer(item, "day", 1, 365, where=where)
    lesson = item.value.get("lesson")
    if "lesson" in item.value and lesson not in lessons:
        reader.problem(item.get("lesson").line, f"{where}lesson: no lesson {lesson!r} (write course/lesson)")
    proof = _proof(reader, item, where)
    label = _plain(reader, item, "number_label", where, MAX_LABEL)
    if "number" in proof and "number_label" not in item.value:
        reader.problem(item.get("proof").line, f"{where}number_label: missing (proof has number: say what to count)")
    elif "number_label" in item.value and "number" not in proof and proof:
        reader.problem(item.get("number_label").line, f"{where}number_label: only for a task whose proof has number")
    spec = CampTaskSpec(key=key, day=day, title=_plain(reader, item, "title", where, MAX_TITLE),
                        body_html=_markdown(reader, item, "body", where), lesson=lesson, proof=proof,
                        number_label=label, source_path=source_path, line=item.line)
    ok, reader.ok = reader.ok, before and reader.ok
    if not ok:
        return None
    spec.content_hash = digest(spec.__dict__ | {"content_hash": "", "line": 0})
    return spec


def _proof(reader: QuizReader, item: Node, where: str) -> list[str]:
    sub = item.get("proof")
    if sub is None:
        return []
    values = sub.value
    if (not isinstance(values, list) or not values or len(set(map(str, values))) != len(values)
            or not all(v in PROOFS for v in values)):
        reader.problem(sub.line, f"{where}proof: a list of one or more of {', '.join(PROOFS)}, e.g. [text, photo]")
        return []
    return list(values)


def _texts(reader: QuizReader, item: Node, key: str, where: str) -> dict[str, str] | None:
    return both_languages(item, key, reader.problem, where=where)


def _plain(reader: QuizReader, item: Node, key: str, where: str, limit: int) -> dict[str, str] | None:
    """A short text shown as typed (titles, labels): one line, within its column's size."""
    texts = _texts(reader, item, key, where)
    for lang, text in (texts or {}).items():
        if len(text) > limit or "\n" in text:
            reader.problem(item.get(key).get(lang).line, f"{where}{key}.{lang}: one line of at most {limit} characters")
    return texts


def _markdown(reader: QuizReader, item: Node, key: str, where: str) -> dict[str, str] | None:
    texts = _texts(reader, item, key, where)
    return {lang: render_markdown(text) for lang, text in texts.items()} if texts else None
