"""YAML read into nodes that remember their line, so every problem can name it."""
import yaml


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

    def get(self, key: str) -> "Node | None":
        if not self.is_mapping:
            return None
        for k, v in self._node.value:
            if str(k.value) == key:
                return Node(v, self._child_value(key), self._first)
        return None

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
    try:
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as e:
        report(first_line, f"YAML: {e}")
        return None
    try:
        node = loader.get_single_node()
        if node is None:
            report(first_line, "empty: fields expected")
            return None
        return Node(node, loader.construct_document(node), first_line)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        report(mark.line + first_line if mark else first_line, f"YAML: {e.problem or e.context}")
    except (yaml.YAMLError, ValueError, TypeError) as e:
        report(first_line, f"YAML: {e}")
    finally:
        loader.dispose()
    return None
