"""Read courses/ into plain specs, collecting every problem as `path:line: message`.

Nothing here touches the database: `check` only reads, `sync` writes what it read.
"""
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.content.render import RENDER_VERSION, render_markdown
from app.content.yamlnode import Node, both_languages, load_fields, load_yaml

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
COURSE_FIELDS = {"order", "title", "summary"}
LESSON_FIELDS = {"title", "order", "minutes", "summary", "objectives"}
ENGLISH_LESSON_FIELDS = {"title", "summary", "objectives"}
OPTIONAL_LESSON_FIELDS = {"requires"}  # Chinese file only: lessons to take first (see prerequisites.py)
MAX_OBJECTIVES = 4


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class LessonSpec:
    slug: str
    order: int
    minutes: int
    title: dict[str, str]
    summary: dict[str, str]
    objectives: dict[str, list[str]]
    body_html: dict[str, str]
    source_path: str
    order_line: int = 1
    content_hash: str = ""
    requires: Any = None     # as written in the front matter; checked by prerequisites.py
    requires_line: int = 1


@dataclass
class CourseSpec:
    slug: str
    order: int
    title: dict[str, str]
    summary: dict[str, str]
    source_path: str
    lessons: list[LessonSpec] = field(default_factory=list)
    order_line: int = 1
    content_hash: str = ""


class Report:
    """Collects problems for one file, with its path relative to the content root."""

    def __init__(self, problems: list[Problem], path: str):
        self.problems, self.path = problems, path

    def __call__(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.path, line, message))


# --- field checks -------------------------------------------------------------------------

def _check_fields(m: Node, allowed: set[str], required: set[str], report: Report, where: str = "") -> None:
    for key in m.value:
        if key not in allowed:
            report(m.line_of(key), f"{key}: unknown field{where} (expected: {', '.join(sorted(allowed))})")
    for key in sorted(required - set(m.value)):
        report(m.line, f"{key}: missing{where}")


def _text(m: Node, key: str, report: Report) -> str | None:
    value = m.value.get(key)
    if key not in m.value:
        return None
    if not isinstance(value, str) or not value.strip():
        report(m.line_of(key), f"{key}: must be non-empty text")
        return None
    return value.strip()


def _integer(m: Node, key: str, low: int, high: int, report: Report) -> int | None:
    value = m.value.get(key)
    if key not in m.value:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        report(m.line_of(key), f"{key}: must be an integer from {low} to {high}")
        return None
    return value


def _objectives(m: Node, report: Report) -> list[str] | None:
    if "objectives" not in m.value:
        return None
    value = m.value["objectives"]
    if (not isinstance(value, list) or not 1 <= len(value) <= MAX_OBJECTIVES
            or not all(isinstance(v, str) and v.strip() for v in value)):
        report(m.line_of("objectives"), f"objectives: must be a list of 1 to {MAX_OBJECTIVES} non-empty lines")
        return None
    return [v.strip() for v in value]


# --- Markdown files with front matter ---------------------------------------------------

FENCE = re.compile(r"^(```|~~~)")


def split_front_matter(text: str, report: Report) -> tuple[str, int, str, int] | None:
    """Return (front matter, its first line, body, body's first line)."""
    lines = text.lstrip("\ufeff").split("\n")
    if not lines or lines[0].strip() != "---":
        report(1, "front matter missing: the file must start with a line ---")
        return None
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            return "\n".join(lines[1:i]), 2, "\n".join(lines[i + 1:]), i + 2
    report(1, "front matter not closed: add a line --- after the fields")
    return None


def _check_body(body: str, first_line: int, report: Report) -> bool:
    if not body.strip():
        report(first_line, "body is empty: write the lesson below the front matter")
        return False
    fenced = False
    for offset, line in enumerate(body.split("\n")):
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced and re.match(r"^#(?!#)\s", line):
            report(first_line + offset, "use ## for headings in the body: the page shows the title as #")
    return True


def read_text(path: Path, report: Report) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        report(1, f"not UTF-8 text ({e.reason})")
    except OSError as e:
        report(1, f"cannot read: {e.strerror}")
    return None


def read_yaml_file(path: Path, report: Report):
    """A whole YAML file as nodes with lines (see yamlnode), or None after reporting why not."""
    text = read_text(path, report)
    return load_yaml(text, 1, report) if text is not None else None


def digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps([RENDER_VERSION, *parts], ensure_ascii=False, sort_keys=True)
                          .encode()).hexdigest()


def load_lesson(zh_path: Path, en_path: Path, root: Path, problems: list[Problem]) -> LessonSpec | None:
    zh_report = Report(problems, relative(zh_path, root))
    en_report = Report(problems, relative(en_path, root))
    slug = zh_path.name[: -len(".md")]
    ok = True
    if not SLUG.match(slug):
        zh_report(1, f'file name "{slug}": use lowercase letters, digits and dashes')
        ok = False
    parts = {}
    for lang, path, report in (("zh", zh_path, zh_report), ("en", en_path, en_report)):
        if lang == "en" and not en_path.exists():
            zh_report(1, f"no English version ({en_path.name})")
            ok = False
            continue
        text = read_text(path, report)
        split = split_front_matter(text, report) if text is not None else None
        if split is None:
            ok = False
            continue
        fm_text, fm_line, body, body_line = split
        meta = load_fields(fm_text, fm_line, report)
        if meta is None:
            ok = False
            _check_body(body, body_line, report)
            continue
        if lang == "zh":
            _check_fields(meta, LESSON_FIELDS | OPTIONAL_LESSON_FIELDS, LESSON_FIELDS, report)
        else:
            for key in ("order", "minutes"):
                if key in meta.value:
                    report(meta.line_of(key), f"{key}: belongs in the Chinese file ({zh_path.name}) only")
            _check_fields(meta, LESSON_FIELDS, ENGLISH_LESSON_FIELDS, report)
        values = {
            "title": _text(meta, "title", report),
            "summary": _text(meta, "summary", report),
            "objectives": _objectives(meta, report),
        }
        if lang == "zh":
            values["order"] = _integer(meta, "order", 0, 999, report)
            values["minutes"] = _integer(meta, "minutes", 1, 60, report)
        has_body = _check_body(body, body_line, report)
        if not has_body or any(v is None for v in values.values()):
            ok = False
            continue
        parts[lang] = (values, body, meta)
    if not ok or len(parts) != 2:
        return None
    (zh, zh_body, zh_meta), (en, en_body, en_meta) = parts["zh"], parts["en"]
    if len(zh["objectives"]) != len(en["objectives"]):
        en_report(en_meta.line_of("objectives"),
                  f"objectives: {len(en['objectives'])} in English but {len(zh['objectives'])} in Chinese")
        return None
    spec = LessonSpec(
        slug=slug, order=zh["order"], minutes=zh["minutes"],
        title={"zh": zh["title"], "en": en["title"]},
        summary={"zh": zh["summary"], "en": en["summary"]},
        objectives={"zh": zh["objectives"], "en": en["objectives"]},
        body_html={"zh": render_markdown(zh_body), "en": render_markdown(en_body)},
        source_path=zh_report.path, order_line=zh_meta.line_of("order"),
        requires=zh_meta.value.get("requires"), requires_line=zh_meta.line_of("requires"),
    )
    spec.content_hash = digest(spec.order, spec.minutes, spec.title, spec.summary, spec.objectives, zh_body, en_body)
    return spec


def load_course(folder: Path, root: Path, problems: list[Problem]) -> CourseSpec | None:
    meta_path = folder / "course.yml"
    report = Report(problems, relative(meta_path, root))
    slug = folder.name
    ok = True
    if not SLUG.match(slug):
        Report(problems, relative(folder, root))(1, f'folder name "{slug}": use lowercase letters, digits and dashes')
        ok = False
    meta = None
    if not meta_path.exists():
        report(1, "missing: every course folder needs a course.yml")
    elif (text := read_text(meta_path, report)) is not None:
        meta = load_fields(text, 1, report)

    lessons = []
    orders: dict[int, str] = {}
    for path in sorted(folder.iterdir()):
        name = path.name
        if path.is_dir() or name == "course.yml" or name.startswith("."):
            continue
        if name.endswith(".en.md"):
            if not (folder / (name[: -len(".en.md")] + ".md")).exists():
                Report(problems, relative(path, root))(1, "English version of a lesson with no Chinese file "
                                                    f"({name[: -len('.en.md')]}.md)")
            continue
        if not name.endswith(".md"):
            Report(problems, relative(path, root))(1, "unexpected file: lessons are <slug>.md and <slug>.en.md")
            continue
        lesson = load_lesson(path, folder / (name[: -len(".md")] + ".en.md"), root, problems)
        if lesson is None:
            ok = False
            continue
        if lesson.order in orders:
            Report(problems, lesson.source_path)(
                lesson.order_line, f"order: {lesson.order} is also the order of {orders[lesson.order]}")
            ok = False
        orders[lesson.order] = f"{lesson.slug}.md"
        lessons.append(lesson)

    if meta is None:
        return None
    _check_fields(meta, COURSE_FIELDS, COURSE_FIELDS, report)
    order = _integer(meta, "order", 0, 999, report)
    title = both_languages(meta, "title", report, not_text="{lang}: must be non-empty text", at_keys=True)
    summary = both_languages(meta, "summary", report, not_text="{lang}: must be non-empty text", at_keys=True)
    if not lessons and ok:
        report(1, "the course has no lessons")
        ok = False
    if not ok or order is None or title is None or summary is None:
        return None
    course = CourseSpec(slug=slug, order=order, title=title, summary=summary, source_path=report.path,
                        lessons=sorted(lessons, key=lambda lesson: lesson.order), order_line=meta.line_of("order"))
    course.content_hash = digest(order, title, summary)
    return course


def load_courses(root: Path) -> tuple[list[CourseSpec], list[Problem]]:
    """Every course under root/courses, and every problem found on the way."""
    problems: list[Problem] = []
    folder = root / "courses"
    if not folder.is_dir():
        return [], [Problem("courses", 1, "folder missing: content lives in courses/<slug>/")]
    courses, orders = [], {}
    for path in sorted(folder.iterdir()):
        if path.is_dir() and not path.name.startswith("."):
            course = load_course(path, root, problems)
            if course is None:
                continue
            if course.order in orders:
                Report(problems, course.source_path)(
                    course.order_line, f"order: {course.order} is also the order of {orders[course.order]}")
                continue
            orders[course.order] = course.slug
            courses.append(course)
    return sorted(courses, key=lambda c: c.order), problems


def relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()
