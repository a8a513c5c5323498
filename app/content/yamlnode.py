"""YAML read into nodes that remember their line, so every problem can name it; and the one check of a
bilingual field (`both_languages`) that every content reader uses."""
import yaml

LANGS = ("zh", "en")


class Node:
    def __init__(self, node: yaml.Node, value, first_line: int):
        self._node, self.value, self._first = node, value, first_line
        self.line = node.start_mark.line + first_line

    @property
    def is_mapping(self) -> bool:
        return isinstance(self._node, yaml.MappingNode)

    @property
    def is_sequence(self) -> bool:
        return isinstance(self._node, yaml.SequenceNode)

    def keys(self) -> list[tuple[str, int]]:
        """Each key with the line it is on (repeats included, so duplicates can be reported)."""
        if not self.is_mapping:
            return []
        return [(str(k.value), k.start_mark.line + self._first) for k, _ in self._node.value]

    def get(self, key: str, *, last: bool = False) -> "Node | None":
        """The value of `key`; of its first mention when given twice, or of its last with `last`
        (the one a mapping read by `load_fields` keeps)."""
        if not self.is_mapping:
            return None
        found = None
        for k, v in self._node.value:
            if str(k.value) == key:
                found = Node(v, self._child_value(key), self._first)
                if not last:
                    break
        return found

    def line_of(self, key: str) -> int:
        """The line `key` is on (its last mention when given twice), or this node's line without it."""
        lines = [line for name, line in self.keys() if name == key]
        return lines[-1] if lines else self.line

    def _child_value(self, key: str):
        # YAML 1.1 reads keys such as `true:` as booleans: match them by their spelling.
        for name, value in self.value.items() if isinstance(self.value, dict) else ():
            if str(name) == key or (isinstance(name, bool) and str(name).lower() == key):
                return value
        return None

    def items(self) -> list["Node"]:
        if not self.is_sequence:
            return []
        return [Node(v, self.value[i], self._first) for i, v in enumerate(self._node.value)]


def load_yaml(text: str, first_line: int, report) -> Node | None:
    """Parse text whose first line is line `first_line` of its file; report(line, message) on errors."""
    return _load(text, first_line, report, fields=False)


def load_fields(text: str, first_line: int, report) -> Node | None:
    """A mapping of fields (course.yml, a lesson's front matter), read stricter than `load_yaml`: a key
    given twice is reported (at any depth), each value is read on its own so that one PyYAML cannot read
    (`!!int ten`) names its field, and a control character is reported on its line. The node's value is
    a dict by each key's spelling, the last mention of a key winning."""
    return _load(text, first_line, report, fields=True)


def _load(text: str, first_line: int, report, fields: bool) -> Node | None:
    try:
        loader = yaml.SafeLoader(text)  # checks every character first
    except yaml.reader.ReaderError as e:
        if not fields:
            report(first_line, f"YAML: {e}")
            return None
        report(text.count("\n", 0, e.position) + first_line,
               f"YAML: character #x{e.character:04x} is not allowed (a control character; delete it)")
        return None
    except yaml.YAMLError as e:
        report(first_line, f"YAML: {e}")
        return None
    try:
        node = loader.get_single_node()
        if node is None:
            report(first_line, "empty: fields expected")
            return None
        if not fields:
            return Node(node, loader.construct_document(node), first_line)
        if not isinstance(node, yaml.MappingNode):
            report(node.start_mark.line + first_line, "expected a mapping of fields (name: value)")
            return None
        return Node(node, _fields(node, loader, first_line, report), first_line)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        report(mark.line + first_line if mark else first_line, f"YAML: {e.problem or e.context}")
    except (yaml.YAMLError, ValueError, TypeError) as e:
        report(first_line, f"YAML: {e}")
    finally:
        loader.dispose()
    return None


def _fields(node: yaml.MappingNode, loader: yaml.SafeLoader, first_line: int, report) -> dict:
    data = {}
    for key_node, value_node in node.value:
        key = str(key_node.value)
        if key in data:
            report(key_node.start_mark.line + first_line, f"{key}: given twice")
        try:
            data[key] = loader.construct_object(value_node, deep=True)
        except (ValueError, TypeError, AttributeError) as e:  # e.g. `!!int ten`: PyYAML raises a bare error
            raise yaml.constructor.ConstructorError(
                None, None, f"{key}: cannot read the value ({e})", value_node.start_mark) from e
        if isinstance(value_node, yaml.MappingNode):
            _fields(value_node, loader, first_line, report)  # for the keys given twice in it
    return data


def both_languages(parent: Node, key: str, problem, *, where: str = "", numbers: bool = False,
                   missing: str = '{where}{key}: missing "{lang}"',
                   not_text: str = "{where}{key}.{lang}: must be non-empty text",
                   at_keys: bool = False) -> dict[str, str] | None:
    """`key:` with zh: and en: under it, both non-empty text, no other language: {lang: text, stripped},
    or None after problem(line, message) for each fault (an absent `key` is the caller's to report).

    Callers keep their wording: `missing` and `not_text` are formatted with where, key and lang.
    `numbers` takes a number as its text (quizzes: `zh: 42`). `at_keys` is for a mapping read by
    `load_fields`: problems point at the keys' lines, and a repeated key (reported there) counts once.
    """
    sub = parent.get(key, last=at_keys)
    if sub is None:
        return None
    if not sub.is_mapping:
        problem(parent.line_of(key) if at_keys else sub.line, f"{where}{key}: expected zh: and en: under it")
        return None
    out = {}
    for lang in LANGS:
        value = sub.value.get(lang)
        if lang not in sub.value:
            problem(sub.line, missing.format(where=where, key=key, lang=lang))
        elif not (isinstance(value, str) or numbers and isinstance(value, (int, float)) and not isinstance(value, bool)
                  ) or not str(value).strip():
            problem(sub.line_of(lang) if at_keys else sub.get(lang).line,
                    not_text.format(where=where, key=key, lang=lang))
        else:
            out[lang] = str(value).strip()
    extras = [(name, line) for name, line in sub.keys() if name not in LANGS]
    if at_keys:
        extras = [(name, sub.line_of(name)) for name in dict.fromkeys(name for name, _ in extras)]
    for extra, line in extras:
        problem(line, f'{where}{key}: unknown language "{extra}" (expected zh and en)')
    return out if len(out) == len(LANGS) else None
