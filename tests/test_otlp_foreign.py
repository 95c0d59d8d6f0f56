"""OTLP as other SDKs send it, into the receiver (mapping.md; receiver.md, "OTLP ingest").

Requests are written byte by byte (tests/otlp_wire.py): kvlist attributes, arrays of maps,
array-valued metric attributes, summary points, log bodies nested 10,000 deep, tracestates
the W3C rules refuse. Valid protobuf is never answered with a 500, and what is stored is what
Honeycomb stores for the same request: the reference conversion's prediction, or, for the
hand-built requests of a Go or Java SDK, the fields written out below.
"""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from honeycomb_events.receiver import Receiver

from . import otlp_wire as wire
from .conftest import API_KEY
from .hostile import KvList, as_python, otlp_attribute_lists, otlp_values
from .reference import assert_within_limits, stored_fields, stored_value
from .reference import json_text as reference_json_text

HEADERS = {"x-honeycomb-team": API_KEY, "content-type": "application/x-protobuf"}
TRACE_ID = bytes.fromhex("5b8efff798038103d269b633813fc60c")
SPAN_ID = bytes.fromhex("eee19b7ec3c1b174")
START = 1_700_000_000_123_456_789
SERVICE = [("service.name", "foreign")]
GO_HTTP = "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
PROPERTY_SETTINGS: dict[str, Any] = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}


def post(receiver: Receiver, path: str, body: bytes) -> httpx.Response:
    with httpx.Client(base_url=receiver.url, headers=HEADERS, timeout=30) as client:
        return client.post(path, content=body)


def only(receiver: Receiver, dataset: str) -> dict[str, Any]:
    """The one event stored in `dataset`, which holds Honeycomb's limits."""
    [event] = receiver.events(dataset)
    assert_within_limits(event.data)
    return event.data


def predicted(pairs: list[tuple[str, Any]]) -> tuple[dict[str, Any], int]:
    """The reference's fields of a KeyValue list: the later of two equal keys wins."""
    attributes: dict[str, Any] = {}
    for key, value in pairs:
        attributes[key] = as_python(value)
    return stored_fields(attributes)


def chain(keys: str, leaf: Any) -> Any:
    """Kvlists nested one per key: ``chain("ab", 1)`` is ``{"a": {"b": 1}}``."""
    value = leaf
    for key in reversed(keys):
        value = KvList([(key, value)])
    return value


def assert_holds(stored: dict[str, Any], expected: dict[str, Any]) -> None:
    for key, value in expected.items():
        assert key in stored, key
        if isinstance(value, float) and math.isnan(value):
            assert math.isnan(stored[key]), key
        else:
            assert stored[key] == value, (key, stored[key], value)
            assert type(stored[key]) is type(value), key


# --- the hand-written wire format is OTLP's ---------------------------------------------------


def test_the_hand_written_requests_are_what_the_official_classes_read():
    attributes = [("k", KvList([("a", [1, 2.5, True, b"\x01"]), ("b", None)]))]
    trace = ExportTraceServiceRequest.FromString(
        wire.export_request(
            SERVICE,
            [
                wire.span(
                    trace_id=TRACE_ID,
                    span_id=SPAN_ID,
                    name="n",
                    kind=2,
                    start=START,
                    end=START + 1,
                    attributes=attributes,
                    trace_state="th=c",
                    status_code=2,
                )
            ],
        )
    )
    [span] = trace.resource_spans[0].scope_spans[0].spans
    assert (span.trace_id, span.span_id, span.name, span.kind) == (TRACE_ID, SPAN_ID, "n", 2)
    assert (span.start_time_unix_nano, span.trace_state, span.status.code) == (START, "th=c", 2)
    [pair] = span.attributes
    entries = pair.value.kvlist_value.values
    assert [entry.key for entry in entries] == ["a", "b"]
    assert [value.WhichOneof("value") for value in entries[0].value.array_value.values] == [
        "int_value",
        "double_value",
        "bool_value",
        "bytes_value",
    ]
    assert entries[1].value.WhichOneof("value") is None

    logs = ExportLogsServiceRequest.FromString(
        wire.export_request(SERVICE, [wire.log_record(time=START, body="b", span_id=SPAN_ID)])
    )
    [record] = logs.resource_logs[0].scope_logs[0].log_records
    assert (record.time_unix_nano, record.body.string_value, record.span_id) == (
        START,
        "b",
        SPAN_ID,
    )

    metrics = ExportMetricsServiceRequest.FromString(
        wire.export_request(
            SERVICE,
            [
                wire.summary(
                    "s",
                    attributes=[("a", 1)],
                    time=START,
                    count=4,
                    total=2.0,
                    quantiles=[(0.5, 0.25)],
                )
            ],
        )
    )
    [metric] = metrics.resource_metrics[0].scope_metrics[0].metrics
    [point] = metric.summary.data_points
    assert (point.count, point.sum, point.quantile_values[0].value) == (4, 2.0, 0.25)


# --- any AnyValue, through each signal --------------------------------------------------------


@settings(max_examples=25, **PROPERTY_SETTINGS)
@given(resource=otlp_attribute_lists, attributes=otlp_attribute_lists)
def test_span_attributes_of_any_shape_are_stored_as_honeycomb_stores_them(
    receiver, resource, attributes
):
    receiver.reset()
    body = wire.export_request(
        [*resource, *SERVICE],
        [
            wire.span(
                trace_id=TRACE_ID,
                span_id=SPAN_ID,
                name="op",
                kind=3,
                start=START,
                end=START + 5,
                attributes=attributes,
            )
        ],
    )
    assert post(receiver, "/v1/traces", body).status_code == 200
    data = only(receiver, "foreign")
    expected_resource, resource_dropped = predicted([*resource, *SERVICE])
    expected, dropped = predicted(attributes)
    assert_holds(data, expected)
    assert_holds(
        data, {key: value for key, value in expected_resource.items() if key not in expected}
    )
    assert resource_dropped == dropped == 0  # nothing OTLP carries lacks a text
    assert (data["name"], data["span.kind"], data["trace.trace_id"]) == (
        "op",
        "client",
        TRACE_ID.hex(),
    )


@settings(max_examples=25, **PROPERTY_SETTINGS)
@given(body=otlp_values, attributes=otlp_attribute_lists)
def test_log_bodies_and_attributes_of_any_shape_are_stored_as_honeycomb_stores_them(
    receiver, body, attributes
):
    receiver.reset()
    request = wire.export_request(
        SERVICE, [wire.log_record(time=START, body=body, attributes=attributes, span_id=SPAN_ID)]
    )
    assert post(receiver, "/v1/logs", request).status_code == 200
    data = only(receiver, "foreign")
    decoded = as_python(body)
    expected_body, _ = stored_fields({"body": decoded})
    if isinstance(decoded, dict):
        expected_body["body"] = stored_value(reference_json_text(decoded))
    expected, _ = predicted(attributes)
    assert_holds(data, {key: value for key, value in expected_body.items() if key not in expected})
    assert_holds(data, expected)
    assert data["trace.parent_id"] == SPAN_ID.hex()


@settings(max_examples=25, **PROPERTY_SETTINGS)
@given(points=st.lists(otlp_attribute_lists, min_size=1, max_size=4))
def test_metric_point_attributes_of_any_shape_are_stored_as_honeycomb_stores_them(receiver, points):
    receiver.reset()
    second = START // 10**9
    metric = wire.gauge(
        "load",
        [(attributes, (second + index) * 10**9, 0.5) for index, attributes in enumerate(points)],
    )
    assert post(receiver, "/v1/metrics", wire.export_request(SERVICE, [metric])).status_code == 200
    stored = {event.time_ns // 10**9: event.data for event in receiver.events("unknown_metrics")}
    assert len(stored) == len(points)
    for index, attributes in enumerate(points):
        expected, _ = predicted(attributes)
        data = stored[second + index]
        assert_within_limits(data)
        assert_holds(data, {key: value for key, value in expected.items() if key != "load"})
        assert data["load"] == 0.5


# --- as a Go or Java SDK sends it -------------------------------------------------------------


def test_a_go_sdks_kvlist_and_array_attributes_are_flattened_as_at_honeycomb(receiver):
    attributes = [
        ("kv", KvList([("custom", KvList([("name", "value"), ("n", 3)]))])),
        ("mixed", [1, "a", KvList([("b", True)])]),
        ("maps", [KvList([("id", 1)]), KvList([("id", 2.5)])]),
        ("bytes", b"\x01\x02\x03\x04"),
        ("deep", chain("1234567", "x")),
        ("dup", KvList([("k", 1), ("k", 2)])),
    ]
    body = wire.export_request(
        SERVICE,
        [
            wire.span(
                trace_id=TRACE_ID,
                span_id=SPAN_ID,
                name="GET /",
                kind=2,
                start=START,
                end=START + 2_000_000,
                attributes=attributes,
            )
        ],
        GO_HTTP,
    )
    assert post(receiver, "/v1/traces", body).status_code == 200
    data = only(receiver, "foreign")
    assert data["kv.custom.name"] == "value"
    assert data["kv.custom.n"] == 3
    assert "kv" not in data
    assert "kv.custom" not in data
    assert data["mixed"] == '[1,"a",{"b":true}]\n'
    assert data["maps"] == '[{"id":1},{"id":2.5}]\n'
    assert data["bytes"] == '"AQIDBA=="\n'
    # Flattened five levels below the key, where a kvlist is one field of JSON text.
    assert data["deep.1.2.3.4.5"] == '{"6":{"7":"x"}}\n'
    assert data["dup.k"] == 2
    assert data["library.name"] == GO_HTTP
    assert data["telemetry.instrumentation_library"] is True
    assert data["duration_ms"] == 2.0


def levels(depth: int, leaf: Any) -> Any:
    """husky's createNestedMap: ``level<depth>`` down to ``level1``, holding `leaf`."""
    return chain("".join(str(level) for level in range(depth, 0, -1)), leaf)


def test_kvlist_attributes_flatten_five_levels_as_in_honeycombs_own_test(receiver):
    # husky's TestTranslateTraceRequest nested-map cases (otlp/traces_direct_test.go).
    attributes = [(f"map{depth}", levels(depth, f"value{depth}")) for depth in range(1, 8)]
    body = wire.export_request(
        SERVICE, [wire.span(trace_id=TRACE_ID, span_id=SPAN_ID, attributes=attributes)]
    )
    assert post(receiver, "/v1/traces", body).status_code == 200
    data = only(receiver, "foreign")
    assert data["map1.1"] == "value1"
    assert data["map5.5.4.3.2.1"] == "value5"
    assert data["map6.6.5.4.3.2"] == '{"1":"value6"}\n'
    assert data["map7.7.6.5.4.3"] == '{"2":{"1":"value7"}}\n'
    assert not any(key.startswith(("map6.6.5.4.3.2.", "map7.7.6.5.4.3.")) for key in data)


def test_a_java_log_with_a_kvlist_body_nested_10_000_deep_is_stored(receiver):
    nested: Any = "bottom"
    for _ in range(10_000):
        nested = KvList([("k", nested)])
    body = KvList([("message", "order failed"), ("context", nested)])
    request = wire.export_request(
        SERVICE,
        [
            wire.log_record(
                time=START, body=body, severity_number=17, span_id=SPAN_ID, trace_id=TRACE_ID
            )
        ],
    )
    assert post(receiver, "/v1/logs", request).status_code == 200
    data = only(receiver, "foreign")
    assert data["body.message"] == "order failed"
    at_the_fifth = as_python(nested)
    for _ in range(4):
        at_the_fifth = at_the_fifth["k"]
    assert data["body.context.k.k.k.k"] == stored_value(reference_json_text(at_the_fifth))
    assert not any(key.startswith("body.context.k.k.k.k.") for key in data)
    assert data["body"].startswith('{"context":{"k":{"k":')
    assert data["severity"] == "error"
    assert data["meta.annotation_type"] == "span_event"


def test_array_valued_metric_attributes_and_a_summary_are_stored(receiver):
    metrics = [
        wire.gauge("jvm.threads", [([("states", ["RUNNABLE", "WAITING"])], START, 12.0)]),
        wire.summary(
            "http.latency",
            attributes=[("states", ["RUNNABLE", "WAITING"])],
            time=START,
            count=4,
            total=2.0,
            quantiles=[(0.0, 0.1), (0.5, 0.4), (0.99, 0.9), (0.999, 0.95), (1.0, 1.0)],
        ),
    ]
    assert post(receiver, "/v1/metrics", wire.export_request(SERVICE, metrics)).status_code == 200
    data = only(receiver, "unknown_metrics")
    assert data["states"] == '["RUNNABLE","WAITING"]\n'
    assert data["jvm.threads"] == 12.0
    assert {key: value for key, value in data.items() if key.startswith("http.latency")} == {
        "http.latency.count": 4,
        "http.latency.sum": 2.0,
        "http.latency.avg": 0.5,
        "http.latency.min": 0.1,
        "http.latency.p50": 0.4,
        "http.latency.p99": 0.9,
        "http.latency.p999": 0.95,
        "http.latency.max": 1.0,
    }


# --- what the W3C rules, or an SDK, would refuse ------------------------------------------------


@pytest.mark.parametrize(
    ("trace_state", "rate"),
    [
        ("th=c", 4),  # the legacy form, which TraceState refuses
        ("th=c;other=value", 4),
        ("ot=th:c,ot=th:8", 4),  # a repeated key, which TraceState refuses: the first wins
        ("policy=Bidder,ot=th:ff0d27d434fe50", 269),  # adjusted 269.87: Honeycomb's floor
        ("ot=th: c ", None),
        ("th=c,other=value", None),
    ],
)
def test_a_tracestate_is_read_and_stored_as_it_came(receiver, trace_state, rate):
    body = wire.export_request(
        SERVICE,
        [
            wire.span(
                trace_id=TRACE_ID,
                span_id=SPAN_ID,
                name="s",
                start=START,
                end=START,
                trace_state=trace_state,
            )
        ],
    )
    assert post(receiver, "/v1/traces", body).status_code == 200
    [event] = receiver.events("foreign")
    assert event.data["trace.trace_state"] == trace_state
    assert event.samplerate == (rate or 1)


def test_spans_without_names_ids_or_times_are_stored_not_refused(receiver):
    spans = [
        wire.span(trace_id=b"", span_id=b""),  # nothing at all
        wire.span(trace_id=TRACE_ID, span_id=SPAN_ID, kind=0, status_code=7),  # unknowns
        wire.span(trace_id=TRACE_ID[8:], span_id=SPAN_ID, start=2**64 - 1, end=2**63),
    ]
    assert post(receiver, "/v1/traces", wire.export_request(SERVICE, spans)).status_code == 200
    stored = [event.data for event in receiver.events("foreign")]
    assert len(stored) == 3
    unknown = next(data for data in stored if data.get("span.kind") == "unspecified")
    assert unknown["status_code"] == 0
    short = next(data for data in stored if data["trace.trace_id"] == TRACE_ID[8:].hex())
    assert short["trace.span_id"] == SPAN_ID.hex()


def test_a_status_message_is_kept_whatever_the_status_as_at_honeycomb(receiver):
    span = wire.span(
        trace_id=TRACE_ID, span_id=SPAN_ID, name="s", status_code=1, status_message="all good"
    )
    assert post(receiver, "/v1/traces", wire.export_request(SERVICE, [span])).status_code == 200
    data = only(receiver, "foreign")
    assert (data["status_code"], data["status_message"]) == (1, "all good")


def test_a_histogram_without_a_sum_has_no_sum_or_average(receiver):
    metric = wire.histogram("lat", time=START, count=4, bounds=[1.0, 2.0], counts=[1, 2, 1])
    assert post(receiver, "/v1/metrics", wire.export_request(SERVICE, [metric])).status_code == 200
    data = only(receiver, "unknown_metrics")
    assert data["lat.count"] == 4
    assert "lat.sum" not in data
    assert "lat.avg" not in data
    assert data["lat.p50"] == 1.5


def test_a_nested_value_that_is_not_protobuf_is_refused_with_400(receiver):
    broken = wire.length_delimited(5, b"\xff\xff\xff")  # an array_value of garbage
    attribute = wire.length_delimited(9, wire.text(1, "k") + wire.length_delimited(2, broken))
    body = wire.export_request(SERVICE, [wire.span(trace_id=TRACE_ID, span_id=SPAN_ID) + attribute])
    assert post(receiver, "/v1/traces", body).status_code == 400
