"""The benchmarks run (tiny sizes): they measure, they assert nothing about speed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
BASELINE = re.compile(r" 1\.00( +[0-9.]+)?$")


def test_every_benchmark_prints_its_tables():
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / "run.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    output = completed.stdout
    for script in ("bench_spans.py", "bench_metrics.py", "bench_logs.py", "bench_events.py"):
        assert f"=== {script}" in output
    tables = output.split("=== ")[1:]
    for table in tables:
        # Each table's first contender is its baseline: its ratio to itself is 1.00 (the span
        # table goes on with the contender's extra RSS).
        baseline_rows = [line for line in table.splitlines() if BASELINE.search(line)]
        assert baseline_rows, table
    spans = tables[0]
    assert "honeycomb-events (zstd)" in spans
    assert "extra RSS MiB" in spans
    assert "The application thread" in spans
    assert "peak RSS growth MiB" in spans
    # The memory table has a row per exporter and backend, each with a number.
    memory_rows = spans.split("peak RSS growth MiB")[1].strip().splitlines()
    assert len(memory_rows) == 5
    assert all(float(row.split()[-1]) >= 0 for row in memory_rows)
