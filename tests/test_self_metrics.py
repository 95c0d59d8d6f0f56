"""With the SDK's own metrics on, an exporter's counters are OpenTelemetry metrics too.

Run in a subprocess: the global meter provider can be set once per process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from .conftest import API_KEY

PROGRAM = textwrap.dedent(
    """
    import json, sys
    from opentelemetry import metrics
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from honeycomb_events.otel import HoneycombEventsExporter
    from honeycomb_events.receiver import Fault, Receiver

    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    with Receiver() as receiver:
        receiver.faults.push(Fault(event_statuses=(202, 400), path="batch"))
        exporter = HoneycombEventsExporter(endpoint=receiver.url)
        tracer_provider = TracerProvider(resource=Resource.create({"service.name": "s"}))
        tracer = tracer_provider.get_tracer("t")
        spans = []
        for n in range(4):
            with tracer.start_as_current_span(f"span {n}") as span:
                spans.append(span)
        exporter.export(spans)
        points = {}
        data = reader.get_metrics_data()
        for resource_metrics in data.resource_metrics if data else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if not metric.name.startswith("honeycomb_events."):
                        continue  # the SDK's own
                    for point in metric.data.data_points:
                        label = point.attributes.get("outcome", point.attributes.get(
                            "http.response.status_code"))
                        points[f"{metric.name}|{label}"] = point.value
                        points["component"] = point.attributes["otel.component.type"]
        print(json.dumps(points))
    """
)


def run(enabled: str | None) -> dict:
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("HONEYCOMB_", "OTEL_"))
    }
    environ["HONEYCOMB_API_KEY"] = API_KEY
    if enabled is not None:
        environ["OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED"] = enabled
    completed = subprocess.run(
        [sys.executable, "-c", PROGRAM],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_the_exporters_counters_are_metrics_when_the_sdks_are_on():
    points = run("true")
    assert points["component"] == "honeycomb_events_traces_exporter"
    assert points["honeycomb_events.exporter.events|submitted"] == 4
    assert points["honeycomb_events.exporter.events|accepted"] == 2
    assert points["honeycomb_events.exporter.events|failed"] == 2
    assert points["honeycomb_events.exporter.events.failed|400"] == 2
    assert points["honeycomb_events.exporter.requests|sent"] == 1


def test_no_metrics_unless_the_sdks_are_on():
    assert run(None) == {}
    assert run("false") == {}
