"""The documentation cannot drift from the code.

Every ``HONEYCOMB_*`` variable the package reads is documented in docs/configuration.md, and
every full variable name the documentation mentions is one the package reads. When MkDocs is
installed (the ``docs`` extra), the site builds with ``--strict``: no broken link or anchor, no
page left out of the navigation, no docstring the API reference cannot render.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest

from honeycomb_events import _config, cli
from honeycomb_events.otel import _baggage, _sampler

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "honeycomb_events"
DOCS = ROOT / "docs"

# A full variable name: a mention of a family such as HONEYCOMB_TRACES_... is not one.
VARIABLE = re.compile(r"\bHONEYCOMB_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_])")


def _literal(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def per_signal_settings() -> set[str]:
    """The settings the code asks `signal_variable` for, directly or through
    `_first_variable`: "APIKEY", "ENDPOINT", "DATASET"."""
    settings = set()
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            position = {"signal_variable": 1, "_first_variable": 2}.get(str(name))
            if position is not None and len(node.args) > position:
                setting = _literal(node.args[position])
                if setting is not None:
                    settings.add(setting)
    return settings


def code_variables() -> set[str]:
    """Every HONEYCOMB_* variable the package defines: the ENV_ constants of _config.py, of
    the command line (the receiver's own settings) and of the sampler and the baggage
    processor, and the per-signal names `signal_variable` builds for each signal."""
    names = {
        value
        for module in (_config, cli, _sampler, _baggage)
        for name, value in vars(module).items()
        if name.startswith("ENV_") and isinstance(value, str)
    }
    names |= {
        _config.signal_variable(signal, setting)
        for signal in get_args(_config.Signal)
        for setting in per_signal_settings()
    }
    return names


def mentioned(path: Path) -> set[str]:
    return set(VARIABLE.findall(path.read_text(encoding="utf-8")))


def test_the_code_collection_finds_the_known_variables():
    names = code_variables()
    assert per_signal_settings() == {"APIKEY", "ENDPOINT", "DATASET"}
    assert {"HONEYCOMB_API_KEY", "HONEYCOMB_SPOOL_DIR", "HONEYCOMB_TRACES_APIKEY"} <= names
    assert {"HONEYCOMB_METRICS_DATASET", "HONEYCOMB_LOGS_ENDPOINT"} <= names


def test_every_variable_the_code_reads_is_in_configuration_md():
    missing = code_variables() - mentioned(DOCS / "configuration.md")
    assert not missing, f"document these in docs/configuration.md: {sorted(missing)}"


def test_every_variable_configuration_md_names_exists_in_the_code():
    unknown = mentioned(DOCS / "configuration.md") - code_variables()
    assert not unknown, f"docs/configuration.md names variables the code never reads: {unknown}"


@pytest.mark.parametrize(
    "path",
    [*sorted(DOCS.glob("*.md")), ROOT / "README.md"],
    ids=lambda path: path.name,
)
def test_no_page_names_a_variable_the_code_does_not_read(path):
    unknown = mentioned(path) - code_variables()
    assert not unknown, f"{path.name} names variables the code never reads: {sorted(unknown)}"


def test_every_variable_named_in_the_source_is_one_it_reads():
    # Docstrings and messages included: they tell users what to set.
    named = set()
    for path in SOURCE.rglob("*.py"):
        named |= mentioned(path)
    assert named - code_variables() == set()


def _missing_docs_tools() -> list[str]:
    modules = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")
    missing = []
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:  # the parent package of a dotted name is missing
            found = False
        if not found:
            missing.append(module)
    return missing


def test_the_site_builds_strictly(tmp_path):
    missing = _missing_docs_tools()
    if missing:
        pytest.skip(
            f"MkDocs is not installed ({', '.join(missing)} missing): "
            "pip install -e '.[docs]' to build the documentation site"
        )
    environment = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    completed = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, f"mkdocs build --strict failed:\n{output}"
    assert (tmp_path / "index.html").is_file()
    assert (tmp_path / "api" / "index.html").is_file()
