"""The layout rules docs/architecture.md states, checked on the source: modules stay small,
functions short, and no subpackage reaches into another's private modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "honeycomb_events"
MODULES = sorted(SOURCE.rglob("*.py"))
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 70


def _name(path: Path) -> str:
    return path.relative_to(SOURCE.parent).with_suffix("").as_posix().replace("/", ".")


def _subpackage(module: str) -> str | None:
    """``otel``, ``receiver`` or ``cli`` for a module inside one, None for the top level."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else None


def _imports(path: Path) -> list[str]:
    module = _name(path)
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module[:-9]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append(target)
            found += [f"{target}.{alias.name}" for alias in node.names]
    return [name for name in found if name.startswith("honeycomb_events")]


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_module_is_over_450_lines(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{_name(path)}: {lines} lines"


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_function_is_over_70_lines(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    long = [
        f"{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_subpackage_imports_another_ones_private_modules(path):
    own = _subpackage(_name(path))
    crossing = []
    for target in _imports(path):
        parts = target.split(".")
        if len(parts) < 3 or parts[1] in {own, None}:
            continue
        if (SOURCE / parts[1]).is_dir() and parts[2].startswith("_"):
            crossing.append(target)
    assert crossing == []


def test_architecture_md_names_every_module():
    page = (SOURCE.parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    # Top-level modules by name, the others with their subpackage: `receiver/_errors.py`.
    missing = [
        name
        for name in (path.relative_to(SOURCE).as_posix() for path in MODULES)
        if not name.endswith(("__init__.py", "__main__.py")) and f"`{name}`" not in page
    ]
    assert missing == [], "add these to docs/architecture.md"
