"""Items that are not what the SDK makes (limits.md, "Items that cannot be read"): each is
sent with every field that could be read, the rest counted in its ``meta.dropped_fields``
and in the exporters' ``stats``; nothing raises, no other item pays."""

from __future__ import annotations

import logging
import math
from types import MappingProxyType
from typing import Any

import msgspec
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

from honeycomb_events import BatchEncoder, LimitTally
from honeycomb_events.otel import map_logs, map_metrics, map_spans
from honeycomb_events.otel.mapping._metrics import Summary, SummaryDataPoint

from .reference import Opaque

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


# --- found in review --------------------------------------------------------------------------


def _span(**overrides: Any) -> ReadableSpan:
    parts: dict[str, Any] = {
        "name": "s",
        "context": SpanContext(1, 2, is_remote=False),
        "resource": RESOURCE,
        "start_time": START,
        "end_time": START + 1_000,
    }
    return ReadableSpan(**(parts | overrides))


def test_an_integer_past_4300_digits_costs_its_field_only():
    tally = LimitTally()
    [event] = events_of(
        map_spans([_span(attributes={"huge": 10**5000, "list": [10**5000, 1]})], tally)
    )
    [encoded] = BatchEncoder().encode_events([event], tally)
    data = msgspec.json.decode(encoded)["data"]
    assert data["name"] == "s"
    assert data["list"] == "[null,1]\n"
    assert "huge" not in data
    assert data["meta.dropped_fields"] == 1
    assert tally.values_dropped == 2


def test_fixed_fields_the_sdk_never_makes_are_read_part_by_part():
    spans = [
        _span(end_time=math.inf),  # duration would be null on the wire
        _span(context=SpanContext(-5, 2**70, is_remote=False)),  # ids past their widths
        _span(kind="sideways"),
    ]
    tally = LimitTally()
    finite, no_ids, no_kind = (event.data for event in events_of(map_spans(spans, tally)))
    assert finite["duration_ms"] == 0.0
    assert finite["meta.dropped_fields"] == 1
    assert "trace.trace_id" not in no_ids
    assert "trace.span_id" not in no_ids
    assert no_kind["span.kind"] == "unspecified"
    assert tally.items_salvaged == 3


def test_a_salvaged_span_event_without_a_time_is_placed_at_its_spans_start():
    span = _span(events=[Event("e", {}, "soon")], start_time="noon", end_time=START)  # type: ignore[arg-type]
    span_event, _ = events_of(map_spans([span]))
    assert span_event.time == the_time(START)
    assert span_event.data["meta.time_since_span_start_ms"] == 0.0


def the_time(nanos: int) -> str:
    from honeycomb_events._model import format_time_ns

    return format_time_ns(nanos)


def test_log_severity_and_flags_past_their_widths_are_read_part_by_part():
    class Item:
        resource = RESOURCE
        instrumentation_scope = None
        log_record = LogRecord(timestamp=START, severity_number=2**70, trace_flags=2**65, body="x")  # type: ignore[arg-type]

    [event] = events_of(map_logs([Item()]))
    assert (event.data["severity_code"], event.data["flags"]) == (0, 0)
    assert event.data["meta.dropped_fields"] == 2


def test_losses_of_a_resource_and_of_a_scope_add_up_on_each_event():
    resource = Resource({"service.name": "s", "bad": Opaque()})
    resource._attributes._dict["bad"] = Opaque()  # the SDK would have replaced it
    scope = InstrumentationScope("lib", attributes={"worse": None})
    scope._attributes._dict["worse"] = Opaque()
    [event] = events_of(map_spans([_span(resource=resource, instrumentation_scope=scope)]))
    assert event.data["meta.dropped_fields"] == 2


def test_a_resource_whose_attributes_raise_costs_its_fields_not_the_export(environment, receiver):
    class Broken(Resource):
        @property
        def attributes(self):
            raise RuntimeError("no attributes")

    from honeycomb_events.otel import HoneycombEventsExporter

    good = _span(resource=Resource({"service.name": "svc"}))
    bad = _span(resource=Broken({}), context=SpanContext(1, 3, is_remote=False))
    assert HoneycombEventsExporter().export([good, bad]).name == "SUCCESS"
    assert len(receiver.events("svc")) == 1
    [salvaged] = receiver.events("unknown_service")
    assert salvaged.data["meta.dropped_fields"] == 1


def test_points_with_equal_but_differently_typed_attributes_stay_apart():
    points = [
        NumberDataPoint({"ok": value}, START, START, index)
        for index, value in enumerate([1, 1.0, True])
    ]
    events = events_of(map_metrics(_metrics(Metric("m", "", "", Gauge(points)))))
    assert sorted((type(event.data["ok"]).__name__, event.data["m"]) for event in events) == [
        ("bool", 2),
        ("float", 1),
        ("int", 0),
    ]


def test_a_metric_without_a_usable_name_counts_its_loss():
    tally = LimitTally()
    point = NumberDataPoint({}, START, START, 5)
    [event] = events_of(map_metrics(_metrics(Metric(None, "", "", Gauge([point]))), tally))  # type: ignore[arg-type]
    assert "None" not in event.data
    assert event.data["meta.dropped_fields"] == 1


def test_map_keys_without_text_are_not_field_names():
    class Tenant:
        pass

    tally = LimitTally()
    [event] = events_of(map_spans([_span(attributes={"usage": {Tenant(): 5, 7: "seven"}})], tally))  # type: ignore[dict-item]
    assert event.data["usage.7"] == "seven"
    assert not any("object at" in key for key in event.data)
    assert event.data["meta.dropped_fields"] == 1


def test_histogram_buckets_out_of_order_give_no_percentiles():
    point = HistogramDataPoint(
        {}, START, START, 10, 55.0, [1, 2, 3, 4], [9.0, 5.0, 1.0], 1.0, 9.0, ()
    )
    [event] = events_of(map_metrics(_metrics(Metric("h", "", "", Histogram([point], 1)))))  # type: ignore[arg-type]
    assert "h.p50" not in event.data
    assert event.data["meta.dropped_fields"] == 11


def test_backspace_and_form_feed_are_written_as_honeycombs_encoder_writes_them():
    [event] = events_of(map_spans([_span(attributes={"list": ["a\bb\fc", "x\\bq"]})]))
    assert event.data["list"] == '["a\\u0008b\\u000cc","x\\\\bq"]\n'
