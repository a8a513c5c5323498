"""The `wechat:` and `sms:` parts of milestones/reminders.yml: which 公众号 template each rule uses
and what goes in its fields, and which few rules are worth a paid text message, with its caps.

    wechat:
      checkin_due:
        template_id: "..."          # from the 公众号 back office (模板消息 or 订阅通知)
        kind: template              # template (模板消息) or subscribe (订阅通知)
        data: {thing1: "{title}", time2: {zh: "今天", en: "today"}}
    sms:
      daily_cap: 1                  # texts per trainee in any 24 hours
      monthly_budget: 300           # texts per cohort per calendar month
      near_deadline_days: 3         # `behind` goes by text only this close to the deadline
      rules:
        milestone_achieved: {template_id: "...", params: ["{milestone}"]}

`params` is a list (Tencent Cloud's {1}, {2}… in order) or a mapping from the template's variable
names (Aliyun's ${name}) to texts; either way it is kept as a mapping, a list's keys being "1", "2"…
"""
from app.content.yamlnode import LANGS

KINDS = ("template", "subscribe")
# The rules worth money, and so worth a text: two empty check-in days running, behind a milestone
# near its deadline, a milestone reached.
SMS_RULES = ("checkin_missed", "behind", "milestone_achieved")
EXTRA = {"title", "body"}   # every rule's rendered title and body may go in a field too


def load_wechat(reader, node, rules: dict[str, set[str]], check_texts, placeholders) -> dict:
    """{rule: {template_id, kind, data: {field: {zh, en}}}}; problems go to the reader. check_texts and
    placeholders are the reminders file's own readers (app/content/reminders.py)."""
    out = {}
    if not node.is_mapping:
        reader.problem(node.line, "wechat: expected one entry per rule under it")
        return out
    reader.fields(node, set(rules), set(), "wechat.")
    for rule, _ in node.keys():
        spec = node.get(rule)
        if rule not in rules or spec is None:
            continue
        where = f"wechat.{rule}."
        if not spec.is_mapping:
            reader.problem(spec.line, f"wechat.{rule}: expected template_id:, kind: and data: under it")
            continue
        reader.fields(spec, {"template_id", "kind", "data"}, {"template_id", "data"}, where)
        template_id, kind = spec.value.get("template_id"), spec.value.get("kind", "template")
        if "template_id" in spec.value and (not isinstance(template_id, str) or not template_id.strip()):
            reader.problem(spec.get("template_id").line, f"{where}template_id: the template's id, as text")
        if kind not in KINDS:
            reader.problem(spec.get("kind").line, f"{where}kind: one of {', '.join(KINDS)}")
        data, fields = spec.get("data"), {}
        if data is not None and (not data.is_mapping or not data.value):
            reader.problem(data.line, f"{where}data: expected the template's fields (thing1: ...) under it")
        elif data is not None:
            for name, line in data.keys():
                value = data.get(name)
                texts = {lang: value.value for lang in LANGS} if isinstance(value.value, str) else None
                if texts is None and value.is_mapping:
                    texts = check_texts(reader, data, name, rules[rule] | EXTRA, f"{where}data.")
                elif texts is None:
                    reader.problem(line, f"{where}data.{name}: text, or zh: and en: under it")
                else:
                    for lang in LANGS:
                        check_placeholders(reader, line, texts[lang], rules[rule] | EXTRA, f"{where}data.{name}", placeholders)
                if texts:
                    fields[name] = texts
        out[rule] = {"template_id": str(template_id or "").strip(), "kind": kind, "data": fields}
    return out


def load_sms(reader, node, rules: dict[str, set[str]], placeholders) -> dict:
    out = {"daily_cap": 1, "monthly_budget": 0, "near_deadline_days": 3, "rules": {}}
    if not node.is_mapping:
        reader.problem(node.line, "sms: expected daily_cap:, monthly_budget: and rules: under it")
        return out
    reader.fields(node, {"daily_cap", "monthly_budget", "near_deadline_days", "rules"},
                  {"daily_cap", "monthly_budget", "rules"}, "sms.")
    for key in ("daily_cap", "monthly_budget", "near_deadline_days"):
        value = node.value.get(key)
        if key in node.value and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            reader.problem(node.get(key).line, f"sms.{key}: a whole number, 0 or more")
        elif key in node.value:
            out[key] = value
    chosen = node.get("rules")
    if chosen is None:
        return out
    if not chosen.is_mapping:
        reader.problem(chosen.line, "sms.rules: expected one entry per rule under it")
        return out
    for rule, line in chosen.keys():
        if rule not in SMS_RULES:
            reader.problem(line, f"sms.rules.{rule}: texts cost money: only {', '.join(SMS_RULES)}")
            continue
        spec, where = chosen.get(rule), f"sms.rules.{rule}."
        if not spec.is_mapping:
            reader.problem(spec.line, f"sms.rules.{rule}: expected template_id: and params: under it")
            continue
        reader.fields(spec, {"template_id", "params"}, {"template_id", "params"}, where)
        template_id, params = spec.value.get("template_id"), spec.value.get("params")
        if "template_id" in spec.value and (template_id is None or not str(template_id).strip()):
            reader.problem(spec.get("template_id").line, f"{where}template_id: the SMS template's id")
        if isinstance(params, list):
            params = {str(n): text for n, text in enumerate(params, start=1)}
        if "params" in spec.value and (not isinstance(params, dict) or not all(
                isinstance(name, str) and isinstance(text, str) for name, text in params.items())):
            reader.problem(spec.get("params").line, f"{where}params: a list of texts, e.g. [\"{{milestone}}\"], "
                                                    f"or the template's variables, e.g. {{name: \"{{milestone}}\"}}")
            params = {}
        for text in (params or {}).values():
            check_placeholders(reader, spec.get("params").line, text, rules[rule] | EXTRA, f"{where}params", placeholders)
        out["rules"][rule] = {"template_id": str(template_id or "").strip(), "params": dict(params or {})}
    return out


def check_placeholders(reader, line: int, text: str, allowed: set[str], where: str, placeholders) -> None:
    """Report braces that do not pair up, and a {name} this rule does not have (reminders' texts too)."""
    names = placeholders(text)
    if names is None:
        reader.problem(line, f"{where}: unbalanced {{ or }} (write {{{{ for a brace)")
    elif unknown := names - allowed:
        reader.problem(line, f"{where}: unknown placeholder {{{sorted(unknown)[0]}}} "
                             f"(this rule has: {', '.join(sorted(allowed)) or 'none'})")
