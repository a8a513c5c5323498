"""Read milestones/: the programme's rules (programme.yml) and one file per milestone."""
from dataclasses import dataclass
from pathlib import Path

from app.content.camp import CampSpec, load_camp
from app.content.diagnosis import read_diagnosis
from app.content.loader import CourseSpec, Problem, Report, digest, relative
from app.content.quizzes import QuizReader
from app.content.reminders import load_reminders
from app.core.money import parse_yuan


# Cumulative metrics add up over her check-ins; the others take the latest number reported.
CUMULATIVE = {"earnings", "orders", "posts"}
METRICS = CUMULATIVE | {"group_members", "active_members"}
ASKS = {"earnings", "orders", "group_members", "active_members", "posts", "note"}


@dataclass
class MilestoneSpec:
    key: str
    order: int
    title: dict
    metric: str
    target: int          # fen for earnings, a count otherwise
    by_day: int
    source_path: str
    content_hash: str = ""


@dataclass
class ProgrammeSpec:
    checkin_days: list[int]
    asks: list[str]
    behind_margin_percent: int
    correction_days: int
    diagnosis: dict      # lessons, order and stages: see app/content/diagnosis.py
    source_path: str
    content_hash: str = ""
    reminders: dict | None = None   # milestones/reminders.yml, when there is one
    camp: CampSpec | None = None    # milestones/camp.yml, when there is one


def _to_fen(value) -> int | None:
    try:
        return parse_yuan(value, maximum=10**12)
    except ValueError:
        return None


def _lessons(courses: list[CourseSpec]) -> set[str]:
    return {f"{c.slug}/{lesson.slug}" for c in courses for lesson in c.lessons}


def load_programme(path: Path, root: Path, courses: list[CourseSpec], problems: list[Problem]) -> ProgrammeSpec | None:
    report = Report(problems, relative(path, root))
    reader = QuizReader("programme", report)
    fields = {"checkin_days", "asks", "behind_margin_percent", "correction_days", "diagnosis"}
    node = reader.read_mapping(path, fields, fields, "the programme's fields (" + ", ".join(sorted(fields)) + ")")
    if node is None:
        return None
    days = node.value.get("checkin_days")
    if "checkin_days" in node.value and (not isinstance(days, list) or not days or sorted(set(days)) != days
                                         or not all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 365
                                                    for d in days)):
        reader.problem(node.get("checkin_days").line, "checkin_days: a rising list of programme days from 1 to 365")
    asks = node.value.get("asks")
    if "asks" in node.value and (not isinstance(asks, list) or "earnings" not in asks or not set(asks) <= ASKS):
        reader.problem(node.get("asks").line, f"asks: a list including earnings, from {', '.join(sorted(ASKS))}")
    margin = reader.integer(node, "behind_margin_percent", 0, 100)
    correction = reader.integer(node, "correction_days", 0, 365)
    section = node.get("diagnosis")
    diagnosis = read_diagnosis(reader, section, _lessons(courses)) if section is not None else {}
    if not reader.ok:
        return None
    spec = ProgrammeSpec(checkin_days=days, asks=asks, behind_margin_percent=margin, correction_days=correction,
                         diagnosis=diagnosis, source_path=report.path)
    spec.content_hash = digest(spec.__dict__)
    return spec


def load_milestone(path: Path, root: Path, problems: list[Problem]) -> MilestoneSpec | None:
    reader = QuizReader.for_file(path, root, problems, ".yml")
    key, report = reader.slug, reader.report
    fields = {"order", "title", "metric", "target", "by_day"}
    node = reader.read_mapping(path, fields, fields, "the milestone's fields (" + ", ".join(sorted(fields)) + ")")
    if node is None:
        return None
    metric = node.value.get("metric")
    if "metric" in node.value and metric not in METRICS:
        reader.problem(node.get("metric").line, f"metric: one of {', '.join(sorted(METRICS))}")
    target = None
    if "target" in node.value:
        raw = node.value["target"]
        target = _to_fen(raw) if metric == "earnings" else raw
        if (isinstance(raw, bool) or target is None or not isinstance(target, int) or target <= 0
                or not isinstance(raw, (int, float))):
            reader.problem(node.get("target").line, "target: a positive number (yuan with at most 2 decimals "
                                                    "for earnings, a whole number otherwise)")
    spec = MilestoneSpec(key=key, order=reader.integer(node, "order", 0, 999), metric=metric, target=target,
                         title=reader.localized(node, "title", required=True, inline=True),
                         by_day=reader.integer(node, "by_day", 1, 365), source_path=report.path)
    if not reader.ok:
        return None
    spec.content_hash = digest(spec.__dict__)
    return spec


def load_milestones(root: Path, courses: list[CourseSpec]):
    """(programme, milestones, problems) from root/milestones."""
    problems: list[Problem] = []
    folder = root / "milestones"
    if not folder.is_dir():
        return None, [], []  # no milestones: the programme's defaults apply
    programme, milestones, orders = None, [], {}
    if not (folder / "programme.yml").exists():
        problems.append(Problem(relative(folder / "programme.yml", root), 1, "missing: the programme's rules"))
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.is_dir() or path.name == "README.md":
            continue
        if not path.name.endswith(".yml"):
            Report(problems, relative(path, root))(1, "unexpected file: milestones are <key>.yml")
        elif path.name == "programme.yml":
            programme = load_programme(path, root, courses, problems)
        elif path.name == "reminders.yml":
            continue  # read below, once the milestones' keys are known
        elif path.name == "camp.yml":
            continue  # read below: not a milestone
        elif milestone := load_milestone(path, root, problems):
            if milestone.order in orders:
                Report(problems, milestone.source_path)(1, f"order: {milestone.order} is also the order of "
                                                           f"{orders[milestone.order]}")
                continue
            orders[milestone.order] = milestone.key
            milestones.append(milestone)
    if (folder / "reminders.yml").exists():
        reminders = load_reminders(folder / "reminders.yml", root, {m.key for m in milestones}, problems)
        if programme is not None and reminders is not None:
            programme.reminders = reminders
            programme.content_hash = digest(programme.__dict__ | {"content_hash": ""})
    if (folder / "camp.yml").exists():
        camp = load_camp(folder / "camp.yml", root, courses, problems)
        if programme is not None and camp is not None:
            programme.camp = camp
            # The tasks have their own rows and hashes: the programme's hash covers its settings only.
            programme.content_hash = digest(programme.__dict__ | {"content_hash": "", "camp": camp.settings})
    return programme, sorted(milestones, key=lambda m: m.order), problems
