"""The import rules of app/ (docs/architecture.md), read from the source with `ast`.

- No import cycle between modules, counting imports inside functions (a cycle that only works
  because an import was moved into a function is still a cycle). Imports under TYPE_CHECKING are
  for annotations only and do not count.
- No module imports another module's `_private` name.
- app/core/ imports no domain except the models of accounts and cohorts.
"""
import ast
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"
CORE_MAY_IMPORT = {"app.accounts.models", "app.cohorts.models", "app.database", "app.extensions", "app.config"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in APP.rglob("*.py"):
        parts = list(path.relative_to(APP.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    return skipped


def _imports(module: str, path: Path) -> list[tuple[str, str]]:
    """(imported module, imported name or "") for every import of an app module in `module`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(target, "") for alias in node.names if (target := _resolve(alias.name))
                      and alias.name.startswith("app")]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            if not base.startswith("app"):
                continue
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.append((full if full in MODULES else _resolve(base), alias.name))
    return [(target, name) for target, name in found if target and target != module]


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w, _ in GRAPH.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycles():
    assert _cycles() == []


def test_no_module_imports_another_modules_private_names():
    private = [(module, f"{target}.{name}") for module, imports in GRAPH.items() for target, name in imports
               if name.startswith("_") and not name.startswith("__")]
    assert private == []


def test_core_imports_no_domain_but_the_people_models():
    wrong = [(module, target) for module, imports in GRAPH.items() if module.startswith("app.core")
             for target, _ in imports if not target.startswith("app.core") and target not in CORE_MAY_IMPORT]
    assert wrong == []


def test_the_graph_is_read_from_the_real_imports():
    """The graph is real: the factory reaches every blueprint module."""
    reached = {target for target, _ in GRAPH["app.factory"]}
    assert {"app.cohorts.mentor_views", "app.reminders.views", "app.api.views"} <= reached
