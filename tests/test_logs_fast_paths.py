"""The log path's shortcuts give exactly what the careful path gives.

The log mapping maps a record whose every part is what the SDK records from a template of its
fixed, resource and scope fields, writing the ids of a run of records of one span once; the
log exporter asks a run of records of one scope once whether they are its own logger's. Each
is compared here with the path it replaces, on the same records.
"""

from __future__ import annotations

import collections
import logging
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from honeycomb_events._limits import LimitTally
from honeycomb_events.otel._log_exporter import _without_our_records
from honeycomb_events.otel.mapping import _logs
from honeycomb_events.otel.mapping._common import ItemMapping, group_by_resource

from .hostile import any_values
from .reference import Opaque, Raising

pytestmark = pytest.mark.filterwarnings("ignore:.*LoggingHandler.*:DeprecationWarning")

START = 1_714_564_800_123_456_789

# The careful path alone: every record read part by part and converted, as before the shortcut.
CAREFUL = ItemMapping(
    "log record",
    _logs._locate,
    lambda item, shared, counts: (
        _logs._event_of(_logs._record_parts(item.log_record), shared, counts, 0),
    ),
    _logs._salvaged_log_event,
)


class Item:
    def __init__(self, record: Any, resource: Any, scope: Any) -> None:
        self.log_record = record
        self.resource = resource
        self.instrumentation_scope = scope


def comparable(value: Any) -> Any:
    """`value` with its exact type, NaN made equal to itself."""
    return (type(value), "NaN" if value != value else value)  # noqa: PLR0124 - NaN's test


def outcome(groups: list[tuple[Resource, Any]], tally: LimitTally) -> list[Any]:
    """Everything a mapping gave, in order: fields in their order with their exact types,
    times, sample rates, marks and counts."""
    return [
        (
            resource,
            [
                (
                    [(key, comparable(value)) for key, value in event.data.items()],
                    event.time,
                    event.samplerate,
                    event.within_limits,
                )
                for event in events
            ],
        )
        for resource, events in groups
    ] + [tally]


def both_ways(items: list[Any]) -> tuple[list[Any], list[Any]]:
    fast_tally, careful_tally = LimitTally(), LimitTally()
    fast = outcome(_logs.log_event_groups(items, fast_tally), fast_tally)
    careful = outcome(group_by_resource(items, CAREFUL, careful_tally), careful_tally)
    return fast, careful


RESOURCES = [
    Resource({"service.name": "shop", "host.name": "h"}),
    Resource({"service.name": "shop", "sampleRate": 5}),
    Resource({"service.name": "shop", "severity": "from the resource", "flags": 9}),
    Resource({"service.name": "shop", "nested": 1}, "https://schema/r"),
]
SCOPES = [
    InstrumentationScope("app", "1.0"),
    InstrumentationScope("lib", None, None, {"body": "from the scope"}),
    InstrumentationScope("lib", None, None, {"SampleRate": "3"}),
    None,
]
# Each a context (trace id, span id, flags) shared by the records that pick it, as the SDK
# shares one span's: the ids of a run of them are written once.
CONTEXTS = [
    (0, 0, TraceFlags(0)),
    (0xABC0000000000000000000000000DEF, 0x1234, TraceFlags(1)),
    (0xABC0000000000000000000000000DEF, 0x1235, TraceFlags(1)),
    (5, 0xFFFFFFFFFFFFFFFF, TraceFlags(0)),
    (1 << 64, 7, None),
    # Equal to ids of other contexts, but not what the SDK records.
    (True, 1, TraceFlags(1)),
    (5, 2, None),
    (5, 2.0, None),
    (1.0, 1, TraceFlags(1)),
    (1, 1, 1),
    (1 << 128, 1, TraceFlags(1)),
    (-1, 1, TraceFlags(1)),
    (7, 7, TraceFlags(256)),
    (7, 7, TraceFlags(-1)),
    (7, 7, TraceFlags(2**40)),
    (None, None, None),
]
plain_values = st.one_of(
    st.text(max_size=6),
    st.booleans(),
    st.integers(-(2**65), 2**65),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([(1, 2), b"x", {"a": {"b": 1}}, None, Opaque()]),
)
attribute_keys = st.one_of(
    st.text(max_size=5),
    st.sampled_from(["severity", "body", "flags", "sampleRate", "SampleRate", "service.name"]),
)
attributes = st.one_of(
    st.none(),
    st.dictionaries(attribute_keys, st.one_of(plain_values, st.builds(Raising)), max_size=6),
    st.dictionaries(attribute_keys, plain_values, max_size=6).map(
        lambda values: BoundedAttributes(attributes=values)
    ),
    st.dictionaries(st.text(max_size=4), any_values, max_size=3),
)


@st.composite
def log_records(draw: st.DrawFn) -> Item:
    trace_id, span_id, flags = draw(st.sampled_from(CONTEXTS))
    record = LogRecord(
        timestamp=draw(st.sampled_from([START, None, 0, START + 999_999_999, 1.5e18, "now"])),
        observed_timestamp=draw(st.sampled_from([START + 5, None])),
        trace_id=trace_id,
        span_id=span_id,
        trace_flags=flags,
        severity_text=draw(st.sampled_from([None, "", "INFO", "Warn", 7, b"x"])),
        severity_number=draw(st.sampled_from([None, *SeverityNumber, 9, 30, "loud"])),
        body=draw(st.one_of(st.text(max_size=8), st.sampled_from([None, 4, {"a": 1}, b"b"]))),
        attributes=draw(attributes),
    )
    # The same objects as the context's, whatever the record's constructor made of them.
    record.trace_id, record.span_id, record.trace_flags = trace_id, span_id, flags
    record.event_name = draw(st.sampled_from([None, "", "order.placed", 5]))
    return Item(record, draw(st.sampled_from(RESOURCES)), draw(st.sampled_from(SCOPES)))


@settings(max_examples=500, deadline=None)
@given(st.lists(log_records(), max_size=12))
def test_records_of_any_shape_map_the_same_as_through_the_careful_path(items):
    fast, careful = both_ways(items)
    assert fast == careful


ODD_PARTS = {
    "timestamp": [None, 0, 0.0, 1.5e18, -5, 2**63, 2**70, "now", True],
    "observed_timestamp": [None, 0, "later", 2.5],
    "trace_id": [None, 0, True, 1 << 64, (1 << 128) - 1, 1 << 128, -1, "abc", 2.0],
    "span_id": [None, 0, True, (1 << 64) - 1, 1 << 64, -3, 2.0, "s"],
    "trace_flags": [
        *(None, 0, 1, True, 1.0, "f"),
        *map(TraceFlags, (0, 255, 256, 2**32, -1, 2**40)),
    ],
    "severity_text": [None, "", "WARN", 7, 0, b"x", Raising()],
    "severity_number": [None, SeverityNumber.FATAL4, 0, 9, 25, 2**70, "loud", True],
    "body": [None, "", 4, 4.5, math.nan, b"b", {"a": {"b": 1}}, ["a"], Opaque()],
    "event_name": [None, "", "ev", 5, 0, {"n": 1}, Raising()],
    "attributes": [
        *(None, {}, {"": 1}, {1: "k"}, {"a": None}, {"a": math.inf}, {"a": 2**64}, {"a": (1,)}),
        *({"sampleRate": 7}, {"severity": "x"}, "not a mapping", Raising()),
    ],
}


@pytest.mark.parametrize(
    ("part", "value"), [(part, value) for part, values in ODD_PARTS.items() for value in values]
)
def test_a_record_with_one_odd_part_maps_as_through_the_careful_path(part, value):
    def record(odd: bool) -> LogRecord:
        made = LogRecord(
            timestamp=START,
            severity_text="INFO",
            severity_number=SeverityNumber.INFO,
            body="b",
            attributes=BoundedAttributes(attributes={"n": 1}),
        )
        made.trace_id, made.span_id, made.trace_flags = 5, 2, TraceFlags(1)
        if odd:
            setattr(made, part, value)
        return made

    # The plain record first: one of the same span whose ids the odd one might reuse.
    items = [Item(record(odd), RESOURCES[0], SCOPES[0]) for odd in (False, True, False)]
    fast, careful = both_ways(items)
    assert fast == careful


def sdk_records() -> list[Any]:
    """Records as the SDK's logging bridge makes them: inside and outside spans, every
    level, extra attributes of each plain type, an exception."""
    memory = InMemoryLogRecordExporter()
    provider = LoggerProvider(
        resource=Resource({"service.name": "shop", "pod": "p-1"}), shutdown_on_exit=False
    )
    provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
    logger = logging.getLogger("tests.logs_fast_paths")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    handler = LoggingHandler(level=logging.DEBUG, logger_provider=provider)
    logger.addHandler(handler)
    span = NonRecordingSpan(SpanContext(0xABC, 0x12, False, TraceFlags(1)))
    extra = {"user": "ada", "n": 3, "ratio": 0.5, "ok": True, "big": 2**63}
    try:
        for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, 60):
            logger.log(level, "outside %s", level, extra=extra)
            with trace.use_span(span):
                logger.log(level, "inside %s", level, extra=extra)
                logger.log(level, "inside again %s", level, extra={"ratio": math.nan})
        try:
            raise ValueError("declined")
        except ValueError:
            logger.exception("charging failed")
        provider.get_logger("api", "2").emit(
            timestamp=START, body="emitted", event_name="order.placed", attributes={"a": 1}
        )
    finally:
        logger.removeHandler(handler)
    return list(memory.get_finished_logs())


def test_the_sdks_records_take_the_short_way_and_map_as_the_careful_path_does(monkeypatch):
    records = sdk_records()
    fast, careful = both_ways(records)
    assert fast == careful
    read_part_by_part = collections.Counter()
    careful_parts = _logs._record_parts

    def counted(record: Any) -> Any:
        read_part_by_part[record.body] += 1
        return careful_parts(record)

    monkeypatch.setattr(_logs, "_record_parts", counted)
    [(_, events)] = _logs.map_logs(records)
    # Only the records whose attributes are not within the limits go the careful way.
    assert len(events) == len(records)
    assert set(read_part_by_part) == {f"inside again {level}" for level in (10, 20, 30, 40, 60)}


def test_a_resource_or_scope_field_named_as_a_fixed_field_keeps_its_place():
    record = LogRecord(timestamp=START, body="b", severity_number=SeverityNumber.WARN)
    items = [Item(record, resource, scope) for resource in RESOURCES for scope in SCOPES]
    fast, careful = both_ways(items)
    assert fast == careful
    [(_, events)] = [group for group in _logs.map_logs(items[8:9]) if group[0] is RESOURCES[2]]
    assert list(events[0].data)[:4] == ["severity", "severity_code", "meta.signal_type", "flags"]
    assert events[0].data["severity"] == "from the resource"


def reference_filter(batch: list[Any]) -> list[Any]:
    """The log exporter's filter as it was: each record's scope asked on its own."""

    def ours(item: Any) -> bool:
        name = getattr(getattr(item, "instrumentation_scope", None), "name", None)
        return type(name) is str and (
            name == "honeycomb_events" or name.startswith("honeycomb_events.")
        )

    return [item for item in batch if not ours(item)]


filter_scopes = [
    InstrumentationScope("honeycomb_events"),
    InstrumentationScope("honeycomb_events.otel"),
    InstrumentationScope("honeycomb_eventsx"),
    InstrumentationScope("app"),
    None,
]


class NoScope:
    log_record = None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([*filter_scopes, "no attribute"]), max_size=20))
def test_the_exporter_leaves_out_its_own_loggers_records_as_it_did_record_by_record(scopes):
    batch = [NoScope() if scope == "no attribute" else Item(None, None, scope) for scope in scopes]
    assert _without_our_records(batch) == reference_filter(batch)
