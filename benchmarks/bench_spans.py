"""Span exporter benchmark: CPU per exported span against the OTLP/HTTP exporter.

    pip install -e '.[bench]'
    python benchmarks/bench_spans.py [--spans 100000] [--batch 512] [--rounds 3]

The workload is SDK spans shaped like HTTP server spans: about 10 attributes, 8 resource
attributes, a span event on every tenth span. Each exporter exports them in batches of
`--batch` to one local HTTP sink on 127.0.0.1, which answers batch requests as Honeycomb does
(one status per event) and OTLP requests with an empty 200.

Three tables:

- Export cost: CPU microseconds per span of the exporting thread (and of the exporter's own
  threads), spans per second of wall time, bytes on the wire per span, the peak of Python
  memory allocated while exporting one batch, each exporter's CPU as a ratio of the OTLP/HTTP
  protobuf exporter's, measured in the same run, and the extra peak RSS of a fresh process
  while one exporter exports the whole workload.
- The application thread: what `start_as_current_span` + `end` costs with a
  `BatchSpanProcessor` whose exporter is this package's, with the backend healthy, slow and
  down, against the same processor with an exporter that does nothing (the SDK's own cost).
- Memory: peak RSS of a process that makes spans as fast as it can for a few seconds while
  the backend is slow or down, for each exporter: bounded by the processor's queue.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import logging
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

# httpx imports these on its first client: a process's cost, imported before RSS is read.
import h11  # noqa: F401
import httpcore  # noqa: F401
import httpx
import msgspec
import zstandard
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Tracer

from _harness import RESOURCE, Sink, compare, machine, peak_rss_bytes
from honeycomb_events import HoneycombEventsExporter

ROUTES = ("/api/users/{id}", "/api/posts", "/api/comments/{id}", "/health")


def make_span(tracer: Tracer, rng: random.Random, number: int) -> float:
    """One span shaped like an HTTP server span; every tenth has a span event. Returns the
    seconds its `end()` took: where a span processor hands the span to its exporter."""
    route = rng.choice(ROUTES)
    span = tracer.start_span(f"GET {route}", kind=SpanKind.SERVER)
    span.set_attributes(
        {
            "http.request.method": "GET",
            "http.route": route,
            "url.path": route.replace("{id}", str(rng.randrange(1000))),
            "url.scheme": "https",
            "http.response.status_code": rng.choice([200] * 18 + [404, 500]),
            "server.address": "shop.example.com",
            "server.port": 443,
            "client.address": f"10.0.{rng.randrange(256)}.{rng.randrange(256)}",
            "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64)",
            "network.protocol.version": "1.1",
        }
    )
    if number % 10 == 0:
        span.add_event("cache miss", {"cache.key": f"user:{rng.randrange(1000)}"})
    began = time.perf_counter()
    span.end()
    return time.perf_counter() - began


def workload(count: int) -> Sequence[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create(RESOURCE))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("opentelemetry.instrumentation.wsgi", "0.50b0")
    rng = random.Random(7)
    for number in range(count):
        make_span(tracer, rng, number)
    return memory.get_finished_spans()


class NaiveJsonExporter(SpanExporter):
    """What a straightforward hand-written exporter does: flatten, stdlib json, httpx."""

    def __init__(self, url: str) -> None:
        self._url = f"{url}/1/batch/bench"
        self._client = httpx.Client()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        events = []
        for span in spans:
            data = {
                "trace.trace_id": format(span.context.trace_id, "032x"),
                "trace.span_id": format(span.context.span_id, "016x"),
                "name": span.name,
                "duration_ms": (span.end_time - span.start_time) / 1e6,
                **dict(span.resource.attributes),
                **dict(span.attributes or {}),
            }
            if span.parent is not None:
                data["trace.parent_id"] = format(span.parent.span_id, "016x")
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(span.start_time / 1e9))
            events.append({"time": stamp + "Z", "data": data})
        body = json.dumps(events).encode()
        response = self._client.post(self._url, content=body, headers={"X-Honeycomb-Team": "b"})
        return SpanExportResult.SUCCESS if response.is_success else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        self._client.close()


class HandTunedExporter(SpanExporter):
    """The floor to approach: flatten through the SDK's public API, msgspec JSON, zstd level 1,
    one plain `http.client` POST. It does less than this package (no limits, no sampling, no
    span events or links as their own events, no retries, no per-event results): a measure of
    what the work costs at its simplest, not an exporter to use."""

    def __init__(self, url: str) -> None:
        self._host, self._port = url.removeprefix("http://").split(":")
        self._connection = http.client.HTTPConnection(self._host, int(self._port))
        self._encode = msgspec.json.Encoder().encode
        self._zstd = zstandard.ZstdCompressor(level=1)
        self._headers = {
            "X-Honeycomb-Team": "b",
            "Content-Type": "application/json",
            "Content-Encoding": "zstd",
        }

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        events = []
        for span in spans:
            context, parent = span.context, span.parent
            data = dict(span.resource.attributes)
            data.update(span.attributes or {})
            data["trace.trace_id"] = f"{context.trace_id:032x}"
            data["trace.span_id"] = f"{context.span_id:016x}"
            if parent is not None:
                data["trace.parent_id"] = f"{parent.span_id:016x}"
            data["name"] = span.name
            data["duration_ms"] = (span.end_time - span.start_time) / 1e6
            events.append({"time": span.start_time / 1e9, "data": data})
        body = self._zstd.compress(self._encode(events))
        self._connection.request("POST", "/1/batch/bench", body, self._headers)
        response = self._connection.getresponse()
        response.read()
        return SpanExportResult.SUCCESS if response.status == 200 else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        self._connection.close()


class NoExporter(SpanExporter):
    """Accepts every batch at once: what the SDK costs without any exporter's work."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def exporter_named(name: str, url: str) -> SpanExporter:
    if name == "otlp":
        return OTLPSpanExporter(endpoint=f"{url}/v1/traces", timeout=5)
    if name == "honeycomb-events":
        return HoneycombEventsExporter(api_key="bench", endpoint=url, timeout=5)
    if name == "none":
        return NoExporter()
    raise ValueError(name)


CONTENDERS: dict[str, Callable[[str], SpanExporter]] = {
    "OTLP/HTTP protobuf": lambda url: OTLPSpanExporter(endpoint=f"{url}/v1/traces"),
    "naive stdlib json + httpx": NaiveJsonExporter,
    "hand-tuned floor (msgspec, zstd)": HandTunedExporter,
    "honeycomb-events (zstd)": lambda url: HoneycombEventsExporter(api_key="bench", endpoint=url),
    "honeycomb-events (gzip)": lambda url: HoneycombEventsExporter(
        api_key="bench", endpoint=url, compression="gzip"
    ),
    "honeycomb-events (none)": lambda url: HoneycombEventsExporter(
        api_key="bench", endpoint=url, compression="none"
    ),
}


def export_cost(spans: Sequence[ReadableSpan], batch: int, rounds: int) -> None:
    rss = extra_rss(len(spans), batch)
    sink = Sink()
    exporters = {name: make(sink.url) for name, make in CONTENDERS.items()}
    batches = [spans[start : start + batch] for start in range(0, len(spans), batch)]
    print(f"\nExport cost: {len(spans)} spans in batches of {batch}, median of {rounds} rounds")
    print(
        "(extra RSS: peak RSS growth of a fresh process while one exporter exports them all,"
        " after imports and the spans were made)"
    )
    compare("span", len(spans), exporters, batches, sink=sink, rounds=rounds, rss=rss)


def extra_rss(count: int, batch: int) -> dict[str, float]:
    """Each contender's extra peak RSS in MiB, each measured in a fresh process."""
    sink = Sink()
    sink.tracing_memory = True  # empty answers: the sink's own decoding is not measured
    found = {}
    for name in CONTENDERS:
        completed = subprocess.run(
            [sys.executable, __file__, "--rss", name, sink.url, str(count), str(batch)],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
        found[name] = json.loads(completed.stdout.strip().splitlines()[-1]) / 2**20
    sink.shutdown()
    return found


def rss_child(name: str, url: str, count: int, batch: int) -> None:
    """The child process of `extra_rss`: prints its peak RSS growth in bytes."""
    spans = workload(count)
    gc.collect()
    before = peak_rss_bytes()
    exporter = CONTENDERS[name](url)
    for start in range(0, len(spans), batch):
        exporter.export(spans[start : start + batch])
    exporter.force_flush()
    print(json.dumps(peak_rss_bytes() - before), flush=True)
    os._exit(0)


def span_end_latency(count: int) -> None:
    """What making a span costs the application thread, through a BatchSpanProcessor: its
    `end()` (where the processor takes the span) and the whole span."""
    slow = Sink(stall=2.0)
    healthy = Sink()
    down = Sink()
    down_url = down.url
    down.shutdown()
    down.server_close()
    setups = {
        "no exporter (the SDK's own cost)": NoExporter(),
        "honeycomb-events, backend healthy": exporter_named("honeycomb-events", healthy.url),
        "honeycomb-events, backend slow (2 s)": exporter_named("honeycomb-events", slow.url),
        "honeycomb-events, backend down": exporter_named("honeycomb-events", down_url),
        "OTLP/HTTP, backend healthy": exporter_named("otlp", healthy.url),
    }
    print(f"\nThe application thread: {count} spans made through a BatchSpanProcessor")
    print(
        f"{'exporter':38} {'end() median µs':>15} {'end() p99 µs':>12} {'end() max ms':>12} "
        f"{'span median µs':>14}"
    )
    for name, exporter in setups.items():
        provider = TracerProvider(resource=Resource.create(RESOURCE))
        provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=100))
        tracer = provider.get_tracer("opentelemetry.instrumentation.wsgi", "0.50b0")
        rng = random.Random(7)
        ends, wholes = [], []
        for number in range(count):
            began = time.perf_counter()
            ends.append(make_span(tracer, rng, number))
            wholes.append(time.perf_counter() - began)
        ends.sort()
        print(
            f"{name:38} {statistics.median(ends) * 1e6:15.1f} "
            f"{ends[int(len(ends) * 0.99)] * 1e6:12.1f} {ends[-1] * 1e3:12.2f} "
            f"{statistics.median(wholes) * 1e6:14.1f}"
        )
        # The exporter first, so the spans still queued fail at once instead of each waiting
        # out a slow or absent backend.
        exporter.shutdown()
        provider.shutdown()
    healthy.shutdown()
    slow.shutdown()


def memory_under_pressure(seconds: float) -> None:
    """Peak RSS of a fresh process making spans for `seconds` while the backend misbehaves."""
    print(f"\nMemory: peak RSS of a process making spans for {seconds:g} s (BatchSpanProcessor,")
    print("max_queue_size 2048, batches of 512), above the same process before its first span")
    print(f"{'exporter':20} {'backend':8} {'spans made':>10} {'peak RSS growth MiB':>20}")
    for exporter in ("none", "honeycomb-events", "otlp"):
        for backend in ("slow", "down"):
            if exporter == "none" and backend == "down":
                continue
            completed = subprocess.run(
                [sys.executable, __file__, "--pressure", exporter, backend, str(seconds)],
                capture_output=True,
                text=True,
                check=True,
                timeout=seconds + 60,
            )
            made, growth = json.loads(completed.stdout.strip().splitlines()[-1])
            label = "(no exporter)" if exporter == "none" else exporter
            backend_label = "-" if exporter == "none" else backend
            print(f"{label:20} {backend_label:8} {made:10d} {growth / 2**20:20.1f}")


def pressure(exporter_name: str, backend: str, seconds: float) -> None:
    """The child process of `memory_under_pressure`: prints [spans made, peak RSS growth]."""
    sink = Sink(stall=2.0)
    url = sink.url
    if backend == "down":
        sink.shutdown()
        sink.server_close()
    exporter = exporter_named(exporter_name, url)
    provider = TracerProvider(resource=Resource.create(RESOURCE))
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=2048))
    tracer = provider.get_tracer("opentelemetry.instrumentation.wsgi", "0.50b0")
    rng = random.Random(7)
    for number in range(2048):  # imports, caches and the queue's own size reached first
        make_span(tracer, rng, number)
    before = peak_rss_bytes()
    made = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        make_span(tracer, rng, made)
        made += 1
    growth = peak_rss_bytes() - before
    print(json.dumps([made, growth]), flush=True)
    # Skip the provider's flush at exit: with the backend down it would only wait out the
    # export timeout, which says nothing about memory.
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument(
        "--rounds", type=int, default=3, help="the median of this many rounds, with their spread"
    )
    parser.add_argument("--latency-spans", type=int, default=20_000)
    parser.add_argument("--pressure-seconds", type=float, default=5.0)
    parser.add_argument("--pressure", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--rss", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss:
        name, url, count, batch = args.rss
        rss_child(name, url, int(count), int(batch))
        return
    if args.pressure:
        exporter, backend, seconds = args.pressure
        pressure(exporter, backend, float(seconds))
        return

    # The slow and absent backends make exporters log every failed export; the tables say
    # what matters here.
    for name in ("honeycomb_events", "opentelemetry"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    print(machine())
    export_cost(workload(args.spans), args.batch, args.rounds)
    if args.latency_spans:
        span_end_latency(args.latency_spans)
    if args.pressure_seconds:
        memory_under_pressure(args.pressure_seconds)


if __name__ == "__main__":
    main()
