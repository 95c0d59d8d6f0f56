"""The fast paths give exactly what the careful paths give.

The span mapping reads the SDK's own fields rather than its properties, the mapping checks
attributes once so the encoder can skip its per-field checks, and the transport recognises
Honeycomb's usual all-accepted answer without decoding it. Each shortcut is compared here with
the path it replaces, on the same input.
"""

from __future__ import annotations

import collections
import copy
import math
from collections import deque

import httpx
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry._logs import LogRecord
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import Link, SpanKind, Status, StatusCode, TraceState

from honeycomb_events import BatchEncoder, BatchEvent, Encoding, Transport, resolve_settings
from honeycomb_events._limits import LimitTally, mapped_event, sanitize_fields
from honeycomb_events._model import ACCEPTED
from honeycomb_events.otel import log_to_event, map_spans
from honeycomb_events.otel.mapping._common import add_attributes, plain_sequence
from honeycomb_events.otel.mapping._span_parts import _keeps_sdk_layout

from .conftest import API_KEY, FAST_RETRY


def varied_spans() -> list[ReadableSpan]:
    """Spans that touch every field the mapping reads: kinds, parents, errors, span events,
    an exception, links, a trace state, arrays, bytes, odd numbers and a sample rate."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "shop", "pod": 3}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("opentelemetry.instrumentation.flask", "1.0")
    with tracer.start_as_current_span("GET /", kind=SpanKind.SERVER) as root:
        root.set_attributes({"http.route": "/", "http.status_code": 500, "ratio": 0.5})
        root.add_event("cache miss", {"key": "user:1", "tries": [1, 2]})
        with tracer.start_as_current_span(
            "SELECT", kind=SpanKind.CLIENT, links=[Link(root.get_span_context(), {"why": "x"})]
        ) as child:
            child.set_attributes(
                {
                    "db.rows": 2**70,
                    "nan": math.nan,
                    "blob": b"\x00\x01",
                    "tags": ("a", "b"),
                    "sampleRate": 4,
                }
            )
            child.record_exception(ValueError("boom"))
            child.set_status(Status(StatusCode.ERROR, "failed"))
    spans = list(exporter.get_finished_spans())
    context = spans[0].context
    assert context is not None
    spans[0]._context = context.__class__(  # a trace state, which the SDK's tracer never sets
        context.trace_id, context.span_id, context.is_remote, context.trace_flags,
        TraceState([("ot", "th:8")]),
    )  # fmt: skip
    return spans


class PropertyOverridingSpan(ReadableSpan):
    """A span class of the kind a processor might define: it overrides a property."""

    @property
    def attributes(self):  # type: ignore[override]
        return super().attributes


def as_class(span: ReadableSpan, cls: type) -> ReadableSpan:
    clone = copy.copy(span)
    clone.__class__ = cls
    return clone


def mapped(spans: list[ReadableSpan]) -> list[tuple[dict, str | None, int | None, bool]]:
    return [
        (dict(event.data), event.time, event.samplerate, event.within_limits)
        for _, events in map_spans(spans)
        for event in events
    ]


def test_sdk_spans_are_read_from_their_fields_and_other_classes_through_properties():
    assert _keeps_sdk_layout(ReadableSpan)
    assert not _keeps_sdk_layout(PropertyOverridingSpan)
    assert not _keeps_sdk_layout(object)


def test_a_span_read_through_its_properties_maps_exactly_as_one_read_from_its_fields():
    spans = varied_spans()
    through_fields = mapped(spans)
    through_properties = mapped([as_class(span, PropertyOverridingSpan) for span in spans])
    assert through_properties == through_fields
    # The comparison covers what the fast path exists for: many fields, some checked, some not.
    assert len(through_fields) == 5
    assert {checked for *_, checked in through_fields} == {True, False}


def test_spans_map_through_the_properties_when_the_sdk_renames_its_fields(monkeypatch):
    spans = varied_spans()
    expected = mapped(spans)
    # An SDK that stores events elsewhere: reading `_events` fails, the property still works.
    monkeypatch.setattr(ReadableSpan, "events", property(lambda span: tuple(span._renamed)))
    for span in spans:
        span._renamed = span.__dict__.pop("_events")
    assert mapped(spans) == expected


def test_plain_sequence_snapshots_the_sdk_list_and_leaves_other_sequences_alone():
    bounded = BoundedList(3)
    bounded.extend([1, 2, 3, 4])
    snapshot = plain_sequence(bounded)
    assert snapshot == (2, 3, 4)
    bounded.append(5)  # a later append does not change the snapshot being read
    assert snapshot == (2, 3, 4)
    items = [1, 2]
    assert plain_sequence(items) is items
    queue = deque([1])
    assert plain_sequence(queue) is queue


attribute_keys = st.one_of(st.just(""), st.text(max_size=8), st.integers(-3, 3))
attribute_values = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=20),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.binary(max_size=4),
    st.lists(st.one_of(st.integers(-5, 5), st.text(max_size=3), st.floats()), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(attribute_keys, attribute_values, max_size=12))
def test_attributes_said_to_be_checked_are_left_unchanged_by_the_careful_path(attributes):
    for given_attributes in (attributes, _bounded(attributes)):
        fields: dict = {}
        checked = add_attributes(fields, given_attributes, collections.Counter())
        tally = LimitTally()
        if checked:
            # What the encoder would otherwise do to each field changes nothing.
            assert sanitize_fields(fields, tally) == fields
            assert not tally
            assert all(type(key) is str and key for key in fields)


def _bounded(attributes: dict) -> BoundedAttributes:
    return BoundedAttributes(attributes=dict(attributes))


@pytest.mark.parametrize(
    ("attributes", "checked"),
    [
        ({"a": "x", "b": 1, "c": 1.5, "d": True}, True),
        ({"a": [1, 2], "b": b"\x00"}, True),  # converted to JSON text, which is a string
        ({"a": 2**64}, False),  # past what a signed or unsigned 64-bit number holds
        ({"a": -(2**63) - 1}, False),
        ({"a": 2**64 - 1, "b": -(2**63)}, True),
        ({"a": math.nan}, False),
        ({"a": -math.inf}, False),
        ({"a": None, "": 1}, True),  # skipped, not stored
        ({1: "x"}, True),  # the key is made text here, as the encoder would make it
    ],
)
def test_which_attributes_count_as_checked(attributes, checked):
    assert add_attributes({}, attributes, collections.Counter()) is checked


@pytest.mark.parametrize("encoding", ["json", "msgpack"])
def test_a_checked_event_encodes_to_the_bytes_of_the_careful_path(encoding):
    encoder = BatchEncoder(Encoding(encoding))
    data = {"name": "GET /", "status": 200, "ratio": 0.25, "ok": True, "text": 'é\n"<'}
    careful = encoder.encode_events(
        [BatchEvent.trusted(data, "2024-05-01T12:00:00Z", 3)], LimitTally()
    )
    fast = encoder.encode_events(
        [mapped_event(data, "2024-05-01T12:00:00Z", 3, within_limits=True)], LimitTally()
    )
    assert list(fast) == list(careful)


def test_a_checked_event_holding_an_overlong_string_still_has_it_cut():
    encoder = BatchEncoder()
    tally = LimitTally()
    data = {"long": "x" * 70_000, "n": 1}
    [encoded] = encoder.encode_events([mapped_event(data, None, None, within_limits=True)], tally)
    assert len(msgspec.json.decode(encoded)["data"]["long"]) == 65_535
    assert tally.strings_truncated == 1


def test_a_checked_event_with_a_lone_surrogate_takes_the_careful_path():
    encoder = BatchEncoder()
    data = {"bad": "a\udc80b"}
    fast = encoder.encode_events([mapped_event(data, None, None, within_limits=True)], LimitTally())
    assert list(fast) == list(encoder.encode_events([BatchEvent(data)], LimitTally()))
    assert msgspec.json.decode(fast[0])["data"]["bad"] == "a\ufffdb"


@pytest.mark.parametrize(
    "answer",
    [
        b'[{"status":202},{"status":202},{"status":202}]',
        b'[{ "status": 202 }, { "status": 202 },\n { "status": 202 }]',  # as events-api.md shows
    ],
)
def test_the_all_accepted_answer_is_read_without_decoding(answer):
    transport = _answering(answer)
    results = transport.send_batch("ds", [BatchEvent({"n": n}) for n in range(3)])
    assert results == [ACCEPTED] * 3
    assert all(result is ACCEPTED for result in results)
    assert transport.stats.snapshot()["events_accepted"] == 3


def test_an_answer_that_is_not_all_accepted_is_read_event_by_event():
    transport = _answering(b'[{"status":202},{"status":400,"error":"bad"},{"status":202}]')
    results = transport.send_batch("ds", [BatchEvent({"n": n}) for n in range(3)])
    assert [result.status for result in results] == [202, 400, 202]
    assert results[1].error == "bad"
    stats = transport.stats.snapshot()
    assert (stats["events_accepted"], stats["events_failed"]) == (2, 1)
    assert stats["failed_by_status"] == {400: 1}


def test_an_all_accepted_answer_for_the_wrong_number_of_events_is_not_taken_as_success():
    transport = _answering(b'[{"status":202},{"status":202}]')
    results = transport.send_batch("ds", [BatchEvent({"n": n}) for n in range(3)])
    assert not any(result.ok for result in results)


def _answering(answer: bytes) -> Transport:
    settings = resolve_settings(api_key=API_KEY, endpoint="http://127.0.0.1:9", compression="none")
    return Transport(
        settings,
        retry=FAST_RETRY,
        http_transport=httpx.MockTransport(lambda request: httpx.Response(200, content=answer)),
    )


log_bodies = st.one_of(
    st.none(), st.text(max_size=20), st.integers(), st.floats(), attribute_values
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(attribute_keys, attribute_values, max_size=8), log_bodies)
def test_log_events_said_to_be_checked_are_left_unchanged_by_the_careful_path(attributes, body):
    record = LogRecord(
        timestamp=1_714_564_800_000_000_000,
        severity_text="INFO",
        body=body,
        attributes=_bounded(attributes),
    )
    event = log_to_event(record, {"service.name": "shop"}, {})
    tally = LimitTally()
    if event.within_limits:
        assert sanitize_fields(event.data, tally) == event.data
        assert not tally


def test_a_log_with_a_text_body_and_plain_attributes_is_checked_and_a_mapping_body_is_not():
    plain = LogRecord(body="hello", attributes=_bounded({"user": "ada", "n": 3}))
    nested = LogRecord(body={"a": {"b": 1}}, attributes=_bounded({"user": "ada"}))
    assert log_to_event(plain, {}, {}).within_limits
    assert not log_to_event(nested, {}, {}).within_limits
