"""Instructions per span, log record and metric data point, against the OTLP/HTTP exporters,
and per event of the events client against the naive sender: the benchmarks' CPU ratios
without the machine's noise.

    python benchmarks/bench_instructions.py [--signals spans logs metrics events]

Each contender runs in a child process under ``valgrind --tool=cachegrind`` (needs valgrind),
exporting the same batches twice and, in a second child, not at all; the difference divided by
the items exported is its instructions per item, every thread of the exporting process counted.
The sink that answers runs in a process of its own, outside the count. Counts are exact and
repeat from run to run; what they do not show is how many instructions a cycle runs (protobuf's
C code runs more than the interpreter does), so CPU-time ratios come out higher.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

import bench_events
import bench_logs
import bench_metrics
import bench_spans
from honeycomb_events import Compression, Encoding, HoneycombLogExporter, HoneycombMetricExporter

HERE = Path(__file__).resolve().parent
ROUNDS = 2
SINK = (
    "import sys, time; sys.path.insert(0, {here!r}); from _harness import Sink; "
    "s = Sink(); print(s.url, flush=True); time.sleep(3600)"
)
CONTENDERS = {
    "spans": ("OTLP/HTTP protobuf", "hand-tuned floor (msgspec, zstd)", "honeycomb-events (zstd)"),
    "logs": ("OTLP/HTTP protobuf", "honeycomb-events (zstd)"),
    "metrics": ("OTLP/HTTP protobuf", "honeycomb-events (zstd)"),
    "events": (
        "naive stdlib json + httpx",
        "naive buffered, stdlib json + httpx",
        "honeycomb-events send_batch, none",
        "honeycomb-events buffered, none",
    ),
}


def workload(signal: str, name: str, url: str) -> tuple[Callable[[], None], int]:
    """One round's export of `signal` by contender `name`, and how many items it exports."""
    exporter: Any
    if signal == "spans":
        spans = bench_spans.workload(1024)
        batches: Sequence[Any] = [spans[:512], spans[512:]]
        exporter = bench_spans.CONTENDERS[name](url)
        count = len(spans)
    elif signal == "logs":
        records = bench_logs.workload(1024)
        batches = [records[:512], records[512:]]
        exporter = (
            OTLPLogExporter(endpoint=f"{url}/v1/logs")
            if name.startswith("OTLP")
            else HoneycombLogExporter(api_key="bench", endpoint=url, dataset="bench")
        )
        count = len(records)
    elif signal == "events":
        return _events_workload(name, url)
    else:
        collections = bench_metrics.workload(1000, 3)
        exporter = (
            OTLPMetricExporter(endpoint=f"{url}/v1/metrics")
            if name.startswith("OTLP")
            else HoneycombMetricExporter(api_key="bench", endpoint=url, dataset="bench")
        )
        exporter.export(collections[0])  # cumulative state and caches made once
        batches = collections[1:]
        count = sum(bench_metrics.count_points(batch) for batch in batches)

    def export_all() -> None:
        for batch in batches:
            exporter.export(batch)
        if hasattr(exporter, "force_flush"):
            exporter.force_flush()

    return export_all, count


def _events_workload(name: str, url: str) -> tuple[Callable[[], None], int]:
    """The events client's round: 1,000 events in batches of 500, uncompressed."""
    events = bench_events.workload(1000)
    if name.startswith("naive buffered"):
        send = bench_events.naive_buffered(url, 500)
    elif name.startswith("naive"):
        send = bench_events.naive(url, compress=False)
    elif "buffered" in name:
        send = bench_events.buffered(url, 500)
    else:
        send = bench_events.ours(url, Encoding.JSON, Compression.NONE)

    def send_all() -> None:
        send(events[:500])
        send(events[500:])

    return send_all, len(events)


def child(signal: str, name: str, rounds: int) -> None:
    """Under valgrind: warm up, then export `rounds` times; prints the item count."""
    sink = subprocess.Popen(
        [sys.executable, "-c", SINK.format(here=str(HERE))],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sink.stdout is not None
    url = sink.stdout.readline().strip()
    export_all, count = workload(signal, name, url)
    export_all()  # imports, caches, connections
    gc.collect()
    gc.freeze()
    for _ in range(rounds):
        export_all()
    print(count, flush=True)
    sink.kill()
    os._exit(0)


def instructions(signal: str, name: str, rounds: int) -> tuple[int, int]:
    completed = subprocess.run(
        [
            shutil.which("valgrind") or "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
            sys.executable,
            __file__,
            "--child",
            signal,
            name,
            str(rounds),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
        timeout=1800,
    )
    found = re.search(r"I\s+refs:\s+([\d,]+)", completed.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from valgrind: {completed.stderr[-500:]}")
    return int(found.group(1).replace(",", "")), int(completed.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--signals", nargs="+", default=list(CONTENDERS), choices=CONTENDERS)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        signal, name, rounds = args.child
        child(signal, name, int(rounds))
        return
    if shutil.which("valgrind") is None:
        sys.exit("bench_instructions.py needs valgrind (apt-get install valgrind)")
    for signal in args.signals:
        print(f"\n{signal}: instructions per item, every thread of the exporting process")
        print(f"{'exporter':36} {'instructions':>14} {'ratio':>7}")
        baseline = None
        for name in CONTENDERS[signal]:
            idle, _ = instructions(signal, name, 0)
            busy, count = instructions(signal, name, ROUNDS)
            per_item = (busy - idle) / (ROUNDS * count)
            baseline = baseline or per_item
            print(f"{name:36} {per_item:14,.0f} {per_item / baseline:7.3f}", flush=True)


if __name__ == "__main__":
    main()
