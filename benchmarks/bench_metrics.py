"""Metric exporter benchmark: CPU per exported data point against the OTLP/HTTP exporter.

    pip install -e '.[bench]'
    python benchmarks/bench_metrics.py [--points N] [--collections C] [--rounds R]

The workload is what an HTTP server's metric reader collects, built through the SDK: a
request-duration histogram (explicit buckets) and a request counter over every (method, route,
status code, protocol version) seen, an up-down counter of active requests per method and host,
and an observable gauge of database connections, under 8 resource attributes (and the SDK's own
4). The reader is cumulative, so each of the `--collections` collections holds about `--points`
data points; each collection (one `MetricsData`) is one batch, exported the way a periodic
reader would export it, to one local HTTP sink on 127.0.0.1 that answers like Honeycomb.
Contenders take turns for `--rounds` rounds and each keeps its best. The table gives CPU
microseconds per data point (the exporting thread's own), points per second of wall time, bytes
on the wire per point, the peak Python memory of exporting one batch, and each contender's CPU
as a ratio of the OTLP/HTTP protobuf exporter's.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import time
from collections.abc import Iterable
from typing import Any

import httpx
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    Histogram,
    InMemoryMetricReader,
    MetricExporter,
    MetricExportResult,
    MetricsData,
)
from opentelemetry.sdk.metrics.view import View
from opentelemetry.sdk.resources import Resource

from _harness import RESOURCE, Sink, compare, machine
from honeycomb_events.otel import HoneycombMetricExporter

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")
STATUSES = (200, 201, 204, 301, 304, 400, 401, 403, 404, 409, 429, 500, 502, 503)
PROTOCOLS = ("1.1", "2")
NOUNS = ("users", "orders", "carts", "products", "payments", "invoices", "reviews", "coupons")
SUFFIXES = ("", "/{id}", "/{id}/items", "/search")
HOSTS = ("shop.example.com", "api.example.com")
POOLS = ("orders-db", "users-db", "catalog-db", "sessions-cache")
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
"""The semantic conventions' advice for http.server.request.duration, in seconds."""

# Points of the two small instruments per collection: one per method and host (active
# requests), one per pool and state (connections). The rest of --points is split between the
# histogram and the counter, which share their attribute sets.
FIXED_POINTS = len(METHODS) * len(HOSTS) + len(POOLS) * 2


def request_attribute_sets(count: int, rng: random.Random) -> list[dict[str, str | int]]:
    """`count` distinct (method, route, status, protocol) sets, as many routes as needed."""
    per_route = len(METHODS) * len(STATUSES) * len(PROTOCOLS)
    routes = [
        f"/api/v{version}/{noun}{suffix}"
        for version in range(1, count // (per_route * len(NOUNS) * len(SUFFIXES)) + 2)
        for noun in NOUNS
        for suffix in SUFFIXES
    ]
    # A sample of the whole product, not its first `count` sets: otherwise every set would
    # share the first route and method, and compress unrealistically well.
    combinations = list(itertools.product(METHODS, routes, STATUSES, PROTOCOLS))
    rng.shuffle(combinations)
    return [
        {
            "http.request.method": method,
            "http.route": route,
            "http.response.status_code": status,
            "network.protocol.version": protocol,
            "url.scheme": "https",
            "server.address": HOSTS[0],
        }
        for method, route, status, protocol in combinations[:count]
    ]


def workload(points: int, collections: int) -> list[MetricsData]:
    """`collections` successive collections of a cumulative reader, each about `points`."""
    rng = random.Random(7)
    sets = request_attribute_sets(max(1, (points - FIXED_POINTS) // 2), rng)
    reader = InMemoryMetricReader()
    provider = MeterProvider(
        metric_readers=[reader],
        resource=Resource.create(RESOURCE),
        # Past the SDK's default limit of 2,000 attribute sets per metric, the rest would fold
        # into one overflow point, and --points would be out of reach.
        views=[View(instrument_name="*", aggregation_cardinality_limit=len(sets) + 1)],
    )
    meter = provider.get_meter("opentelemetry.instrumentation.wsgi", "0.50b0")
    duration = meter.create_histogram(
        "http.server.request.duration",
        unit="s",
        explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
    )
    requests = meter.create_counter("http.server.requests", unit="{request}")
    active = meter.create_up_down_counter("http.server.active_requests", unit="{request}")

    def connections(options: CallbackOptions) -> Iterable[Observation]:
        for pool in POOLS:
            used = rng.randrange(20)
            yield Observation(used, {"db.client.connection.pool.name": pool, "state": "used"})
            yield Observation(20 - used, {"db.client.connection.pool.name": pool, "state": "idle"})

    meter.create_observable_gauge(
        "db.client.connection.count", callbacks=[connections], unit="{connection}"
    )

    batches = []
    for _ in range(collections):
        for attributes in sets:
            for _ in range(rng.randint(1, 3)):
                duration.record(rng.lognormvariate(-3, 1), attributes)
                requests.add(1, attributes)
        for method in METHODS:
            for host in HOSTS:
                server = {
                    "http.request.method": method,
                    "url.scheme": "https",
                    "server.address": host,
                    "server.port": 443,
                }
                active.add(rng.randint(-3, 3), server)
        data = reader.get_metrics_data()
        assert data is not None
        batches.append(data)
    provider.shutdown()
    return batches


def count_points(data: MetricsData) -> int:
    return sum(
        len(metric.data.data_points)
        for resource_metrics in data.resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
    )


class NaiveJsonExporter(MetricExporter):
    """What a straightforward hand-written exporter does: an event per data point, stdlib json,
    httpx. Histograms keep only count and sum: no percentiles."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self._url = f"{url}/1/batch/bench"
        self._client = httpx.Client()

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: object
    ) -> MetricExportResult:
        events: list[dict[str, Any]] = []
        for resource_metrics in metrics_data.resource_metrics:
            resource = dict(resource_metrics.resource.attributes)
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    histogram = isinstance(metric.data, Histogram)
                    for point in metric.data.data_points:
                        data: dict[str, Any] = {**resource, **dict(point.attributes or {})}
                        if histogram:
                            data[f"{metric.name}.count"] = point.count
                            data[f"{metric.name}.sum"] = point.sum
                        else:
                            data[metric.name] = point.value
                        stamp = time.gmtime(point.time_unix_nano / 1e9)
                        events.append(
                            {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", stamp), "data": data}
                        )
        body = json.dumps(events).encode()
        response = self._client.post(self._url, content=body, headers={"X-Honeycomb-Team": "b"})
        return MetricExportResult.SUCCESS if response.is_success else MetricExportResult.FAILURE

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: object) -> None:
        self._client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=5_000, help="data points per collection")
    parser.add_argument("--collections", type=int, default=10, help="batches exported")
    parser.add_argument(
        "--rounds", type=int, default=3, help="the median of this many rounds, with their spread"
    )
    args = parser.parse_args()

    batches = workload(args.points, args.collections)
    total = sum(count_points(batch) for batch in batches)
    # The SDK adds its own (telemetry.sdk.*, service.instance.id) to the ones set here.
    resource_size = len(batches[0].resource_metrics[0].resource.attributes)
    sink = Sink()
    exporters: dict[str, MetricExporter] = {
        "OTLP/HTTP protobuf": OTLPMetricExporter(endpoint=f"{sink.url}/v1/metrics"),
        "naive stdlib json + httpx": NaiveJsonExporter(sink.url),
        "honeycomb-events (zstd)": HoneycombMetricExporter(
            api_key="bench", endpoint=sink.url, dataset="bench"
        ),
        "honeycomb-events (gzip)": HoneycombMetricExporter(
            api_key="bench", endpoint=sink.url, dataset="bench", compression="gzip"
        ),
        "honeycomb-events (none)": HoneycombMetricExporter(
            api_key="bench", endpoint=sink.url, dataset="bench", compression="none"
        ),
    }
    print(machine())
    print(
        f"{total} data points in {len(batches)} collections of ~{total // len(batches)} "
        f"(4 instruments, {resource_size} resource attributes), one batch per collection, "
        f"median of {args.rounds} interleaved rounds"
    )
    compare("point", total, exporters, batches, sink=sink, rounds=args.rounds)


if __name__ == "__main__":
    main()
