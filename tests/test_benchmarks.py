"""The benchmarks run (tiny sizes): they measure, they assert nothing about speed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.mark.parametrize(
    ("script", "arguments", "rows"),
    [
        ("bench_events.py", ["--events", "600", "--batch", "200", "--repeat", "1"], 6),
        ("bench_spans.py", ["--spans", "600", "--batch", "200", "--repeat", "1"], 5),
    ],
)
def test_benchmark_prints_its_table(script, arguments, rows):
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.strip().splitlines()
    assert len(lines) == 2 + rows
    assert lines[2].rstrip().endswith("1.00")  # the baseline's ratio to itself
