"""What every benchmark shares: a local sink that answers like Honeycomb, measuring contenders
in interleaved rounds, and printing the table (each contender's median round, and the spread
of all its rounds).

CPU is the exporting thread's own (`time.thread_time`) and that of any thread the exporter
runs for itself (this package's courier and buffered sender, the naive buffered sender of
`bench_events.py`, all named ``honeycomb-events-*``): the sink runs in
another thread of the same process and is not counted. Contenders are measured in turns, round
after round, so a noisy neighbour on a shared machine slows every contender alike instead of
whichever happened to run at the time; each reports its median round and the spread of all.
"""

from __future__ import annotations

import gc
import gzip
import os
import platform
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from typing import Any

import msgspec
import zstandard

# The benchmarks stall and stop their backends on purpose: the lines that would tell a user
# about it would only interleave with the tables.
os.environ.setdefault("HONEYCOMB_QUIET", "true")

RESOURCE = {
    "service.name": "checkout",
    "service.version": "2.3.1",
    "deployment.environment": "production",
    "host.name": "web-7f9c",
    "cloud.provider": "aws",
    "cloud.region": "eu-west-1",
    "k8s.pod.name": "checkout-7f9c-abcde",
    "k8s.namespace.name": "shop",
}
"""The resource attributes of every benchmark's workload: a service in a Kubernetes pod."""

PACKAGES = (
    "honeycomb-events",
    "opentelemetry-sdk",
    "opentelemetry-exporter-otlp-proto-http",
    "protobuf",
    "httpx",
    "msgspec",
    "zstandard",
)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle's algorithm on, the second waits for
    # the client's delayed ACK (~40 ms) on a kept-alive connection.
    disable_nagle_algorithm = True
    server: Sink

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received += len(body)
        if self.server.stall:
            time.sleep(self.server.stall)
        answer = b""
        if self.path.startswith("/1/batch/") and not self.server.tracing_memory:
            # Honeycomb answers a batch with one status per event: the client reads them all.
            count = len(_decode(body, self.headers))
            answer = b"[" + b",".join([b'{"status":202}'] * count) + b"]"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _decode(body: bytes, headers: Any) -> list[Any]:
    encoding = headers.get("Content-Encoding")
    if encoding == "zstd":
        body = zstandard.ZstdDecompressor().decompressobj().decompress(body)
    elif encoding == "gzip":
        body = gzip.decompress(body)
    # Raw: the events are counted, not built, to keep the sink's share of the machine small.
    if headers.get("Content-Type") == "application/msgpack":
        return msgspec.msgpack.decode(body, type=list[msgspec.Raw])
    return msgspec.json.decode(body, type=list[msgspec.Raw])


class Sink(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 in a daemon thread. Batch requests get Honeycomb's answer
    (a 202 per event), OTLP requests an empty 200. `received` counts body bytes (the wire
    size); `stall` makes every answer wait that many seconds (a slow backend).

    While `tracing_memory` is set, batch requests get an empty 200 (which Honeycomb clients
    read as all accepted) so that the sink's own decoding, in the same process, is not
    counted as the exporter's memory.
    """

    daemon_threads = True

    def __init__(self, stall: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received = 0
        self.stall = stall
        self.tracing_memory = False
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (an exporter shut down mid-request) is not news."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class Outcome:
    name: str
    cpu_seconds: float
    wall_seconds: float
    wire_bytes: int
    peak_bytes: int = 0
    cpu_rounds: tuple[float, ...] = ()
    """Every round's CPU seconds, for the spread."""


Export = Callable[[Any], None]
"""Exports one batch; raises if the batch was not accepted."""


def exporter_cpu() -> float:
    """CPU seconds of this thread and of the exporters' own worker threads."""
    total = time.thread_time()
    for thread in threading.enumerate():
        if thread.name.startswith("honeycomb-events") and thread.ident is not None:
            try:
                total += time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
            except (OSError, ProcessLookupError):  # the thread ended meanwhile
                continue
    return total


def _one_round(name: str, export: Export, batches: Sequence[Any], sink: Sink) -> Outcome:
    sink.received = 0
    gc.collect()  # no contender pays for the garbage another one left
    cpu, wall = exporter_cpu(), time.perf_counter()
    for batch in batches:
        export(batch)
    # What is still on its way is part of the round (an exporter that streams its batches
    # returns before their answers): its `finish`, a force_flush, waits for it.
    finish = getattr(export, "finish", None)
    if finish is not None:
        finish()
    return Outcome(name, exporter_cpu() - cpu, time.perf_counter() - wall, sink.received)


def peak_bytes(export: Export, batch: Any, sink: Sink) -> int:
    """The most memory Python had allocated at once while exporting `batch`, above what was
    allocated before (tracemalloc; measured apart, since tracing slows everything)."""
    sink.tracing_memory = True
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        export(batch)
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
        sink.tracing_memory = False


def interleaved(
    contenders: dict[str, Export], batches: Sequence[Any], sink: Sink, rounds: int
) -> list[Outcome]:
    """Each contender's median round (by CPU), with every round's CPU kept for the spread; the
    contenders take turns every round."""
    for export in contenders.values():  # connections, caches and imports warmed up
        export(batches[0])
    seen: dict[str, list[Outcome]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, export in contenders.items():
            seen[name].append(_one_round(name, export, batches, sink))
    medians = []
    for name, export in contenders.items():
        ordered = sorted(seen[name], key=lambda outcome: outcome.cpu_seconds)
        median = ordered[(len(ordered) - 1) // 2]
        median.cpu_rounds = tuple(outcome.cpu_seconds for outcome in ordered)
        median.peak_bytes = peak_bytes(export, batches[0], sink)
        medians.append(median)
    return medians


def machine() -> str:
    """The machine and the versions a figure was measured with."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = []
    for package in PACKAGES:
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    return (
        f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}\n" + ", ".join(versions)
    )


def _spread(outcome: Outcome) -> str:
    """The rounds' range around the median, in percent: how far one run's figure can be off."""
    rounds = outcome.cpu_rounds or (outcome.cpu_seconds,)
    below = (1 - rounds[0] / outcome.cpu_seconds) * 100
    above = (rounds[-1] / outcome.cpu_seconds - 1) * 100
    return f"-{below:.0f}/+{above:.0f}%"


def print_table(
    unit: str,
    count: int,
    outcomes: Sequence[Outcome],
    rss: Mapping[str, float] | None = None,
) -> None:
    """Median CPU per `unit` and its spread over the rounds, wall throughput of that round,
    wire bytes, peak memory per batch, each contender's median CPU as a ratio of the first
    one's (the baseline), and, when measured, its extra peak RSS in MiB (`rss`)."""
    baseline = outcomes[0].cpu_seconds
    print(
        f"{'exporter':34} {'CPU µs/' + unit:>14} {'spread':>9} {unit + 's/s':>11} "
        f"{'bytes/' + unit:>12} {'peak KiB/batch':>14} {'CPU ratio':>9}"
        + (f" {'extra RSS MiB':>13}" if rss else "")
    )
    for outcome in outcomes:
        extra = ""
        if rss:
            extra = f" {rss[outcome.name]:13.1f}" if outcome.name in rss else f" {'-':>13}"
        print(
            f"{outcome.name:34} {outcome.cpu_seconds / count * 1e6:14.2f} {_spread(outcome):>9} "
            f"{count / outcome.wall_seconds:11.0f} {outcome.wire_bytes / count:12.1f} "
            f"{outcome.peak_bytes / 1024:14.0f} {outcome.cpu_seconds / baseline:9.2f}" + extra
        )


def peak_rss_bytes() -> int:
    """This process's peak resident memory so far (VmHWM)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def compare(
    unit: str,
    count: int,
    exporters: Mapping[str, Any],
    batches: Sequence[Any],
    *,
    sink: Sink,
    rounds: int,
    rss: Mapping[str, float] | None = None,
) -> None:
    """Measure every SDK exporter on `batches` (see `interleaved`), shut them and the sink
    down, and print the table (with `rss`, see `print_table`). An export that is not a
    success raises: a failed export would otherwise look like a fast one."""

    def checked(name: str, exporter: Any) -> Export:
        def export(batch: Any) -> None:
            result = exporter.export(batch)
            if result.name != "SUCCESS":  # the SDK's three export results all name it so
                raise RuntimeError(f"{name}: export returned {result}")

        def finish() -> None:
            if exporter.force_flush() is False:
                raise RuntimeError(f"{name}: force_flush failed")

        if hasattr(exporter, "force_flush"):
            export.finish = finish  # type: ignore[attr-defined]
        return export

    try:
        outcomes = interleaved(
            {name: checked(name, exporter) for name, exporter in exporters.items()},
            batches,
            sink,
            rounds,
        )
    finally:
        for exporter in exporters.values():
            exporter.shutdown()
        sink.shutdown()
    print_table(unit, count, outcomes, rss)
