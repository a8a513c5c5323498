"""Question versions: each version of a question stored once, an attempt as references to them.

A question as drawn for an attempt (see service.draw_questions) is split into
- its *version*: the question with its options and matching choices in a canonical order (sorted by
  their own canonical JSON), identified by the SHA-256 digest of its canonical JSON: the same content
  gives the same digest in every attempt, every process and every database;
- the attempt's *layout entry*: the version's row id, and the order the attempt shows the shuffled list
  in (indexes into the canonical list), left out when nothing was shuffled.

An attempt's marks are `[points, right]` per question in layout order (points None while an essay waits;
right 1, 0 or None), the same figures as a full result; the feedback shown with them is the version's
feedback for her answer (grading.grade), so it is not stored again. Plain functions, no database.
"""
import copy
import hashlib
import json

from app.quizzes import grading

# The one list per question type that an attempt shuffles (service.draw_questions).
SHUFFLED = ("options", "choices")


def canonical_json(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def split(question: dict) -> tuple[dict, list[int] | None]:
    """(the version, the drawn order of its shuffled list as indexes into the version's, or None)."""
    version, order = dict(question), None
    keys = [key for key in SHUFFLED if isinstance(question.get(key), list)]
    if len(keys) > 1:
        raise ValueError(f"question {question.get('id')!r} has both options and choices")
    for key in keys:
        items = question[key]
        texts = [canonical_json(item) for item in items]
        ranked = sorted(range(len(items)), key=texts.__getitem__)
        version[key] = [items[i] for i in ranked]
        positions: dict[str, list[int]] = {}
        for position, i in enumerate(ranked):
            positions.setdefault(texts[i], []).append(position)
        drawn = [positions[text].pop(0) for text in texts]  # equal items keep their relative order
        if drawn != list(range(len(items))):
            order = drawn
    return version, order


def digest(version: dict) -> str:
    return hashlib.sha256(canonical_json(version).encode("utf-8")).hexdigest()


def join(version: dict, order: list[int] | None) -> dict:
    """The question as the attempt drew it: the version with its shuffled list in the attempt's order."""
    question = copy.deepcopy(version)
    if order is not None:
        for key in SHUFFLED:
            if isinstance(question.get(key), list):
                question[key] = [question[key][i] for i in order]
    return question


def layout_entry(version_id: int, order: list[int] | None) -> list:
    return [version_id] if order is None else [version_id, order]


def version_ids(layout: list) -> list[int]:
    return [entry[0] for entry in layout]


def questions_of(layout: list, versions: dict[int, dict]) -> list[dict]:
    """The drawn questions of a layout, given its versions by id."""
    return [join(versions[entry[0]], entry[1] if len(entry) > 1 else None) for entry in layout]


# --- marks: the results, small ----------------------------------------------------------------------

def _number(points):
    return int(points) if points is not None and float(points).is_integer() else points


def pack_marks(questions: list[dict], results: dict) -> list:
    """Results by question id ({points, is_correct, ...}) as marks in the questions' order."""
    if not results:
        return []
    unknown = set(results) - {q["id"] for q in questions}
    if unknown:
        raise ValueError(f"results for questions not in the attempt: {sorted(unknown)}")
    marks = []
    for question in questions:
        result = results.get(question["id"]) or {}
        right = result.get("is_correct")
        marks.append([_number(result.get("points")), None if right is None else int(bool(right))])
    return marks


def unpack_marks(questions: list[dict], marks: list, answers: dict) -> dict:
    """The full results by question id: points, max points, whether right, and the feedback for her answer."""
    results = {}
    for question, (points, right) in zip(questions, marks):
        kind = question["type"]
        max_points = 0.0 if kind == "description" else float(question.get("points", 1))
        feedback = [] if kind in ("description", "essay") else grading.grade(question, answers.get(question["id"])).feedback
        results[question["id"]] = {"points": None if points is None else float(points), "max_points": max_points,
                                   "is_correct": None if right is None else bool(right), "feedback": feedback}
    return results
