"""Items that are not what the SDK makes (limits.md, "Items that cannot be read"): each is
sent with every field that could be read, the rest counted in its ``meta.dropped_fields``
and in the exporters' ``stats``; nothing raises, no other item pays."""

from __future__ import annotations

import logging
import math
from types import MappingProxyType
from typing import Any

from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.sdk.metrics.export import (
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, Status, StatusCode

from honeycomb_events import LimitTally
from honeycomb_events.otel import map_logs, map_metrics, map_spans
from honeycomb_events.otel._metrics import Summary, SummaryDataPoint

START = 1_700_000_000_000_000_000
RESOURCE = Resource({"service.name": "salvage"})


def events_of(groups):
    return [event for _, events in groups for event in events]


def test_a_span_with_unreadable_parts_keeps_the_rest():
    class Broken(ReadableSpan):
        @property
        def status(self):
            raise RuntimeError("no status")

    span = Broken(
        name="checkout",
        context=SpanContext(1, 2, is_remote=False),
        resource=RESOURCE,
        attributes={"user": "u1"},
        events=[Event("retry", {"n": 1}, START + 1)],
        links=[Link(SpanContext(1, 3, is_remote=True), {"why": "fan-in"})],
        start_time=START,
        end_time=START + 2_000_000,
    )
    tally = LimitTally()
    span_event, link, the_span = events_of(map_spans([span], tally))
    assert the_span.data["name"] == "checkout"
    assert the_span.data["user"] == "u1"
    assert the_span.data["duration_ms"] == 2.0
    assert the_span.data["status_code"] == 0  # unset: what could not be read
    assert the_span.data["meta.dropped_fields"] == 1
    assert span_event.data["n"] == 1
    assert link.data["why"] == "fan-in"
    assert tally.items_salvaged == 1


def test_span_events_and_links_that_cannot_be_read_keep_their_place():
    span = ReadableSpan(
        name="s",
        context=SpanContext(1, 2, is_remote=False),
        resource=RESOURCE,
        events=[object(), Event("ok", {"a": 1}, START)],  # type: ignore[list-item]
        links=[Link(None, {"b": 2}), "not a link"],  # type: ignore[arg-type,list-item]
        status=Status(StatusCode.ERROR, "failed"),
        start_time=START,
        end_time=START,
    )
    first, second, link, junk, the_span = events_of(map_spans([span]))
    assert first.data["meta.dropped_fields"] == 3  # its name, time and attributes
    assert second.data["a"] == 1
    assert link.data["b"] == 2
    assert "trace.link.trace_id" not in link.data
    assert link.data["meta.dropped_fields"] == 1
    assert junk.data["meta.dropped_fields"] == 2
    assert the_span.data["error"] is True
    assert the_span.data["status_message"] == "failed"
    assert the_span.data["span.num_events"] == 2


def test_a_span_of_another_class_entirely_is_sent_with_what_it_has():
    class Foreign:
        name = "from another library"
        resource = RESOURCE
        instrumentation_scope = None
        context = SpanContext(5, 6, is_remote=False)
        start_time = START
        end_time = START + 1_000
        attributes = MappingProxyType({"k": {"nested": True}})

    [event] = events_of(map_spans([Foreign()]))  # type: ignore[list-item]
    assert event.data["name"] == "from another library"
    assert event.data["k.nested"] is True
    assert event.data["trace.span_id"] == "0000000000000006"
    # kind, parent, status, events and links are missing from the class
    assert event.data["meta.dropped_fields"] == 5


def test_a_log_record_with_unreadable_parts_keeps_the_rest():
    class Item:
        resource = RESOURCE
        instrumentation_scope = InstrumentationScope("lib")
        log_record = LogRecord(
            timestamp=START,
            severity_number="loud",  # type: ignore[arg-type]
            trace_id="abc",  # type: ignore[arg-type]
            body={"order": {"id": 7}},
            attributes={"user": "u1"},
        )

    tally = LimitTally()
    [event] = events_of(map_logs([Item()], tally))
    assert event.data["body.order.id"] == 7
    assert event.data["user"] == "u1"
    assert event.data["severity"] == "unspecified"
    assert "trace.trace_id" not in event.data
    assert event.data["meta.dropped_fields"] == 2
    assert event.time.startswith("2023-11-14T22:13:20")
    assert tally.items_salvaged == 1


def test_a_log_record_severity_past_the_enum_is_kept_as_a_number():
    class Item:
        resource = RESOURCE
        instrumentation_scope = None
        log_record = LogRecord(timestamp=START, severity_number=SeverityNumber.FATAL4, body="x")

    [event] = events_of(map_logs([Item()]))
    assert (event.data["severity"], event.data["severity_code"]) == ("fatal", 24)


def _metrics(*metrics: Metric) -> MetricsData:
    return MetricsData([ResourceMetrics(RESOURCE, [ScopeMetrics(None, list(metrics), "")], "")])  # type: ignore[arg-type]


def test_points_with_array_and_map_attributes_group_by_the_fields_they_make():
    points = [
        NumberDataPoint({"tags": ["a", "b"], "where": {"zone": "x"}}, START, START, 1),
        NumberDataPoint({"tags": ["a", "b"], "where": {"zone": "x"}}, START, START + 5, 2.5),
    ]
    cpu = Metric("cpu", "", "", Gauge(points[:1]))
    memory = Metric("memory", "", "", Gauge(points[1:]))
    [event] = events_of(map_metrics(_metrics(cpu, memory)))
    assert event.data["tags"] == '["a","b"]\n'
    assert event.data["where.zone"] == "x"
    assert (event.data["cpu"], event.data["memory"]) == (1, 2.5)


def test_a_summary_point_is_mapped_as_mapping_md_says():
    point = SummaryDataPoint(
        {"route": "/"}, START, START, 4, 2.0, [(0.0, 0.1), (0.25, 0.2), (0.5, 0.4), (1.0, 1.0)]
    )
    [event] = events_of(map_metrics(_metrics(Metric("latency", "", "", Summary([point])))))
    assert {key: value for key, value in event.data.items() if key.startswith("latency")} == {
        "latency.count": 4,
        "latency.sum": 2.0,
        "latency.avg": 0.5,
        "latency.min": 0.1,
        "latency.p25": 0.2,
        "latency.p50": 0.4,
        "latency.max": 1.0,
    }


def test_a_histogram_with_buckets_that_make_no_sense_keeps_its_count_and_sum():
    point = HistogramDataPoint(
        {},
        START,
        START,
        3,
        6.0,
        [1, None, 2],
        ["x", 1.0],
        math.inf,
        -math.inf,
        (),  # type: ignore[list-item]
    )
    tally = LimitTally()
    [event] = events_of(map_metrics(_metrics(Metric("h", "", "", Histogram([point], 1))), tally))  # type: ignore[arg-type]
    assert (event.data["h.count"], event.data["h.sum"], event.data["h.avg"]) == (3, 6.0, 2.0)
    assert "h.p50" not in event.data
    assert event.data["meta.dropped_fields"] == 11  # the percentiles
    assert tally.values_dropped == 11


def test_exemplars_never_break_a_point():
    class Hostile:
        def __getattr__(self, name: str) -> Any:
            raise RuntimeError(name)

    point = NumberDataPoint({"a": 1}, START, START, 3, exemplars=[Hostile(), None])  # type: ignore[list-item]
    [event] = events_of(map_metrics(_metrics(Metric("m", "", "", Gauge([point])))))
    assert event.data["m"] == 3


def test_metric_data_of_an_unknown_kind_is_counted_and_said_once(caplog):
    class Unknown:
        data_points = [NumberDataPoint({}, START, START, 1)] * 3

    tally = LimitTally()
    with caplog.at_level(logging.WARNING, logger="honeycomb_events"):
        map_metrics(_metrics(Metric("m", "", "", Unknown())), tally)  # type: ignore[arg-type]
        map_metrics(_metrics(Metric("m", "", "", Unknown())), tally)  # type: ignore[arg-type]
    assert tally.items_dropped == 6
    assert caplog.text.count("metric data of type Unknown cannot be mapped") == 1
