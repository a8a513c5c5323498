"""Read the `diagnosis:` section of milestones/programme.yml: which lesson raises each factor of the
formula, the order in which factors under their reference are named, and the stages of her
programme with the references that are on track by then (the group's size grows with her day)."""
from app.content.loader import SLUG
from app.content.quizzes import QuizReader
from app.content.yamlnode import Node

FACTORS = ("traffic", "circulation", "monetization")
SECTION_FIELDS = {"lessons", "order", "stages"}
STAGE_FIELDS = {"key", "from_day", "references"}


def read_diagnosis(reader: QuizReader, section: Node, known_lessons: set[str]) -> dict:
    """{"lessons": {factor: course/lesson}, "order": [factor, ...], "stages": [{"key", "from_day",
    "references": {factor: number}}, ...]}; every problem goes to the reader."""
    where = "diagnosis."
    if not section.is_mapping:
        reader.problem(section.line, "diagnosis: expected lessons:, order: and stages: under it")
        return {}
    reader.fields(section, SECTION_FIELDS, SECTION_FIELDS, where)
    out = {"lessons": {}, "order": list(FACTORS), "stages": []}
    lessons = section.get("lessons")
    if lessons is not None:
        reader.fields(lessons, set(FACTORS), set(FACTORS), f"{where}lessons.")
        for factor in FACTORS:
            value = lessons.value.get(factor) if lessons.is_mapping else None
            if factor in (lessons.value if lessons.is_mapping else {}) and value not in known_lessons:
                reader.problem(lessons.get(factor).line,
                               f"{where}lessons.{factor}: no lesson {value!r} (write course/lesson)")
            out["lessons"][factor] = value
    order = section.get("order")
    if order is not None:
        if not isinstance(order.value, list) or sorted(map(str, order.value)) != sorted(FACTORS):
            reader.problem(order.line, f"{where}order: each of {', '.join(FACTORS)} once, the first named first")
        else:
            out["order"] = list(order.value)
    stages = section.get("stages")
    if stages is not None:
        if not stages.is_sequence or not stages.items():
            reader.problem(stages.line, f"{where}stages: a list of stages (- key: ..., from_day: ...)")
        else:
            out["stages"] = _stages(reader, stages, where)
    return out


def _stages(reader: QuizReader, stages: Node, where: str) -> list[dict]:
    out, keys, previous = [], set(), 0
    for index, item in enumerate(stages.items(), 1):
        here = f"{where}stages[{index}]."
        if not item.is_mapping:
            reader.problem(item.line, f"{here[:-1]}: expected key:, from_day: and references:")
            continue
        reader.fields(item, STAGE_FIELDS, STAGE_FIELDS, here)
        key = item.value.get("key")
        if "key" in item.value and (not isinstance(key, str) or not SLUG.match(key) or key in keys):
            reader.problem(item.get("key").line, f"{here}key: lowercase letters, digits and dashes, once each")
        keys.add(key)
        day = reader.integer(item, "from_day", 1, 365, where=here)
        if day is not None and (day <= previous or (index == 1 and day != 1)):
            reader.problem(item.get("from_day").line,
                           f"{here}from_day: the first stage starts on day 1 and each later one after the last")
        previous = day or previous
        references = {}
        sub = item.get("references")
        if sub is not None:
            reader.fields(sub, set(FACTORS), set(FACTORS), f"{here}references.")
            for factor in FACTORS:
                value = reader.number(sub, factor, f"{here}references.") if sub.is_mapping else None
                if value is not None and value <= 0:
                    reader.problem(sub.get(factor).line, f"{here}references.{factor}: must be above 0")
                references[factor] = value
        out.append({"key": key, "from_day": day, "references": references})
    return out
