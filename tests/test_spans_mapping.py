"""The span mapping, field by field, with real SDK spans and no network (mapping.md, "Spans")."""

from __future__ import annotations

import collections
import math

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    Link,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)

from honeycomb_events.otel import map_spans
from honeycomb_events.otel.mapping._sampling import tracestate_sample_rate
from honeycomb_events.otel.mapping._values import go_float
from honeycomb_events.otel.mapping._values import json_text as counted_json_text

START = 1_714_564_800_000_000_000  # 2024-05-01T12:00:00Z in ns


def tracer_and_spans(
    resource: Resource | None = None,
    scope: str = "app",
    version: str | None = None,
    limits: SpanLimits | None = None,
    id_generator: RandomIdGenerator | None = None,
):
    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        resource=resource or Resource.create({"service.name": "checkout"}),
        span_limits=limits,
        id_generator=id_generator,
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer(scope, version), exporter


def events_of(spans):
    return [event for _, events in map_spans(spans) for event in events]


def only_span(spans):
    [event] = events_of(spans)
    return event


def test_a_server_span_and_its_child_carry_every_fixed_field():
    tracer, exporter = tracer_and_spans()
    with (
        tracer.start_as_current_span("GET /users", kind=SpanKind.SERVER) as parent,
        tracer.start_as_current_span("SELECT users") as child,
    ):
        pass
    child_event, parent_event = events_of(exporter.get_finished_spans())
    parent_context, child_context = parent.get_span_context(), child.get_span_context()
    assert parent_event.data["trace.trace_id"] == format(parent_context.trace_id, "032x")
    assert parent_event.data["trace.span_id"] == format(parent_context.span_id, "016x")
    assert "trace.parent_id" not in parent_event.data
    assert child_event.data["trace.parent_id"] == format(parent_context.span_id, "016x")
    assert child_event.data["trace.span_id"] == format(child_context.span_id, "016x")
    assert parent_event.data["name"] == "GET /users"
    assert (parent_event.data["span.kind"], parent_event.data["type"]) == ("server", "server")
    assert (child_event.data["span.kind"], child_event.data["type"]) == ("internal", "internal")
    assert parent_event.data["status_code"] == 0
    assert "error" not in parent_event.data
    assert "status_message" not in parent_event.data
    assert parent_event.data["span.num_events"] == 0
    assert parent_event.data["span.num_links"] == 0
    assert parent_event.data["meta.signal_type"] == "trace"
    assert parent_event.data["service.name"] == "checkout"
    assert parent_event.data["library.name"] == "app"
    assert "library.version" not in parent_event.data
    assert "telemetry.instrumentation_library" not in parent_event.data
    span = exporter.get_finished_spans()[1]
    assert parent_event.data["duration_ms"] == (span.end_time - span.start_time) / 1e6
    assert isinstance(parent_event.data["duration_ms"], float)
    assert parent_event.samplerate is None  # 1, Honeycomb's default, is not sent


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        (SpanKind.INTERNAL, "internal"),
        (SpanKind.SERVER, "server"),
        (SpanKind.CLIENT, "client"),
        (SpanKind.PRODUCER, "producer"),
        (SpanKind.CONSUMER, "consumer"),
    ],
)
def test_span_kinds_are_lowercase_names(kind, text):
    tracer, exporter = tracer_and_spans()
    tracer.start_span("s", kind=kind).end()
    event = only_span(exporter.get_finished_spans())
    assert event.data["span.kind"] == event.data["type"] == text


def test_a_trace_id_whose_upper_half_is_zero_is_written_as_16_characters():
    class ShortTraceIds(RandomIdGenerator):
        def generate_trace_id(self) -> int:
            return 0x00000000000000000123456789ABCDEF

    tracer, exporter = tracer_and_spans(id_generator=ShortTraceIds())
    tracer.start_span("s").end()
    assert only_span(exporter.get_finished_spans()).data["trace.trace_id"] == "0123456789abcdef"


@pytest.mark.parametrize(
    ("status", "code", "error", "message"),
    [
        (Status(StatusCode.UNSET), 0, None, None),
        (Status(StatusCode.OK), 1, None, None),
        (Status(StatusCode.ERROR), 2, True, None),
        (Status(StatusCode.ERROR, "card declined"), 2, True, "card declined"),
    ],
)
def test_status_code_error_and_message(status, code, error, message):
    tracer, exporter = tracer_and_spans()
    span = tracer.start_span("pay")
    span.set_status(status)
    span.end()
    data = only_span(exporter.get_finished_spans()).data
    assert data["status_code"] == code
    assert data.get("error") is error
    assert data.get("status_message") == message


def test_span_events_become_their_own_events_before_the_span():
    tracer, exporter = tracer_and_spans()
    span = tracer.start_span("checkout", start_time=START)
    span.add_event("cache miss", {"cache.key": "cart:1"}, timestamp=START + 2_500_000)
    span.set_status(Status(StatusCode.ERROR))
    span.end(end_time=START + 10_000_000)
    annotation, span_event = events_of(exporter.get_finished_spans())
    assert annotation.data == {
        "trace.trace_id": span_event.data["trace.trace_id"],
        "trace.parent_id": span_event.data["trace.span_id"],
        "name": "cache miss",
        "parent_name": "checkout",
        "meta.annotation_type": "span_event",
        "meta.signal_type": "trace",
        "meta.time_since_span_start_ms": 2.5,
        **{k: v for k, v in span_event.data.items() if k.startswith(("service.", "telemetry.sdk"))},
        "library.name": "app",
        "cache.key": "cart:1",
        "error": True,
    }
    assert annotation.time == "2024-05-01T12:00:00.002500000Z"
    assert span_event.time == "2024-05-01T12:00:00.000000000Z"
    assert span_event.data["duration_ms"] == 10.0
    assert span_event.data["span.num_events"] == 1


def test_an_event_before_its_span_started_is_flagged_not_negative():
    tracer, exporter = tracer_and_spans()
    span = tracer.start_span("s", start_time=START)
    span.add_event("early", timestamp=START - 1_000_000)
    span.end(end_time=START + 1)
    annotation, _ = events_of(exporter.get_finished_spans())
    assert annotation.data["meta.time_since_span_start_ms"] == 0
    assert annotation.data["meta.invalid_time_since_span_start"] is True


def test_links_become_their_own_events_at_the_span_start():
    tracer, exporter = tracer_and_spans()
    linked = SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(1))
    span = tracer.start_span(
        "consume", links=[Link(linked, {"messaging.id": "m1"})], start_time=START
    )
    span.add_event("received", timestamp=START + 1)
    span.end(end_time=START + 5)
    annotation, link, span_event = events_of(exporter.get_finished_spans())
    assert annotation.data["meta.annotation_type"] == "span_event"
    assert link.data["meta.annotation_type"] == "link"
    assert link.data["trace.link.trace_id"] == "0000000000000abc"
    assert link.data["trace.link.span_id"] == "0000000000000def"
    assert link.data["trace.parent_id"] == span_event.data["trace.span_id"]
    assert link.data["parent_name"] == "consume"
    assert link.data["messaging.id"] == "m1"
    assert "error" not in link.data
    assert link.time == span_event.time == "2024-05-01T12:00:00.000000000Z"
    assert span_event.data["span.num_links"] == 1


def test_a_recorded_exception_fills_the_spans_exception_fields():
    tracer, exporter = tracer_and_spans()
    with tracer.start_as_current_span("work") as span:
        try:
            raise ValueError("boom")
        except ValueError as error:
            span.record_exception(error)
        span.record_exception(KeyError("second"))
    annotation, _, span_event = events_of(exporter.get_finished_spans())
    assert span_event.data["exception.type"] == "ValueError"
    assert span_event.data["exception.message"] == "boom"
    assert "ValueError: boom" in span_event.data["exception.stacktrace"]
    assert span_event.data["exception.escaped"] == annotation.data["exception.escaped"]


def test_exception_fields_the_span_already_has_are_kept():
    tracer, exporter = tracer_and_spans()
    span = tracer.start_span("work", attributes={"exception.message": "mine"})
    span.record_exception(ValueError("theirs"))
    span.end()
    span_event = events_of(exporter.get_finished_spans())[-1]
    assert span_event.data["exception.message"] == "mine"
    assert span_event.data["exception.type"] == "ValueError"


@pytest.mark.parametrize(
    ("scope", "flagged"),
    [
        ("opentelemetry.instrumentation.flask", True),
        ("io.opentelemetry.jdbc", True),
        ("@honeycombio/opentelemetry-node", True),
        ("go.opentelemetry.io/contrib/instrumentation/net/http", True),
        ("my.app", False),
        ("instrumentation", False),
    ],
)
def test_known_instrumentation_scopes_are_flagged(scope, flagged):
    tracer, exporter = tracer_and_spans(scope=scope, version="1.2.3")
    tracer.start_span("s").end()
    data = only_span(exporter.get_finished_spans()).data
    assert data["library.name"] == scope
    assert data["library.version"] == "1.2.3"
    assert data.get("telemetry.instrumentation_library") is (True if flagged else None)


def test_schema_urls_and_scope_attributes():
    span = ReadableSpan(
        name="s",
        context=SpanContext(1, 2, is_remote=False),
        resource=Resource(
            {"service.name": "svc"}, schema_url="https://opentelemetry.io/schemas/1.21.0"
        ),
        instrumentation_scope=InstrumentationScope(
            "lib", "1.0", "https://opentelemetry.io/schemas/1.20.0", {"scope.attr": "x"}
        ),
        start_time=START,
        end_time=START + 1,
    )
    data = only_span([span]).data
    assert data["resource.schema_url"] == "https://opentelemetry.io/schemas/1.21.0"
    assert data["scope.schema_url"] == "https://opentelemetry.io/schemas/1.20.0"
    assert data["scope.attr"] == "x"


def test_merge_order_is_fixed_then_resource_then_scope_then_span():
    span = ReadableSpan(
        name="span name",
        context=SpanContext(1, 2, is_remote=False),
        resource=Resource({"service.name": "svc", "shared": "resource", "type": "resource"}),
        instrumentation_scope=InstrumentationScope("lib", None, None, {"shared": "scope"}),
        attributes={"name": "attribute name", "": "no key", "none": None},
        start_time=START,
        end_time=START + 1,
    )
    data = only_span([span]).data
    assert data["name"] == "attribute name"
    assert data["shared"] == "scope"
    assert data["type"] == "resource"
    assert "" not in data
    assert "none" not in data


def test_a_span_that_ended_before_it_started_has_zero_duration_and_a_flag():
    span = ReadableSpan(
        name="s",
        context=SpanContext(1, 2, is_remote=False),
        resource=Resource({}),
        start_time=START,
        end_time=START - 5,
    )
    data = only_span([span]).data
    assert data["duration_ms"] == 0
    assert data["meta.invalid_duration"] is True


def test_array_and_bytes_attributes_are_json_text_with_a_newline():
    tracer, exporter = tracer_and_spans()
    tracer.start_span(
        "s",
        attributes={
            "strings": ["a", "<b>&"],
            "mixed": (True, 3),
            "floats": [1.0, 2.5, 1e-7],
            "raw": b"\x01\x02\x03\x04",
            "empty": [],
        },
    ).end()
    data = only_span(exporter.get_finished_spans()).data
    assert data["strings"] == '["a","<b>&"]\n'
    assert data["mixed"] == "[true,3]\n"
    assert data["floats"] == "[1,2.5,1e-7]\n"
    assert data["raw"] == '"AQIDBA=="\n'
    assert data["empty"] == "[]\n"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (-0.0, "-0"),
        (0.1, "0.1"),
        (1e-5, "0.00001"),
        (1e-7, "1e-7"),
        (1e16, "10000000000000000"),
        (1e21, "1e+21"),
        (1.5e22, "1.5e+22"),
        (123456.789, "123456.789"),
    ],
)
def test_floats_in_arrays_are_written_as_go_writes_them(value, text):
    assert go_float(value) == text
    assert json_text([value]) == f"[{text}]\n"


@pytest.mark.parametrize(
    ("where", "value", "rate"),
    [
        ("span", 10, 10),
        ("span", "20", 20),
        ("span", 2.6, 3),
        ("span", 0, 1),
        ("span", -4, 1),
        ("span", "many", 1),
        ("span", 10**12, 2_147_483_647),
        ("resource", 5, 5),
    ],
)
def test_sample_rate_attributes_become_the_events_samplerate(where, value, rate):
    resource_attributes = {"service.name": "svc"} | (
        {"sampleRate": value} if where == "resource" else {}
    )
    tracer, exporter = tracer_and_spans(resource=Resource.create(resource_attributes))
    span = tracer.start_span("s", attributes={"sampleRate": value} if where == "span" else {})
    span.add_event("e")
    span.end()
    annotation, span_event = events_of(exporter.get_finished_spans())
    expected = None if rate == 1 else rate
    assert span_event.samplerate == annotation.samplerate == expected
    assert "sampleRate" not in span_event.data
    assert "sampleRate" not in annotation.data


@pytest.mark.parametrize(
    ("tracestate", "rate"),
    [
        ("ot=th:8", 2),
        ("ot=th:c", 4),
        ("ot=rv:abcdef01234567;th:fd70a4", 100),
        ("ot=th:0", 1),
        ("vendor=x", None),
    ],
)
def test_the_tracestate_threshold_gives_the_rate_when_no_attribute_does(tracestate, rate):
    state = TraceState.from_header([tracestate])
    span = ReadableSpan(
        name="s",
        context=SpanContext(1, 2, is_remote=False, trace_state=state),
        resource=Resource({}),
        start_time=START,
        end_time=START + 1,
    )
    event = only_span([span])
    assert tracestate_sample_rate(state.to_header()) == rate
    assert event.samplerate == (None if rate == 1 else rate)  # 1 is the default: not sent
    assert event.data["trace.trace_state"] == state.to_header()


def test_three_thousand_attributes_survive_mapping_for_the_encoder_to_cap():
    tracer, exporter = tracer_and_spans(limits=SpanLimits(max_span_attributes=5_000))
    tracer.start_span("wide", attributes={f"attr{i:04d}": i for i in range(3_000)}).end()
    data = only_span(exporter.get_finished_spans()).data
    assert len([key for key in data if key.startswith("attr")]) == 3_000
    assert next(iter(data)) == "trace.trace_id"  # fixed fields first, so the cap keeps them


def test_spans_of_several_resources_are_grouped_by_resource():
    first, first_spans = tracer_and_spans(Resource.create({"service.name": "a"}))
    second, second_spans = tracer_and_spans(Resource.create({"service.name": "b"}))
    first.start_span("1").end()
    second.start_span("2").end()
    first.start_span("3").end()
    spans = (
        first_spans.get_finished_spans()[:1]
        + second_spans.get_finished_spans()
        + first_spans.get_finished_spans()[1:]
    )
    groups = map_spans(spans)
    assert [
        (resource.attributes["service.name"], [e.data["name"] for e in events])
        for resource, events in groups
    ] == [
        ("a", ["1", "3"]),
        ("b", ["2"]),
    ]


def test_an_exception_event_with_odd_values_is_still_mapped():
    span = ReadableSpan(
        name="s",
        context=SpanContext(1, 2, is_remote=False),
        resource=Resource({}),
        events=[Event("exception", {"exception.message": ["a", "b"]}, timestamp=START)],
        start_time=START,
        end_time=START + 1,
    )
    *_, span_event = events_of([span])
    assert span_event.data["exception.message"] == '["a","b"]\n'


def test_both_sample_rate_spellings_are_removed_when_both_are_there():
    tracer, exporter = tracer_and_spans()
    span = tracer.start_span("s", attributes={"SampleRate": 4, "sampleRate": 8})
    span.add_event("e")
    span.end()
    annotation, span_event = events_of(exporter.get_finished_spans())
    assert span_event.samplerate == annotation.samplerate == 8
    for data in (annotation.data, span_event.data):
        assert "SampleRate" not in data
        assert "sampleRate" not in data


def json_text(value):
    return counted_json_text(value, collections.Counter())


def test_non_finite_floats_in_arrays_are_written_as_strings():
    assert json_text([math.nan, math.inf, -math.inf, 1.0]) == '["NaN","Infinity","-Infinity",1]\n'
