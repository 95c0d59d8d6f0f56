"""The log mapping, field by field: real SDK log records, no network (mapping.md, "Logs")."""

from __future__ import annotations

import logging

import pytest
from opentelemetry import trace
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from honeycomb_events._datasets import log_dataset
from honeycomb_events.otel import map_logs
from honeycomb_events.otel.mapping._logs import severity_name

# The SDK's own logging bridge is deprecated in favour of a contrib package; it still works.
pytestmark = pytest.mark.filterwarnings("ignore:.*LoggingHandler.*:DeprecationWarning")

START = 1_714_564_800_000_000_000  # 2024-05-01T12:00:00Z in ns


def provider_and_records(resource: Resource | None = None):
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(
        resource=resource or Resource.create({"service.name": "checkout"}),
        shutdown_on_exit=False,
    )
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    return provider, memory


def events_of(records):
    return [event for _, events in map_logs(records) for event in events]


def emit_one(provider_resource: Resource | None = None, scope=("app",), **record):
    provider, memory = provider_and_records(provider_resource)
    provider.get_logger(*scope).emit(**record)
    [event] = events_of(memory.get_finished_logs())
    return event


@pytest.fixture
def bridged_logger():
    """A Python logger whose records go through the SDK's LoggingHandler to an in-memory
    exporter, as `logging` calls do in an instrumented application."""
    provider, memory = provider_and_records()
    handler = LoggingHandler(level=logging.DEBUG, logger_provider=provider)
    logger = logging.getLogger("tests.logs_mapping")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    yield logger, memory
    logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)
    logger.propagate = True


def span_context(trace_id: int = 0xABC0000000000000000000000000DEF, span_id: int = 0x1234):
    return SpanContext(trace_id, span_id, is_remote=False, trace_flags=TraceFlags(1))


def test_a_record_logged_inside_a_span_is_a_span_event_of_it(bridged_logger):
    logger, memory = bridged_logger
    tracer = TracerProvider().get_tracer("tests")
    with tracer.start_as_current_span("charge") as span:
        logger.warning("card %s declined", "A-1")
    [event] = events_of(memory.get_finished_logs())
    context = span.get_span_context()
    assert event.data["trace.trace_id"] == format(context.trace_id, "032x")
    assert event.data["trace.parent_id"] == format(context.span_id, "016x")
    assert event.data["meta.annotation_type"] == "span_event"
    assert event.data["flags"] == int(context.trace_flags)
    assert event.data["body"] == "card A-1 declined"
    assert event.data["severity"] == "warn"
    assert event.data["severity_code"] == 13
    assert event.data["severity_text"] == "WARN"
    assert event.data["meta.signal_type"] == "log"
    assert event.data["service.name"] == "checkout"
    assert event.data["library.name"] == "tests.logs_mapping"
    assert "trace.span_id" not in event.data


def test_a_record_logged_outside_a_span_has_no_trace_fields(bridged_logger):
    logger, memory = bridged_logger
    logger.info("started")
    [event] = events_of(memory.get_finished_logs())
    for field in ("trace.trace_id", "trace.parent_id", "meta.annotation_type"):
        assert field not in event.data
    assert event.data["flags"] == 0
    assert event.data["body"] == "started"


def test_an_explicit_span_context_links_the_record_and_short_trace_ids_have_16_characters():
    context = trace.set_span_in_context(NonRecordingSpan(span_context(trace_id=0xABC)))
    event = emit_one(body="x", context=context)
    assert event.data["trace.trace_id"] == "0000000000000abc"
    assert event.data["trace.parent_id"] == "0000000000001234"
    assert event.data["flags"] == 1


@pytest.mark.parametrize(
    ("number", "severity"),
    [
        (SeverityNumber.TRACE, "trace"),
        (SeverityNumber.TRACE4, "trace"),
        (SeverityNumber.DEBUG, "debug"),
        (SeverityNumber.DEBUG4, "debug"),
        (SeverityNumber.INFO, "info"),
        (SeverityNumber.INFO4, "info"),
        (SeverityNumber.WARN, "warn"),
        (SeverityNumber.WARN4, "warn"),
        (SeverityNumber.ERROR, "error"),
        (SeverityNumber.ERROR4, "error"),
        (SeverityNumber.FATAL, "fatal"),
        (SeverityNumber.FATAL4, "fatal"),
        (SeverityNumber.UNSPECIFIED, "unspecified"),
        (None, "unspecified"),
    ],
)
def test_severity_names_follow_the_number_ranges(number, severity):
    event = emit_one(body="x", severity_number=number)
    assert event.data["severity"] == severity
    assert event.data["severity_code"] == (0 if number is None else number.value)
    assert "severity_text" not in event.data


@pytest.mark.parametrize(("number", "name"), [(-1, "unspecified"), (25, "unspecified")])
def test_numbers_outside_the_ranges_are_unspecified(number, name):
    assert severity_name(number) == name


def test_severity_text_is_kept_when_set():
    event = emit_one(body="x", severity_number=SeverityNumber.ERROR2, severity_text="Err")
    assert (event.data["severity_code"], event.data["severity_text"]) == (18, "Err")


def test_a_string_body_is_kept_as_is():
    assert emit_one(body="plain <b>&</b>").data["body"] == "plain <b>&</b>"


def test_a_mapping_body_is_flattened_and_kept_whole_as_json_text():
    body = {"user": {"id": 7, "name": "ada"}, "ok": True, "tags": ["a", "b"], "none": None}
    data = emit_one(body=body).data
    assert data["body"] == '{"none":null,"ok":true,"tags":["a","b"],"user":{"id":7,"name":"ada"}}\n'
    assert data["body.user.id"] == 7
    assert data["body.user.name"] == "ada"
    assert data["body.ok"] is True
    assert data["body.tags"] == '["a","b"]\n'
    assert "body.none" not in data
    assert "body.user" not in data


def test_mapping_keys_are_sorted_in_json_text_as_go_writes_them():
    data = emit_one(body={"b": 1, "a": {"d": 2, "c": [{"z": 1, "y": 2}]}}).data
    assert data["body"] == '{"a":{"c":[{"y":2,"z":1}],"d":2},"b":1}\n'
    assert data["body.a.c"] == '[{"y":2,"z":1}]\n'


def test_a_body_nested_deeper_than_five_levels_is_json_text_at_the_fifth():
    body = {"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}, "s": "x"}, "scalar": 5}}}}}
    data = emit_one(body=body).data
    assert data["body.a.b.c.d.scalar"] == 5
    # body.a.b.c.d.e is a mapping five levels below the key: one field, its JSON text
    # (Honeycomb's rule since husky 0.38; before, each of its entries was JSON text).
    assert data["body.a.b.c.d.e"] == '{"f":{"g":1},"s":"x"}\n'
    assert not any(key.startswith("body.a.b.c.d.e.") for key in data)
    assert data["body"].startswith('{"a":{"b":{"c":{"d":{"e":{"f":{"g":1}')


def test_an_empty_mapping_body_is_empty_json_and_no_body_fields():
    data = emit_one(body={}).data
    assert data["body"] == "{}\n"
    assert not any(key.startswith("body.") for key in data)


@pytest.mark.parametrize(
    ("body", "stored"),
    [
        (42, 42),
        (2.5, 2.5),
        (False, False),
        (["a", 1, 1.0], '["a",1,1]\n'),
        (b"\x01\x02\x03\x04", '"AQIDBA=="\n'),
    ],
)
def test_other_bodies_follow_the_attribute_value_rules(body, stored):
    assert emit_one(body=body).data["body"] == stored


def test_a_record_without_a_body_has_no_body_field():
    assert "body" not in emit_one(severity_number=SeverityNumber.INFO).data


def test_the_time_is_the_records_timestamp_else_its_observed_timestamp():
    timed = emit_one(body="x", timestamp=START + 1_500, observed_timestamp=START + 9_000_000)
    assert timed.time == "2024-05-01T12:00:00.000001500Z"
    observed_only = emit_one(body="x", observed_timestamp=START + 9_000_000)
    assert observed_only.time == "2024-05-01T12:00:00.009000000Z"


def test_event_name_is_kept_when_set():
    assert emit_one(body="x", event_name="session.start").data["event.name"] == "session.start"
    assert "event.name" not in emit_one(body="x").data


def test_merge_order_is_fixed_then_resource_then_scope_then_record():
    resource = Resource(
        {"service.name": "svc", "severity": "resource", "shared": "resource", "only.r": 1}
    )
    event = emit_one(
        resource,
        ("lib", "2.0", None, {"shared": "scope", "scoped": "scope", "body": "scope body"}),
        body="the body",
        severity_number=SeverityNumber.INFO,
        attributes={"scoped": "record", "meta.signal_type": "x"},
    )
    data = event.data
    assert data["severity"] == "resource"
    assert data["shared"] == "scope"
    assert data["body"] == "scope body"
    assert data["scoped"] == "record"
    assert data["meta.signal_type"] == "x"
    assert data["only.r"] == 1
    assert data["library.name"] == "lib"
    assert data["library.version"] == "2.0"
    assert list(data)[:4] == ["severity", "severity_code", "meta.signal_type", "flags"]


def test_empty_keys_and_none_values_are_skipped():
    # The SDK's bounded attributes already drop these; a record built by hand keeps them.
    record = ReadableLogRecord(
        log_record=LogRecord(
            timestamp=START, body="x", attributes={"": "no key", "nothing": None, "kept": 1}
        ),
        resource=Resource({}),
        instrumentation_scope=InstrumentationScope("lib"),
    )
    [event] = events_of([record])
    assert event.data["kept"] == 1
    assert "" not in event.data
    assert "nothing" not in event.data


def test_mapping_and_array_attributes_are_converted_like_bodies():
    data = emit_one(
        body="x", attributes={"http": {"method": "GET", "status": 200}, "ids": [1, 2], "b": b"\x00"}
    ).data
    assert data["http.method"] == "GET"
    assert data["http.status"] == 200
    assert data["ids"] == "[1,2]\n"
    assert data["b"] == '"AA=="\n'


def test_schema_urls_of_resource_and_scope():
    resource = Resource({"service.name": "svc"}, schema_url="https://opentelemetry.io/schemas/1.21")
    data = emit_one(resource, ("lib", None, "https://opentelemetry.io/schemas/1.20"), body="x").data
    assert data["resource.schema_url"] == "https://opentelemetry.io/schemas/1.21"
    assert data["scope.schema_url"] == "https://opentelemetry.io/schemas/1.20"


@pytest.mark.parametrize(
    ("where", "value", "rate"),
    [
        ("record", 10, 10),
        ("record", "20", 20),
        ("record", 2.6, 3),
        ("record", 0, None),
        ("record", "many", None),
        ("resource", 5, 5),
    ],
)
def test_sample_rate_attributes_become_the_events_samplerate(where, value, rate):
    resource = Resource(
        {"service.name": "svc"} | ({"sampleRate": value} if where == "resource" else {})
    )
    event = emit_one(
        resource,
        body="x",
        attributes={"SampleRate": 99} | ({"sampleRate": value} if where == "record" else {}),
    )
    assert event.samplerate == rate  # 1, Honeycomb's default, is not sent
    assert "sampleRate" not in event.data
    assert "SampleRate" not in event.data


def test_records_of_several_resources_are_grouped_by_resource():
    memory = InMemoryLogRecordExporter()
    providers = []
    for name in ("a", "b"):
        provider = LoggerProvider(resource=Resource({"service.name": name}), shutdown_on_exit=False)
        provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
        providers.append(provider)
    providers[0].get_logger("x").emit(body="1")
    providers[1].get_logger("x").emit(body="2")
    providers[0].get_logger("y").emit(body="3")
    groups = map_logs(memory.get_finished_logs())
    assert [
        (resource.attributes["service.name"], [e.data["body"] for e in events])
        for resource, events in groups
    ] == [("a", ["1", "3"]), ("b", ["2"])]
    assert [e.data["library.name"] for e in groups[0][1]] == ["x", "y"]


@pytest.mark.parametrize(
    ("attributes", "configured", "dataset"),
    [
        ({"service.name": "checkout"}, "fallback", "checkout"),
        ({"service.name": "  payments "}, None, "payments"),
        ({"service.name": "team/checkout"}, None, "team-checkout"),
        ({"service.name": "unknown_service:python"}, "fallback", "fallback"),
        ({"service.name": "unknown_service"}, None, "unknown_log_source"),
        ({"service.name": "   "}, "fallback", "fallback"),
        ({"service.name": 7}, None, "unknown_log_source"),
        ({}, None, "unknown_log_source"),
        (None, "fallback", "fallback"),
    ],
)
def test_the_logs_dataset_rule(attributes, configured, dataset):
    assert log_dataset(attributes, configured) == dataset
