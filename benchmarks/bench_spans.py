"""Span exporter benchmark: CPU per exported span against the OTLP/HTTP exporter.

    pip install -e '.[bench]'
    python benchmarks/bench_spans.py [--spans 100000] [--batch 512] [--repeat 3]

The workload is SDK spans shaped like HTTP server spans: about 10 attributes, 8 resource
attributes, a span event on every tenth span. Each exporter exports them in batches of
`--batch` to one local HTTP sink on 127.0.0.1 that answers 200 at once. CPU is the exporting
thread's own (`time.thread_time`), so the sink, in another thread, is not counted. The table
gives CPU microseconds per span, spans per second, bytes on the wire per span, and each
exporter's CPU as a ratio of the OTLP/HTTP protobuf exporter's, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from collections.abc import Callable, Sequence

import httpx
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from _sink import Sink
from honeycomb_events import HoneycombEventsExporter, __version__


def workload(count: int) -> Sequence[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create(
            {
                "service.name": "checkout",
                "service.version": "2.3.1",
                "deployment.environment": "production",
                "host.name": "web-7f9c",
                "cloud.provider": "aws",
                "cloud.region": "eu-west-1",
                "k8s.pod.name": "checkout-7f9c-abcde",
                "k8s.namespace.name": "shop",
            }
        )
    )
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("opentelemetry.instrumentation.wsgi", "0.50b0")
    rng = random.Random(7)
    routes = ["/api/users/{id}", "/api/posts", "/api/comments/{id}", "/health"]
    for n in range(count):
        route = rng.choice(routes)
        with tracer.start_as_current_span(f"GET {route}", kind=SpanKind.SERVER) as span:
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
            if n % 10 == 0:
                span.add_event("cache miss", {"cache.key": f"user:{rng.randrange(1000)}"})
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


def measure(
    export: Callable[[Sequence[ReadableSpan]], SpanExportResult],
    spans: Sequence[ReadableSpan],
    batch: int,
    sink: Sink,
) -> tuple[float, float, int]:
    sink.received = 0
    cpu, wall = time.thread_time(), time.perf_counter()
    for start in range(0, len(spans), batch):
        result = export(spans[start : start + batch])
        assert result is SpanExportResult.SUCCESS, result
    return time.thread_time() - cpu, time.perf_counter() - wall, sink.received


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()

    sink = Sink()
    url = sink.url
    spans = workload(args.spans)
    exporters: dict[str, SpanExporter] = {
        "OTLP/HTTP protobuf": OTLPSpanExporter(endpoint=f"{url}/v1/traces"),
        "naive stdlib json + httpx": NaiveJsonExporter(url),
        "honeycomb-events (zstd)": HoneycombEventsExporter(api_key="bench", endpoint=url),
        "honeycomb-events (gzip)": HoneycombEventsExporter(
            api_key="bench", endpoint=url, compression="gzip"
        ),
        "honeycomb-events (none)": HoneycombEventsExporter(
            api_key="bench", endpoint=url, compression="none"
        ),
    }
    rows = []
    for name, exporter in exporters.items():
        measure(exporter.export, spans[: args.batch], args.batch, sink)  # warm up
        cpu, wall, wire = min(
            (measure(exporter.export, spans, args.batch, sink) for _ in range(args.repeat)),
            key=lambda outcome: outcome[0],
        )
        rows.append((name, cpu, wall, wire))
        exporter.shutdown()
    sink.shutdown()

    baseline = rows[0][1]
    print(
        f"honeycomb-events {__version__}, Python {platform.python_version()}, "
        f"{platform.machine()}, {args.spans} spans in batches of {args.batch}, "
        f"best of {args.repeat}"
    )
    print(f"{'exporter':28} {'CPU µs/span':>11} {'spans/s':>9} {'bytes/span':>10} {'CPU ratio':>9}")
    for name, cpu, wall, wire in rows:
        print(
            f"{name:28} {cpu / args.spans * 1e6:11.2f} {args.spans / wall:9.0f} "
            f"{wire / args.spans:10.1f} {cpu / baseline:9.2f}"
        )


if __name__ == "__main__":
    main()
