"""Load: 8 clients at once, 50,000 events each, into a receiver in its own process with a
database file, as ``serve --db`` runs: three send JSON batches, three msgpack batches (both
zstd, as the client sends), two OTLP/HTTP protobuf traces (gzip, as the OTLP exporter sends).
Every event must be stored exactly once. Run with ``-s`` to see the request latencies and the
receiver's peak memory (the closing notes quote them).
"""

from __future__ import annotations

import gzip
import sqlite3
import statistics
import sys
import threading
import time
from collections.abc import Callable

import httpx
import msgspec
import pytest
import zstandard
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from .served import Served

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

EVENTS_PER_CLIENT = 50_000
BATCH = 500
HEADERS = {"X-Honeycomb-Team": "load"}


def _event(client: int, number: int) -> dict[str, object]:
    return {
        "data": {
            "uid": f"{client}-{number}",
            "name": "GET /orders",
            "duration_ms": number % 977 / 7,
            "http.status_code": 200 if number % 50 else 500,
            "service.name": "load",
            "user.id": number % 1000,
        },
        "time": time.time(),
    }


def _events_body(client: int, start: int, encoding: str) -> tuple[bytes, dict[str, str]]:
    batch = [_event(client, number) for number in range(start, start + BATCH)]
    if encoding == "msgpack":
        raw, kind = msgspec.msgpack.encode(batch), "application/msgpack"
    else:
        raw, kind = msgspec.json.encode(batch), "application/json"
    # A compressor per body: zstandard's compressors are not safe to share between threads.
    body = zstandard.ZstdCompressor(level=1).compress(raw)
    return body, {"Content-Type": kind, "Content-Encoding": "zstd"}


def _spans_body(client: int, start: int) -> tuple[bytes, dict[str, str]]:
    now = time.time_ns()
    spans = [
        Span(
            trace_id=(client << 64 | number // 8 + 1).to_bytes(16, "big"),
            span_id=(number + 1).to_bytes(8, "big"),
            name="GET /orders",
            kind=Span.SPAN_KIND_SERVER,
            start_time_unix_nano=now,
            end_time_unix_nano=now + 1_500_000,
            attributes=[
                KeyValue(key="uid", value=AnyValue(string_value=f"{client}-{number}")),
                KeyValue(key="http.status_code", value=AnyValue(int_value=200)),
            ],
        )
        for number in range(start, start + BATCH)
    ]
    resource = Resource(
        attributes=[KeyValue(key="service.name", value=AnyValue(string_value="load"))]
    )
    request = ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(resource=resource, scope_spans=[ScopeSpans(spans=spans)])]
    )
    headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}
    return gzip.compress(request.SerializeToString()), headers


CLIENTS: list[tuple[str, str, Callable[[int, int], tuple[bytes, dict[str, str]]]]] = [
    *[("/1/batch/load", "json", lambda c, s: _events_body(c, s, "json"))] * 3,
    *[("/1/batch/load", "msgpack", lambda c, s: _events_body(c, s, "msgpack"))] * 3,
    *[("/v1/traces", "otlp", _spans_body)] * 2,
]


def test_eight_clients_of_50000_events_each_are_stored_once(tmp_path):
    db = str(tmp_path / "load.sqlite3")
    served = Served(db)
    latencies: dict[str, list[float]] = {kind: [] for _, kind, _ in CLIENTS}
    failures: list[str] = []

    def client(number: int) -> None:
        path, kind, body_of = CLIENTS[number]
        with httpx.Client(base_url=served.url, timeout=60) as http:
            for start in range(0, EVENTS_PER_CLIENT, BATCH):
                body, headers = body_of(number, start)
                began = time.perf_counter()
                response = http.post(path, headers=HEADERS | headers, content=body)
                latencies[kind].append(time.perf_counter() - began)
                if response.status_code != 200 or (
                    kind != "otlp" and any(r["status"] != 202 for r in response.json())
                ):
                    failures.append(f"{kind}: {response.status_code} {response.text[:200]}")

    try:
        before = served.peak_rss()
        began = time.perf_counter()
        threads = [threading.Thread(target=client, args=(n,)) for n in range(len(CLIENTS))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
        peak = served.peak_rss()
    finally:
        served.close()
    assert failures == []

    with sqlite3.connect(db) as conn:
        stored, distinct = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT json_extract(data, '$.uid')) FROM events"
        ).fetchone()
    total = EVENTS_PER_CLIENT * len(CLIENTS)
    assert (stored, distinct) == (total, total)

    every = sorted(value for values in latencies.values() for value in values)
    print(
        f"\n{total:,} events from {len(CLIENTS)} clients in {elapsed:.1f} s "
        f"({total / elapsed:,.0f} events/s); receiver peak RSS {before / 2**20:.0f} -> "
        f"{peak / 2**20:.0f} MiB"
    )
    for kind, values in sorted(latencies.items()):
        values.sort()
        print(
            f"  {kind:8} {len(values)} requests of {BATCH}: p50 "
            f"{statistics.median(values) * 1e3:.0f} ms, p99 "
            f"{values[int(len(values) * 0.99)] * 1e3:.0f} ms"
        )
    print(f"  all      p99 {every[int(len(every) * 0.99)] * 1e3:.0f} ms")
