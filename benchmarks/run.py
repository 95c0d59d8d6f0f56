"""Every benchmark, one after another, with the tables they print.

    pip install -e '.[bench]'
    python benchmarks/run.py [--quick]

Spans (with the application-thread latency and the memory under a slow or absent backend),
metrics, logs, and the plain events client; each against the alternatives measured in the same
run. `--quick` runs small sizes, to see that everything works (its figures are noisy).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

FULL = {
    "bench_spans.py": [],
    "bench_metrics.py": [],
    "bench_logs.py": [],
    "bench_events.py": [],
}
QUICK = {
    "bench_spans.py": [
        *("--spans", "3000", "--rounds", "1"),
        *("--latency-spans", "2000", "--pressure-seconds", "1"),
    ],
    "bench_metrics.py": ["--points", "500", "--collections", "2", "--rounds", "1"],
    "bench_logs.py": ["--records", "2000", "--rounds", "1"],
    "bench_events.py": ["--events", "2000", "--rounds", "1"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    args = parser.parse_args()
    for script, arguments in (QUICK if args.quick else FULL).items():
        print(f"\n=== {script} {' '.join(arguments)}".rstrip(), flush=True)
        subprocess.run([sys.executable, str(HERE / script), *arguments], check=True)


if __name__ == "__main__":
    main()
