"""Send metrics: a counter, a histogram, an up-down counter and an observable gauge.

Data points of one export that share their second, resource and attributes become one event,
with a field per metric (`orders`, `checkout.duration.p99`, `carts.open`, ...), in the metrics
dataset (`HONEYCOMB_METRICS_DATASET`, default `unknown_metrics`). Settings come from the
environment:

    export HONEYCOMB_API_KEY=...             # an ingest key of your environment
    export OTEL_SERVICE_NAME=shop            # a field of every metric event
    python examples/metrics.py

Without an account, run `honeycomb-events serve --port 8086` and also set
HONEYCOMB_API_ENDPOINT=http://127.0.0.1:8086 (any key is accepted).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource

from honeycomb_events import HoneycombMetricExporter
from honeycomb_events.otel import map_metrics


class PrintingMetricExporter(HoneycombMetricExporter):
    """HoneycombMetricExporter that also prints the metric fields of each event it sends.

    Only to show what goes out: in an application, use HoneycombMetricExporter itself."""

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        result = super().export(metrics_data, timeout_millis, **kwargs)
        resource_fields = {
            key for rm in metrics_data.resource_metrics for key in rm.resource.attributes
        }
        for _resource, events in map_metrics(metrics_data):
            for event in events:
                shown = {k: v for k, v in event.data.items() if k not in resource_fields}
                print(f"  {self.dataset}: {shown}")
        print(f"  export: {result.name}")
        return result


def queue_depth(options: CallbackOptions) -> Iterable[Observation]:
    """Called by the SDK at each collection: an observable gauge reports a current value."""
    yield Observation(7, {"queue": "emails"})


def main() -> None:
    service = os.environ.get("OTEL_SERVICE_NAME") or "metrics-example"
    exporter = PrintingMetricExporter()  # key, endpoint, dataset from the environment
    # One collection and export per minute in a service; this script exits long before that,
    # and provider.shutdown() below makes the one export that sends everything recorded.
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=60_000)
    provider = MeterProvider(
        metric_readers=[reader], resource=Resource.create({"service.name": service})
    )
    meter = provider.get_meter("examples.metrics")

    # A counter: delta by default, so the field says how many since the last export.
    orders = meter.create_counter("orders", unit="{order}", description="orders placed")
    orders.add(3, {"payment.method": "card"})
    orders.add(1, {"payment.method": "voucher"})

    # A histogram: count, sum, avg, min, max and percentiles (p50, p90, p99, ...).
    duration = meter.create_histogram("checkout.duration", unit="ms")
    for value in (12, 15, 18, 22, 30, 45, 60, 95, 120, 250):
        duration.record(value)

    # An up-down counter: cumulative, so the field is the running level.
    carts = meter.create_up_down_counter("carts.open", unit="{cart}")
    carts.add(5)
    carts.add(-2)

    meter.create_observable_gauge("queue.depth", callbacks=[queue_depth], unit="{message}")

    print(f"metrics: service {service!r}, sending to dataset {exporter.dataset!r}")
    provider.shutdown()  # collects once, exports, then shuts the exporter down
    stats = exporter.stats
    print(f"metrics: {stats['events_accepted']} events accepted, {stats['events_failed']} failed")


if __name__ == "__main__":
    main()
