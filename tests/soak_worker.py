"""One application process of the soak test (test_soak.py), run as a script.

Makes spans at a steady rate for a while through the SDK's `BatchSpanProcessor` with its
defaults (a queue of 2,048, batches of 512) and `HoneycombEventsExporter`, configured only by
the environment, as an application under load would; then shuts the provider down, as the
interpreter would at exit, and prints a JSON report on stdout: how many spans it made, how long
`span.end()` and each `export()` took, its memory, how long the shutdown took, and the
exporter's counters.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from honeycomb_events.otel import HoneycombEventsExporter


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--rate", type=float, required=True, help="spans per second")
    parser.add_argument("--seconds", type=float, required=True)
    arguments = parser.parse_args()

    exporter = HoneycombEventsExporter()
    exports: list[tuple[float, float, int]] = []  # (started, seconds, spans)
    export = exporter.export

    def timed_export(spans):  # type: ignore[no-untyped-def]
        started = time.time()
        began = time.perf_counter()
        try:
            return export(spans)
        finally:
            exports.append((started, time.perf_counter() - began, len(spans)))

    exporter.export = timed_export  # type: ignore[method-assign]
    provider = TracerProvider(resource=Resource.create({"service.name": "soak"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("soak")

    ends: list[float] = []
    rss_before = rss_peak = rss_bytes()
    made = 0
    began = time.monotonic()
    stop = began + arguments.seconds
    while (now := time.monotonic()) < stop:
        # Paced against the clock: as many spans as the rate says by now, then a short sleep.
        due = int((now - began) * arguments.rate)
        while made < due:
            span = tracer.start_span("work")
            span.set_attributes({"process": arguments.name, "n": made})
            before = time.perf_counter()
            span.end()
            ends.append(time.perf_counter() - before)
            made += 1
        if made % 1000 < 10:
            rss_peak = max(rss_peak, rss_bytes())
        time.sleep(0.002)

    exit_began = time.monotonic()
    provider.shutdown()  # what the SDK's atexit hook does
    exit_seconds = time.monotonic() - exit_began

    ends.sort()
    json.dump(
        {
            "name": arguments.name,
            "made": made,
            "end_p50": ends[len(ends) // 2],
            "end_p99": ends[int(len(ends) * 0.99)],
            "end_max": ends[-1],
            "exports": exports,
            "rss_growth": rss_peak - rss_before,
            "exit_seconds": exit_seconds,
            "stats": exporter.stats,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
