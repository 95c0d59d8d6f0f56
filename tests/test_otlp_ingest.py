"""OTLP/HTTP ingest: what an OTel SDK sends the receiver over OTLP is stored exactly as this
package's exporters would have sent it."""

from __future__ import annotations

import logging

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from honeycomb_events.otel import (
    HoneycombEventsExporter,
    HoneycombLogExporter,
    HoneycombMetricExporter,
)
from honeycomb_events.receiver import Receiver

from .conftest import API_KEY, FAST_RETRY

HEADERS = {"x-honeycomb-team": API_KEY}


def varied_spans():
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "shop", "pod": 3}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("opentelemetry.instrumentation.flask", "1.0")
    with tracer.start_as_current_span("GET /", kind=SpanKind.SERVER) as root:
        root.set_attributes(
            {"http.route": "/", "http.status_code": 500, "ratio": 0.5, "tags": ("a", "b")}
        )
        root.add_event("cache miss", {"key": "user:1", "tries": [1, 2]})
        with tracer.start_as_current_span(
            "SELECT", kind=SpanKind.CLIENT, links=[Link(root.get_span_context(), {"why": "x"})]
        ) as child:
            child.set_attributes({"db.rows": 2, "blob": b"\x00\x01", "sampleRate": 4})
            child.record_exception(ValueError("boom"))
            child.set_status(Status(StatusCode.ERROR, "failed"))
    return memory.get_finished_spans()


def stored(receiver: Receiver, dataset: str):
    return sorted(
        ((event.data, event.time_ns, event.samplerate) for event in receiver.events(dataset)),
        key=repr,
    )


def stored_both_ways(ours_class, otlp_class, signal: str, data, dataset: str):
    """What two receivers store of `data`: one got it through this package's exporter, the
    other through the SDK's OTLP/HTTP exporter."""
    with Receiver() as ours, Receiver() as otlp:
        exporter = ours_class(api_key=API_KEY, endpoint=ours.url, retry=FAST_RETRY)
        sdk_exporter = otlp_class(endpoint=f"{otlp.url}/v1/{signal}", headers=HEADERS)
        try:
            assert exporter.export(data).name == "SUCCESS"
            assert sdk_exporter.export(data).name == "SUCCESS"
            return stored(ours, dataset), stored(otlp, dataset)
        finally:
            exporter.shutdown()
            sdk_exporter.shutdown()


def test_spans_over_otlp_are_stored_as_the_events_exporter_stores_them():
    ours, theirs = stored_both_ways(
        HoneycombEventsExporter, OTLPSpanExporter, "traces", varied_spans(), "shop"
    )
    assert len(ours) == 5  # two spans, two span events (one an exception), a link
    assert theirs == ours


@pytest.mark.filterwarnings("ignore:.*LoggingHandler.*:DeprecationWarning")
def test_logs_over_otlp_are_stored_as_the_log_exporter_stores_them():
    with Receiver() as ours, Receiver() as otlp:
        logger = logging.getLogger("test.otlp.ingest")
        logger.propagate = False
        for exporter in (
            HoneycombLogExporter(api_key=API_KEY, endpoint=ours.url, retry=FAST_RETRY),
            OTLPLogExporter(endpoint=f"{otlp.url}/v1/logs", headers=HEADERS),
        ):
            provider = LoggerProvider(resource=Resource.create({"service.name": "shop"}))
            provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
            handler = LoggingHandler(logger_provider=provider)
            logger.addHandler(handler)
            logger.warning("disk %s full", "/var", extra={"disk.free": 0, "tags": ["a", "b"]})
            logger.removeHandler(handler)
            provider.shutdown()

        def comparable(receiver: Receiver):
            # code.* attributes name the line of this test: both runs made the same record.
            return [
                {k: v for k, v in data.items() if k != "code.line.number"}
                for data, _, _ in stored(receiver, "shop")
            ]

        assert comparable(otlp) == comparable(ours)
        assert len(comparable(ours)) == 1


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({"content-type": "application/json"}, b"{}", 415),
        ({"content-type": "application/x-protobuf"}, b"\xff\xff\xff", 400),
    ],
)
def test_otlp_requests_that_cannot_be_read_get_an_error(receiver, headers, body, status):
    response = httpx.post(f"{receiver.url}/v1/traces", content=body, headers={**HEADERS, **headers})
    assert response.status_code == status
    assert response.json()["error"]


def test_otlp_requests_need_a_known_key():
    with Receiver(api_keys=["right"]) as receiver:
        response = httpx.post(
            f"{receiver.url}/v1/traces",
            content=b"",
            headers={"x-honeycomb-team": "wrong", "content-type": "application/x-protobuf"},
        )
        assert response.status_code == 401


def test_metrics_over_otlp_are_stored_as_the_metric_exporter_stores_them():
    reader = InMemoryMetricReader()
    provider = MeterProvider(
        metric_readers=[reader],
        resource=Resource.create({"service.name": "shop"}),
        views=[
            View(instrument_name="size", aggregation=ExponentialBucketHistogramAggregation()),
            View(instrument_name="*"),
        ],
    )
    meter = provider.get_meter("shop")
    latency = meter.create_histogram("latency")
    size = meter.create_histogram("size")
    requests = meter.create_counter("requests")
    active = meter.create_up_down_counter("active")
    for n in range(20):
        attributes = {"route": f"/r{n % 3}", "ok": n % 4 != 0}
        latency.record(n * 1.5, attributes)
        size.record(n * 10, attributes)
        requests.add(1, attributes)
        active.add(1 if n % 2 else -1, attributes)
    ours, theirs = stored_both_ways(
        HoneycombMetricExporter,
        OTLPMetricExporter,
        "metrics",
        reader.get_metrics_data(),
        "unknown_metrics",
    )
    assert len(ours) == 6  # one event per attribute set
    assert theirs == ours
