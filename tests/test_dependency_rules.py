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


def imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """Every absolute module name the tree imports, with its line number."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (getattr(node.func, "attr", None) or getattr(node.func, "id", None))
            == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return found


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
