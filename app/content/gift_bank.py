"""A GIFT bank (`quizzes/<slug>.gift`, optional `<slug>.en.gift`) with its settings file."""
import json
import re
from pathlib import Path

import nh3

from app.content.loader import SLUG, Problem, Report, digest, read_text, relative, read_yaml_file
from app.content.quizzes import LANGS, SETTINGS, TRUE_FALSE_TEXT, QuizReader, QuizSpec, check_draw, lesson_links, opaque_id
from app.content.render import render_inline, render_markdown, render_plain
from app.content.gift import GiftQuestion, parse_gift

GIFT_SETTINGS = SETTINGS | {"language"}


def _render(text: str, fmt: str, inline: bool = False) -> str:
    if fmt == "markdown":
        return (render_inline if inline else render_markdown)(text)
    if fmt == "html":
        return nh3.clean(text)
    return render_plain(text)  # moodle and plain: text as typed


def _question_id(question: GiftQuestion, index: int) -> str:
    if question.title:
        slug = re.sub(r"[^a-z0-9]+", "-", question.title.lower()).strip("-")
        if SLUG.match(slug):
            return slug
    return f"q{index + 1}"


def _both(zh: str | None, en: str | None, fmt: str, inline: bool = False) -> dict | None:
    if zh is None:
        return None
    return {"zh": _render(zh, fmt, inline), "en": _render(en if en is not None else zh, fmt, inline)}


def _convert(reader: QuizReader, zh: GiftQuestion, en: GiftQuestion, qid: str) -> dict:
    fmt = zh.format
    question = {"id": qid, "type": zh.kind, "points": 0.0 if zh.kind == "description" else 1.0,
                "text": _both(zh.text, en.text, fmt), "explanation": _both(zh.general_feedback, en.general_feedback, fmt)}
    pairs = list(zip(zh.answers, en.answers))
    feedback = lambda a, b: _both(a.feedback, b.feedback, fmt)  # noqa: E731
    if zh.kind == "truefalse":
        question["options"] = [
            {"id": "true", "text": TRUE_FALSE_TEXT[True], "weight": 1.0 if zh.truth else 0.0,
             "feedback": _both(zh.true_feedback, en.true_feedback, fmt)},
            {"id": "false", "text": TRUE_FALSE_TEXT[False], "weight": 0.0 if zh.truth else 1.0,
             "feedback": _both(zh.false_feedback, en.false_feedback, fmt)}]
    elif zh.kind in ("single", "multiple"):
        question["options"] = [
            {"id": opaque_id(reader.slug, qid, i, a.text), "text": _both(a.text, b.text, fmt, inline=True),
             "weight": a.weight if a.weight is not None else (1.0 if a.is_correct else 0.0), "feedback": feedback(a, b)}
            for i, (a, b) in enumerate(pairs)]
    elif zh.kind == "short":
        # Accepted answers of both files count, whichever language she types in: each file's list is
        # matched in its own order (Moodle's first match, so a closing "*" catches only the rest).
        question["answers"] = [{"text": a.text, "weight": 1.0 if a.weight is None else a.weight,
                                "feedback": feedback(a, a), "list": "zh"} for a in zh.answers]
        question["answers"] += [{"text": b.text, "weight": 1.0 if b.weight is None else b.weight,
                                 "feedback": feedback(b, b), "list": "en"} for b in en.answers if en is not zh]
    elif zh.kind == "numerical":
        question["ranges"] = []
        for a, b in pairs:
            low, high = (a.low, a.high) if a.low is not None else (a.value - a.tolerance, a.value + a.tolerance)
            display = f"{a.value:g}" if a.low is None else f"{a.low:g} – {a.high:g}"
            question["ranges"].append({"low": low, "high": high, "display": display,
                                       "weight": 1.0 if a.weight is None else a.weight, "feedback": feedback(a, b)})
    elif zh.kind == "matching":
        reader._matching(question, [(_both(a.text, b.text, fmt, True), _both(a.match, b.match, fmt, True))
                                    for a, b in pairs])
    elif zh.kind == "essay":
        question["rubric"] = [{"criterion": {"zh": "整体质量", "en": "Overall quality"}, "points": 1.0}]
    return question


def _same_shape(a: GiftQuestion, b: GiftQuestion) -> bool:
    return (a.kind == b.kind and a.title == b.title and len(a.answers) == len(b.answers)
            and a.truth == b.truth
            and [x.is_correct for x in a.answers] == [x.is_correct for x in b.answers]
            and [x.weight for x in a.answers] == [x.weight for x in b.answers])


def load_gift_quiz(path: Path, root: Path, courses: dict, problems: list[Problem]) -> QuizSpec | None:
    reader = QuizReader.for_file(path, root, problems, ".gift")
    slug, report = reader.slug, reader.report

    settings_path = path.with_name(path.name + ".yml")
    settings_report = Report(problems, relative(settings_path, root))
    settings_reader = QuizReader(slug, settings_report)
    node = None
    if not settings_path.exists():
        reader.problem(1, f"settings missing: add {settings_path.name} with course:, language: and title:")
    else:
        node = read_yaml_file(settings_path, settings_report)
    if node is None:
        return None
    settings_reader.fields(node, GIFT_SETTINGS, {"course", "title", "language"})
    course, lesson = lesson_links(settings_reader, node, courses)
    settings = settings_reader.settings(node)
    language = node.value.get("language")
    if "language" in node.value and language not in LANGS:
        settings_reader.problem(node.get("language").line, "language: must be zh or en")

    def parse(file: Path, file_report: Report) -> list[GiftQuestion] | None:
        source = read_text(file, file_report)
        if source is None:
            return None
        questions, errors = parse_gift(source)
        for line, message in errors:
            file_report(line, message)
        return questions

    primary = parse(path, report) or []
    en_path = path.with_name(f"{slug}.en.gift")
    english = None
    if en_path.exists():
        en_report = Report(problems, relative(en_path, root))
        english = parse(en_path, en_report) or []
        if len(english) != len(primary):
            en_report(1, f"{len(english)} questions but {path.name} has {len(primary)}: keep the two files in step")
            english = None
        else:
            for a, b in zip(primary, english):
                if not _same_shape(a, b):
                    en_report(b.line, f"question differs from {path.name}:{a.line} (title, type or answers)")
                    english = None
                    break
    if english is None or language == "en":
        english = primary  # one language only: everyone sees the bank's own text
    zh_questions, en_questions = primary, english

    questions, ids = [], set()
    for index, (zh, en) in enumerate(zip(zh_questions, en_questions)):
        qid = _question_id(zh, index)
        if qid in ids:
            reader.problem(zh.line, f"question id {qid!r} (from its ::title::) is used twice")
            continue
        ids.add(qid)
        questions.append(_convert(reader, zh, en, qid))
    if not questions:  # `problems` holds every file's problems: another file's must not hide this
        reader.problem(1, "no questions")
    check_draw(settings_reader, node, settings, questions)
    title = settings_reader.localized(node, "title", required=True, inline=True)
    if not reader.ok or not settings_reader.ok:
        return None
    spec = QuizSpec(slug=slug, course=course, lesson=lesson, settings=settings, questions=questions, title=title,
                    description=settings_reader.localized(node, "description", required=False) or {"zh": "", "en": ""},
                    feedback=settings_reader.localized(node, "feedback", required=False) or {"zh": "", "en": ""},
                    source_path=report.path)
    spec.content_hash = digest(json.loads(json.dumps(spec.__dict__, default=str)))
    return spec
