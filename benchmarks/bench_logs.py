"""Log exporter benchmark: CPU per exported log record against the OTLP/HTTP exporter.

    pip install -e '.[bench]'
    python benchmarks/bench_logs.py [--records N] [--batch B] [--rounds R] [--all-compressions]

The workload is application logs as the SDK's logging bridge makes them: records logged through
the stdlib `logging` module to the SDK's `LoggingHandler`, mostly INFO with some WARNING and
ERROR (errors with their traceback), each with about 5 `extra` attributes (plus the code.*
attributes the handler adds) under 8 resource attributes (and the SDK's own 4); most are logged
inside a span, so they carry its trace and span ids. Each contender exports them in batches of
`--batch` to one local HTTP sink on 127.0.0.1 that answers like Honeycomb, taking turns for
`--rounds` rounds; each reports its median round and the spread of all. The table gives CPU
microseconds per record (the exporting thread's and its exporter's own worker threads'), records
per second of wall time, bytes on the wire per record, the peak Python memory of exporting one
batch, and each contender's CPU as a ratio of the OTLP/HTTP protobuf exporter's.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
import warnings
from collections.abc import Sequence
from typing import Any

import httpx
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler, ReadableLogRecord
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind

from _harness import RESOURCE, Sink, compare, machine
from honeycomb_events.otel import HoneycombLogExporter

try:
    from opentelemetry.sdk._logs.export import (
        InMemoryLogRecordExporter,
        LogRecordExporter,
        LogRecordExportResult,
    )
except ImportError:  # SDKs before 1.39 name them InMemoryLogExporter, LogExporter, ...
    from opentelemetry.sdk._logs.export import (  # type: ignore[assignment]
        InMemoryLogExporter as InMemoryLogRecordExporter,
    )
    from opentelemetry.sdk._logs.export import (  # type: ignore[assignment]
        LogExporter as LogRecordExporter,
    )
    from opentelemetry.sdk._logs.export import (  # type: ignore[assignment]
        LogExportResult as LogRecordExportResult,
    )

ROUTES = ("/api/orders", "/api/orders/{id}", "/api/carts/{id}", "/api/payments")
PROVIDERS = ("stripe", "adyen", "paypal")


class PaymentDeclinedError(Exception):
    pass


def charge(order: str, provider: str) -> None:
    raise PaymentDeclinedError(f"{provider} declined the charge for order {order}")


def log_request(logger: logging.Logger, rng: random.Random) -> int:
    """What one request logs; returns how many records."""
    order = f"ord-{rng.randrange(1_000_000):06d}"
    extra = {
        "order.id": order,
        "user.id": f"user-{rng.randrange(50_000)}",
        "http.route": rng.choice(ROUTES),
        "cart.items": rng.randrange(1, 12),
        "payment.provider": rng.choice(PROVIDERS),
    }
    logger.info("loaded cart %s with %d items", order, extra["cart.items"], extra=extra)
    roll = rng.random()
    if roll < 0.05:
        try:
            charge(order, str(extra["payment.provider"]))
        except PaymentDeclinedError:
            logger.exception("charging order %s failed", order, extra=extra)
        return 2
    if roll < 0.15:
        latency = rng.randrange(800, 5_000)
        logger.warning(
            "payment provider %s slow: %d ms",
            extra["payment.provider"],
            latency,
            extra={**extra, "payment.latency_ms": latency},
        )
    else:
        logger.info("order %s placed, total %.2f EUR", order, rng.uniform(5, 500), extra=extra)
    return 2


def workload(count: int) -> list[ReadableLogRecord]:
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=Resource.create(RESOURCE))
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    # The SDK's handler is deprecated in favour of opentelemetry-instrumentation-logging's; it
    # still makes the same records, and is the one every SDK version has.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        handler = LoggingHandler(logger_provider=provider)
    # A logger of its own, so nothing else logged in this process lands in the workload.
    logger = logging.getLogger("bench.checkout")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.addHandler(handler)
    # Spans only need to be current, so that records pick up their ids: nothing exports them.
    tracer = TracerProvider(resource=Resource.create(RESOURCE)).get_tracer("bench.checkout")
    rng = random.Random(7)
    emitted = 0
    try:
        while emitted < count:
            # Most records come from request handlers, inside the request's span; the rest
            # from background work outside any span.
            if rng.random() < 0.8:
                with tracer.start_as_current_span("POST /api/orders", kind=SpanKind.SERVER):
                    emitted += log_request(logger, rng)
            else:
                emitted += log_request(logger, rng)
    finally:
        logger.removeHandler(handler)
    provider.shutdown()
    return list(memory.get_finished_logs()[:count])


class NaiveJsonExporter(LogRecordExporter):
    """What a straightforward hand-written exporter does: flatten, stdlib json, httpx."""

    def __init__(self, url: str) -> None:
        self._url = f"{url}/1/batch/bench"
        self._client = httpx.Client()

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        events = []
        for item in batch:
            record = item.log_record
            data: dict[str, Any] = {
                **dict(item.resource.attributes),
                **dict(record.attributes or {}),
                "body": str(record.body),
                "severity_text": record.severity_text,
            }
            if record.trace_id:
                data["trace.trace_id"] = format(record.trace_id, "032x")
                data["trace.parent_id"] = format(record.span_id or 0, "016x")
            stamp = time.gmtime((record.timestamp or record.observed_timestamp or 0) / 1e9)
            events.append({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", stamp), "data": data})
        body = json.dumps(events).encode()
        response = self._client.post(self._url, content=body, headers={"X-Honeycomb-Team": "b"})
        return (
            LogRecordExportResult.SUCCESS if response.is_success else LogRecordExportResult.FAILURE
        )

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    def shutdown(self) -> None:
        self._client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument(
        "--rounds", type=int, default=3, help="the median of this many rounds, with their spread"
    )
    # Off by default: at 100,000 records every contender adds some 15 s to the run.
    parser.add_argument(
        "--all-compressions",
        action="store_true",
        help="also measure honeycomb-events with gzip and with no compression",
    )
    args = parser.parse_args()

    records = workload(args.records)
    batches = [records[start : start + args.batch] for start in range(0, len(records), args.batch)]
    # The SDK adds its own (telemetry.sdk.*, service.instance.id) to the ones set here.
    resource_size = len(records[0].resource.attributes)
    in_spans = sum(1 for item in records if item.log_record.trace_id)
    sink = Sink()
    exporters: dict[str, LogRecordExporter] = {
        "OTLP/HTTP protobuf": OTLPLogExporter(endpoint=f"{sink.url}/v1/logs"),
        "naive stdlib json + httpx": NaiveJsonExporter(sink.url),
    }
    for compression in ("zstd", "gzip", "none") if args.all_compressions else ("zstd",):
        exporters[f"honeycomb-events ({compression})"] = HoneycombLogExporter(
            api_key="bench", endpoint=sink.url, dataset="bench", compression=compression
        )
    print(machine())
    print(
        f"{len(records)} log records ({in_spans} in spans, {resource_size} resource attributes) "
        f"in batches of {args.batch}, median of {args.rounds} interleaved rounds"
    )
    compare("record", len(records), exporters, batches, sink=sink, rounds=args.rounds)


if __name__ == "__main__":
    main()
