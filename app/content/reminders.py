"""Read milestones/reminders.yml: when reminders go out and what each rule says, zh + en."""
import re
import string
from pathlib import Path

from app.content import reminder_channels
from app.content.loader import Problem, Report, digest, relative
from app.content.quizzes import QuizReader
from app.content.yamlnode import LANGS, both_languages

TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
CATEGORIES = ("checkin", "learning", "progress", "celebration", "review", "nudge", "digest")
# Each rule and the placeholders its words may use.
RULES = {
    "checkin_due": {"day"},
    "checkin_missed": {"date"},
    "task_unlocked": {"day", "task"},
    "no_lesson": {"days", "lesson"},
    "behind": {"milestone", "current", "target", "days_left", "lesson"},
    "milestone_achieved": {"milestone"},
    "essay_reviewed": {"quiz"},
    "nudge": {"mentor", "text"},
    "mentor_digest": {"count", "names"},
    "group_digest": {"day", "count"},
}
RULE_FIELDS = {"category", "title", "body", "after_days", "on_days"}


def _placeholders(text: str) -> set[str] | None:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError:
        return None


def load_reminders(path: Path, root: Path, milestone_keys: set[str], problems: list[Problem]) -> dict | None:
    """The file as a plain dict (stored on the programme by sync), or None with its problems reported."""
    report = Report(problems, relative(path, root))
    reader = QuizReader("reminders", report)
    node = reader.read_mapping(path, {"send_at", "digest_at", "quiet_hours", "rules", "wechat", "sms"},
                               {"send_at", "quiet_hours", "rules"}, "send_at:, quiet_hours: and rules:")
    if node is None:
        return None
    out = {"source_path": report.path}

    def clock(parent, key, where=""):
        sub = parent.get(key)
        if sub is not None and not (isinstance(sub.value, str) and TIME.match(sub.value)):
            reader.problem(sub.line, f'{where}{key}: a time as "HH:MM" in quotes, e.g. "20:00"')
            return None
        return sub.value if sub is not None else None

    out["send_at"], out["digest_at"] = clock(node, "send_at"), clock(node, "digest_at") or "09:00"
    quiet = node.get("quiet_hours")
    if quiet is not None:
        if not quiet.is_mapping:
            reader.problem(quiet.line, "quiet_hours: expected start: and end: under it")
        else:
            reader.fields(quiet, {"start", "end"}, {"start", "end"}, "quiet_hours.")
            out["quiet_hours"] = {"start": clock(quiet, "start", "quiet_hours."), "end": clock(quiet, "end", "quiet_hours.")}

    rules = node.get("rules")
    out["rules"] = {}
    if rules is not None and not rules.is_mapping:
        reader.problem(rules.line, "rules: expected one entry per rule under it")
    elif rules is not None:
        reader.fields(rules, set(RULES), set(RULES), "rules.")
        for name, allowed in RULES.items():
            rule = rules.get(name)
            if rule is None or not rule.is_mapping:
                if rule is not None:
                    reader.problem(rule.line, f"rules.{name}: expected category:, title: and body: under it")
                continue
            where = f"rules.{name}."
            reader.fields(rule, RULE_FIELDS, {"category", "title", "body"}, where)
            spec = {"category": rule.value.get("category")}
            if "category" in rule.value and spec["category"] not in CATEGORIES:
                reader.problem(rule.get("category").line, f"{where}category: one of {', '.join(CATEGORIES)}")
            for field in ("title", "body"):
                spec[field] = _texts(reader, rule, field, allowed, where)
            if (days := rule.get("after_days")) is not None:
                spec["after_days"] = _days(reader, days, f"{where}after_days")
            if (per_milestone := rule.get("on_days")) is not None:
                spec["on_days"] = {}
                if not per_milestone.is_mapping:
                    reader.problem(per_milestone.line, f"{where}on_days: expected <milestone>: [days] under it")
                else:
                    for key, line in per_milestone.keys():
                        if key not in milestone_keys:
                            reader.problem(line, f"{where}on_days: no milestone {key!r}")
                        spec["on_days"][key] = _days(reader, per_milestone.get(key), f"{where}on_days.{key}")
            out["rules"][name] = spec
    # The 公众号 and SMS channels: app/content/reminder_channels.py
    if (wechat := node.get("wechat")) is not None:
        out["wechat"] = reminder_channels.load_wechat(reader, wechat, RULES, _texts, _placeholders)
    if (sms := node.get("sms")) is not None:
        out["sms"] = reminder_channels.load_sms(reader, sms, RULES, _placeholders)
    if not reader.ok:
        return None
    out["content_hash"] = digest(out)
    return out


def _texts(reader: QuizReader, rule, field: str, allowed: set[str], where: str) -> dict | None:
    sub = rule.get(field)
    if sub is None:
        return None
    both_languages(rule, field, reader.problem, where=where, missing="{where}{key}.{lang}: must be non-empty text")
    if not sub.is_mapping:
        return None
    out = {}
    for lang in LANGS:
        value = sub.value.get(lang)
        if not isinstance(value, str) or not value.strip():
            continue  # reported above
        reminder_channels.check_placeholders(reader, sub.get(lang).line, value, allowed, f"{where}{field}.{lang}",
                                             _placeholders)
        out[lang] = value.strip()
    return out


def _days(reader: QuizReader, node, where: str) -> list[int]:
    days = node.value if node is not None else None
    if not isinstance(days, list) or not days or sorted(set(days)) != days or not all(
            isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 365 for d in days):
        reader.problem(node.line if node is not None else 1, f"{where}: a rising list of whole days from 1 to 365")
        return []
    return days
