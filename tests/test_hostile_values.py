"""No value costs more than itself (mapping.md, "Attribute values"; limits.md).

Arbitrary values, as other SDKs send them and as applications hand them to the SDK, go through
the one conversion, every mapping and every exporter into the local receiver. Whatever they
are, nothing raises, every item arrives exactly once, the export succeeds, and what is stored
is what the careful reference conversion (tests/reference.py) predicts.
"""

from __future__ import annotations

import collections
import math
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.sdk.metrics.export import (
    Gauge,
    Metric,
    MetricExportResult,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode

from honeycomb_events import BatchEncoder, BatchEvent, LimitTally
from honeycomb_events.otel import (
    HoneycombEventsExporter,
    HoneycombLogExporter,
    HoneycombMetricExporter,
)
from honeycomb_events.otel.mapping._common import add_attributes

from .conftest import FAST_RETRY
from .hostile import attribute_maps, texts, trees
from .reference import (
    MAX_STRING_BYTES,
    Opaque,
    Raising,
    assert_within_limits,
    new_counts,
    stored_fields,
    stored_value,
)
from .reference import json_text as reference_json_text

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

PROPERTY_SETTINGS: dict[str, Any] = {
    "deadline": None,
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
}
START = 1_700_000_000_000_000_000
SERVICE = "hostile"
RESOURCE = Resource({"service.name": SERVICE, "r·map": {"a": [1, {"b": "\ud800"}]}})
RESOURCE_FIELDS, _ = stored_fields(dict(RESOURCE.attributes))
SCOPE = InstrumentationScope("opentelemetry.instrumentation.hostile", "1.0")


def expect(stored: dict[str, Any], attributes: dict[str, Any]) -> int:
    """Assert that `stored` holds every field the reference makes of `attributes`; how many
    fields the reference says are dropped."""
    expected, dropped = stored_fields(attributes)
    for key, value in expected.items():
        assert key in stored, key
        assert _same(stored[key], value), (key, stored[key], value)
    return dropped


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, float) and isinstance(right, float) and math.isnan(right):
        return math.isnan(left)
    return bool(left == right) and type(left) is type(right)


def _dropped(data: dict[str, Any]) -> int:
    return int(data.get("meta.dropped_fields", 0))


# --- the conversion, alone ------------------------------------------------------------------


@settings(max_examples=300, **PROPERTY_SETTINGS)
@given(attributes=attribute_maps(max_size=6))
def test_attribute_values_are_stored_as_the_reference_predicts(attributes):
    counts: collections.Counter[str] = collections.Counter()
    fields: dict[str, Any] = {}
    add_attributes(fields, attributes, counts)
    tally = LimitTally()
    tally.add_counts(counts)
    [encoded] = BatchEncoder().encode_events([BatchEvent.trusted(fields, None, None)], tally)
    stored = msgspec.json.decode(encoded)["data"]

    reference_counts = new_counts()
    expected, dropped = stored_fields(attributes, reference_counts)
    if dropped:
        expected["meta.dropped_fields"] = dropped
    assert stored.keys() == expected.keys()
    for key, value in expected.items():
        assert _same(stored[key], value), (key, stored[key], value)
    assert tally.values_dropped == reference_counts["values_dropped"]
    assert tally.values_cut == reference_counts["values_cut"]


# --- spans ----------------------------------------------------------------------------------

span_specs = st.tuples(
    texts, attribute_maps("s·"), attribute_maps("e·", 3), attribute_maps("l·", 3)
)


def raw_span(index: int, name: str, attributes, event_attributes, link_attributes):
    trace_id = 0x5EED_0000_0000_0000_0000_0000_0000_0000 + index
    return ReadableSpan(
        name=name,
        context=SpanContext(trace_id, index + 1, is_remote=False),
        resource=RESOURCE,
        attributes=attributes,
        events=[Event("e", event_attributes, START + 5)],
        links=[Link(SpanContext(trace_id, 0xFFFF, is_remote=True), link_attributes)],
        kind=SpanKind.SERVER,
        status=Status(StatusCode.OK),
        start_time=START,
        end_time=START + 10,
        instrumentation_scope=SCOPE,
    )


@settings(max_examples=25, **PROPERTY_SETTINGS)
@given(specs=st.lists(span_specs, min_size=1, max_size=4))
def test_spans_with_any_values_arrive_once_each_as_predicted(environment, receiver, specs):
    receiver.reset()
    spans = [raw_span(index, *spec) for index, spec in enumerate(specs)]
    exporter = HoneycombEventsExporter(retry=FAST_RETRY)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    stored = [event.data for event in receiver.events(SERVICE)]
    assert len(stored) == 3 * len(spans)
    for data in stored:
        assert_within_limits(data)
    by_kind: dict[Any, list[dict[str, Any]]] = collections.defaultdict(list)
    for data in stored:
        by_kind[data.get("meta.annotation_type")].append(data)
    for index, (name, attributes, event_attributes, link_attributes) in enumerate(specs):
        span_id = f"{index + 1:016x}"
        [span] = [data for data in by_kind[None] if data["trace.span_id"] == span_id]
        [event] = [data for data in by_kind["span_event"] if data["trace.parent_id"] == span_id]
        [link] = [data for data in by_kind["link"] if data["trace.parent_id"] == span_id]
        assert span["name"] == event["parent_name"] == stored_value(name)
        assert _dropped(span) == expect(span, attributes)
        assert _dropped(event) == expect(event, event_attributes)
        assert _dropped(link) == expect(link, link_attributes)
        for data in (span, event, link):
            assert RESOURCE_FIELDS.items() <= data.items()
    assert exporter.stats["events_accepted"] == len(stored)


# --- logs -----------------------------------------------------------------------------------


class RawLogItem:
    """A log record as an exporter receives it, built by hand."""

    def __init__(self, record: LogRecord) -> None:
        self.log_record = record
        self.resource = RESOURCE
        self.instrumentation_scope = SCOPE


bodies = st.one_of(st.none(), texts, trees, attribute_maps("b·", 3), st.builds(Opaque))


def body_fields(body: Any) -> tuple[dict[str, Any], int]:
    """What the reference makes of a log body: flattened, and a mapping also whole as JSON."""
    fields, dropped = stored_fields({"body": body})
    if isinstance(body, dict):
        fields["body"] = stored_value(reference_json_text(body))
    return fields, dropped


@settings(max_examples=25, **PROPERTY_SETTINGS)
@given(specs=st.lists(st.tuples(bodies, attribute_maps("a·")), min_size=1, max_size=4))
def test_log_records_with_any_values_arrive_once_each_as_predicted(environment, receiver, specs):
    receiver.reset()
    items = [
        RawLogItem(
            LogRecord(
                timestamp=START,
                trace_id=0xABC,
                span_id=index + 1,
                severity_number=SeverityNumber.WARN,
                body=body,
                attributes=attributes,
            )
        )
        for index, (body, attributes) in enumerate(specs)
    ]
    exporter = HoneycombLogExporter(retry=FAST_RETRY)
    assert exporter.export(items).name == "SUCCESS"
    stored = [event.data for event in receiver.events(SERVICE)]
    assert len(stored) == len(items)
    for data in stored:
        assert_within_limits(data)
    for index, (body, attributes) in enumerate(specs):
        [data] = [data for data in stored if data["trace.parent_id"] == f"{index + 1:016x}"]
        expected_body, body_dropped = body_fields(body)
        for key, value in expected_body.items():
            assert _same(data[key], value), key
        assert _dropped(data) == body_dropped + expect(data, attributes)
        assert data["severity"] == "warn"


# --- metrics --------------------------------------------------------------------------------

point_values = st.one_of(
    st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True)
)


@settings(max_examples=25, **PROPERTY_SETTINGS)
@given(specs=st.lists(st.tuples(attribute_maps("p·"), point_values), min_size=1, max_size=5))
def test_metric_points_with_any_attributes_arrive_once_each_as_predicted(
    environment, receiver, specs
):
    receiver.reset()
    seconds = 1_700_000_000
    points = [
        NumberDataPoint(attributes, START, (seconds + index) * 10**9, value)
        for index, (attributes, value) in enumerate(specs)
    ]
    data = MetricsData(
        [
            ResourceMetrics(
                RESOURCE, [ScopeMetrics(SCOPE, [Metric("m", "", "", Gauge(points))], "")], ""
            )
        ]
    )
    exporter = HoneycombMetricExporter(retry=FAST_RETRY)
    assert exporter.export(data) is MetricExportResult.SUCCESS
    stored = {event.time_ns // 10**9: event.data for event in receiver.events("unknown_metrics")}
    assert len(stored) == len(points)
    for event in stored.values():
        assert_within_limits(event)
    for index, (attributes, value) in enumerate(specs):
        event = stored[seconds + index]
        assert _same(event["m"], stored_value(value))
        assert _dropped(event) == expect(event, attributes)
        assert RESOURCE_FIELDS.items() <= event.items()


# --- one hostile item in a batch of 512 ------------------------------------------------------


def _cyclic() -> dict[str, Any]:
    loop: dict[str, Any] = {"a": 1, "list": [1, "x"]}
    loop["self"] = loop
    loop["list"].append(loop["list"])
    return loop


def _deep(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": value}
    return value


HOSTILE_ATTRIBUTES = {
    "cycle": _cyclic(),
    "deep": _deep(5_000),
    "opaque": Opaque(),
    "raising": Raising(),
    "surrogate\udc80": "value\ud800",
    "big": 2**80,
    "nan": math.nan,
    "mixed": [1, "a", {"m": [b"\x00"]}, None, math.inf],
}


def test_a_hostile_span_costs_nothing_of_its_batch_of_512(environment, receiver):
    normal = [raw_span(index, f"span {index}", {"n": index}, {}, {}) for index in range(511)]
    hostile = ReadableSpan(
        name=Opaque(),  # type: ignore[arg-type]
        context=SpanContext(2.5, 7.0, is_remote=False),  # type: ignore[arg-type]
        resource=RESOURCE,
        attributes=HOSTILE_ATTRIBUTES,
        events=[Event("e", [("not", "a map")], "yesterday"), object()],  # type: ignore[arg-type,list-item]
        links=[Link(None, HOSTILE_ATTRIBUTES)],  # type: ignore[arg-type]
        kind="sideways",  # type: ignore[arg-type]
        status=None,  # type: ignore[arg-type]
        start_time="noon",  # type: ignore[arg-type]
        end_time=START,
    )
    batch = [*normal[:200], hostile, *normal[200:]]
    exporter = HoneycombEventsExporter(retry=FAST_RETRY)
    assert exporter.export(batch) is SpanExportResult.SUCCESS
    assert exporter.force_flush()  # a full batch streams: export() does not wait for it
    stored = [event.data for event in receiver.events(SERVICE)]
    spans = [data for data in stored if "meta.annotation_type" not in data]
    assert len(spans) == 512
    # Every normal span, its span event and its link, exactly once.
    assert len(stored) == 511 * 3 + 1 + 2 + 1
    [salvaged] = [data for data in spans if "trace.span_id" not in data]
    assert salvaged["meta.dropped_fields"] >= 5  # name, context, kind, status, start, values
    assert salvaged["cycle.a"] == 1
    assert exporter.stats["items_salvaged"] == 1
    assert exporter.stats["events_accepted"] == len(stored)


def test_a_hostile_log_record_costs_nothing_of_its_batch_of_512(environment, receiver):
    def record(index: int, body: Any, attributes: Any) -> RawLogItem:
        return RawLogItem(
            LogRecord(
                timestamp=START,
                span_id=index + 1,
                trace_id=1,
                severity_number=SeverityNumber.INFO,
                body=body,
                attributes=attributes,
            )
        )

    batch = [record(index, f"line {index}", {"n": index}) for index in range(511)]
    batch.insert(300, record(511, _cyclic() | {"deep": _deep(5_000)}, HOSTILE_ATTRIBUTES))
    exporter = HoneycombLogExporter(retry=FAST_RETRY)
    assert exporter.export(batch).name == "SUCCESS"
    assert exporter.force_flush()  # a full batch streams: export() does not wait for it
    stored = [event.data for event in receiver.events(SERVICE)]
    assert len(stored) == 512
    [hostile] = [data for data in stored if data["trace.parent_id"] == f"{512:016x}"]
    assert hostile["body.self.a"] == 1
    assert '"[recursive]"' in hostile["body"]
    assert exporter.stats["values_cut"] > 0


def test_a_hostile_metric_point_costs_nothing_of_its_batch_of_512(environment, receiver):
    points = [NumberDataPoint({"n": index}, START, START, index) for index in range(511)]
    points.insert(
        100,
        NumberDataPoint(
            {"tags": ["a", "b"], "where": {"zone": "x"}, **HOSTILE_ATTRIBUTES},
            START,
            "now",  # type: ignore[arg-type]
            math.nan,
        ),
    )
    data = MetricsData(
        [
            ResourceMetrics(
                RESOURCE, [ScopeMetrics(SCOPE, [Metric("m", "", "", Gauge(points))], "")], ""
            )
        ]
    )
    exporter = HoneycombMetricExporter(retry=FAST_RETRY)
    assert exporter.export(data) is MetricExportResult.SUCCESS
    stored = [event.data for event in receiver.events("unknown_metrics")]
    assert len(stored) == 512
    [hostile] = [event for event in stored if "tags" in event]
    assert hostile["tags"] == '["a","b"]\n'
    assert hostile["where.zone"] == "x"
    assert hostile["m"] == "NaN"
    assert hostile["meta.dropped_fields"] >= 3  # its time, the opaque and raising values


# --- the JSON text of nested values ----------------------------------------------------------


def test_json_text_is_written_to_any_depth_and_marks_what_it_cannot_follow():
    from honeycomb_events.otel.mapping._values import MAX_JSON_DEPTH, json_text

    counts: collections.Counter[str] = collections.Counter()
    deepest = [0]
    value: Any = deepest
    for _ in range(MAX_JSON_DEPTH):
        value = [value]
    text = json_text(value, counts)
    assert text == "[" * MAX_JSON_DEPTH + '"[too deep]"' + "]" * MAX_JSON_DEPTH + "\n"
    assert counts["values_cut"] == 1
    assert text == reference_json_text(value)

    loop: list[Any] = [1]
    loop.append(loop)
    assert json_text(loop, counts) == '[1,"[recursive]"]\n'


def test_json_text_stops_once_past_the_string_limit():
    from honeycomb_events.otel.mapping._values import json_text

    huge = [["x" * 1000] * 100] * 100  # ten megabytes if written whole
    text = json_text(huge, collections.Counter())
    assert MAX_STRING_BYTES < len(text.encode()) < 2 * MAX_STRING_BYTES
    assert reference_json_text(huge).startswith(text[:MAX_STRING_BYTES])
