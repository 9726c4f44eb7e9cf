"""The apps depend on each other one way only, as the architecture says.

``bizagent`` imports no app; ``decisions`` only ``bizagent``; ``ideas`` ``decisions`` and
``bizagent``; ``workflows`` ``decisions`` and ``bizagent``; ``goals`` any of them. Every
import statement counts, function-level ones included (they are where circles hide), and
so does ``importlib.import_module("<app>…")`` with a literal name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

ALLOWED: dict[str, set[str]] = {
    "bizagent": set(),
    "decisions": {"bizagent"},
    "ideas": {"decisions", "bizagent"},
    "workflows": {"decisions", "bizagent"},
    "goals": {"ideas", "workflows", "decisions", "bizagent"},
}


def import_module_calls(tree: ast.AST) -> list[tuple[int, str]]:
    """``importlib.import_module("<literal>")`` calls, with their line numbers."""
    return [
        (node.lineno, node.args[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute | ast.Name)
        and (getattr(node.func, "attr", None) or getattr(node.func, "id", None)) == "import_module"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ]


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """Every absolute module name the tree imports, with its line number."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    found.extend(import_module_calls(tree))
    return sorted(found)


def violations(app: str) -> list[str]:
    problems = []
    for path in sorted((ROOT / app).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for lineno, module in imported_modules(tree):
            top = module.split(".")[0]
            if top in ALLOWED and top != app and top not in ALLOWED[app]:
                problems.append(f"{path.relative_to(ROOT)}:{lineno} imports {module}")
    return problems


@pytest.mark.parametrize("app", sorted(ALLOWED))
def test_it_keeps_each_apps_imports_within_its_rule(app):
    assert violations(app) == []


def test_the_scanner_sees_function_level_and_importlib_imports():
    source = (
        "def f():\n"
        "    from goals.services import x\n"
        "    import ideas.models\n"
        "    importlib.import_module('workflows.blocks')\n"
    )
    names = [module for _, module in imported_modules(ast.parse(source))]
    assert names == ["goals.services", "ideas.models", "workflows.blocks"]


def test_every_app_is_covered():
    apps = {p.parent.name for p in ROOT.glob("*/apps.py")}
    assert apps == set(ALLOWED)


# --- No circles inside an app -------------------------------------------------------
#
# Python lets two modules import each other as long as one of them does it inside a
# function, which hides the circle instead of removing it. The graph below is built
# from every import statement (function-level and ``TYPE_CHECKING`` ones included);
# a circle is a strongly connected component of more than one module.

CYCLE_FREE_APPS = ["bizagent", "decisions", "ideas", "workflows", "goals"]


def app_modules(app: str, root: Path = ROOT) -> dict[str, Path]:
    """Every module of ``app`` by dotted name (a package is its ``__init__``)."""
    modules = {}
    for path in sorted((root / app).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """The module ``name`` lands in: itself, or the nearest enclosing module we know."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def module_imports(module: str, path: Path, modules: dict[str, Path]) -> list[tuple[int, str]]:
    """The modules of the same app that ``module`` imports, with line numbers.

    Relative imports are resolved, and ``from package import name`` points at the
    submodule ``package.name`` when there is one (else at the package itself).
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: list[tuple[int, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                package = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{node.module}" if node.module else package
            else:
                base = node.module or ""
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.append(
                    (node.lineno, submodule if submodule in modules else _known(base, modules))
                )
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, _known(alias.name, modules)) for alias in node.names)
    found.extend((lineno, _known(name, modules)) for lineno, name in import_module_calls(tree))
    return sorted({(lineno, target) for lineno, target in found if target and target != module})


def import_graph(app: str, root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the modules of the same app it imports."""
    modules = app_modules(app, root)
    return {
        module: {target for _, target in module_imports(module, path, modules)}
        for module, path in modules.items()
    }


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in graph:
                    continue
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
    return sorted(components)


def cycle_report(app: str, root: Path = ROOT) -> list[str]:
    """One line per circle: its modules, and the import statements that close it."""
    modules = app_modules(app, root)
    graph = import_graph(app, root)
    lines = []
    for component in import_cycles(graph):
        members = set(component)
        edges = [
            f"{modules[source].relative_to(root)}:{lineno} -> {target}"
            for source in component
            for lineno, target in module_imports(source, modules[source], modules)
            if target in members
        ]
        lines.append(f"circle of {len(component)}: {', '.join(component)}; " + "; ".join(edges))
    return lines


@pytest.mark.parametrize("app", CYCLE_FREE_APPS)
def test_it_finds_no_import_circle_inside_an_app(app):
    assert cycle_report(app) == []


def test_the_circle_finder_sees_hidden_relative_and_submodule_imports(tmp_path):
    files = {
        "demo/__init__.py": "",
        # Function-level, relative, and ``from package import module``.
        "demo/a.py": "def f():\n    from . import b\n",
        "demo/b.py": "from demo.sub.c import thing\n",
        "demo/sub/__init__.py": "from .c import thing\n",
        "demo/sub/c.py": (
            "import importlib\nfrom ..f import y\nimportlib.import_module('demo.a')\nthing = 1\n"
        ),
        "demo/f.py": "y = 2\n",
        # Into the circle but not out of it: demo.d and demo.e are not part of it.
        "demo/d.py": "from demo import a\n",
        "demo/e.py": "from demo.d import a\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)

    assert import_graph("demo", tmp_path)["demo.a"] == {"demo.b"}
    assert import_graph("demo", tmp_path)["demo.sub"] == {"demo.sub.c"}
    assert import_graph("demo", tmp_path)["demo.sub.c"] == {"demo.a", "demo.f"}
    assert import_graph("demo", tmp_path)["demo.d"] == {"demo.a"}
    assert import_graph("demo", tmp_path)["demo.e"] == {"demo.d"}
    assert import_cycles(import_graph("demo", tmp_path)) == [["demo.a", "demo.b", "demo.sub.c"]]
    (report,) = cycle_report("demo", tmp_path)
    assert report.startswith("circle of 3: demo.a, demo.b, demo.sub.c; demo/a.py:2 -> demo.b")
