"""Spans to Honeycomb events, field for field as Honeycomb's OTLP translation builds them
(mapping.md, "Spans"): the span itself, one event per span event, one per link.

Pure functions of SDK objects. Resource and scope fields are built once per export, not once
per span: a batch holds few resources and scopes and many spans.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, TypeAlias

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode

from honeycomb_events._model import BatchEvent, format_time_ns

from ._common import (
    SAMPLE_RATE_KEYS,
    SharedFields,
    add_attributes,
    group_by_resource,
    plain_sequence,
    pop_sample_rate,
    tracestate_sample_rate,
)

# Keyed by member name: hashing an enum member is a Python-level call, its `_name_` is a str.
_KIND_NAMES: Final = {kind.name: kind.name.lower() for kind in SpanKind}
EXCEPTION_FIELDS: Final = (
    "exception.message",
    "exception.type",
    "exception.stacktrace",
    "exception.escaped",
)
PROTECTED_FIELDS: Final = frozenset(
    {
        "trace.trace_id",
        "trace.span_id",
        "trace.parent_id",
        "trace.link.trace_id",
        "trace.link.span_id",
        "name",
        "parent_name",
        "service.name",
        "span.kind",
        "type",
        "duration_ms",
        "status_code",
        "error",
        "meta.signal_type",
        "meta.annotation_type",
    }
)
"""Fields kept longest when an event is over the size limit: what the trace view needs."""

_NANOS_PER_MILLI: Final = 1e6


def trace_id_hex(trace_id: int) -> str:
    """Lowercase hex; a 128-bit id whose upper 64 bits are zero is written as 16 characters."""
    width = 8 if trace_id >> 64 == 0 else 16
    try:
        return trace_id.to_bytes(width, "big").hex()  # twice as fast as format()
    except OverflowError:  # negative, or wider than 128 bits: no SDK makes such an id
        return format(trace_id, f"0{width * 2}x")


def span_id_hex(span_id: int) -> str:
    try:
        return span_id.to_bytes(8, "big").hex()
    except OverflowError:
        return format(span_id, "016x")


def map_spans(spans: Iterable[ReadableSpan]) -> list[tuple[Resource, list[BatchEvent]]]:
    """Each span's events (its span events, its links, then the span), grouped by resource."""
    return [(resource, list(events)) for resource, events in span_event_groups(spans)]


def span_event_groups(
    spans: Iterable[ReadableSpan],
) -> list[tuple[Resource, Iterator[BatchEvent]]]:
    """What `map_spans` gives, each resource's events made as they are read."""
    return group_by_resource(
        spans, lambda span: (span.resource, span.instrumentation_scope), _span_events
    )


def span_to_events(
    span: ReadableSpan, resource: Mapping[str, Any], scope: Mapping[str, Any]
) -> list[BatchEvent]:
    """The events Honeycomb makes of one span: its span events, its links, then the span.

    `resource` and `scope` are the fields its resource and its scope contribute.
    """
    return _span_events(span, SharedFields.of(resource, scope))


_READ_PROPERTIES: Final = (
    "name",
    "context",
    "kind",
    "parent",
    "start_time",
    "end_time",
    "status",
    "attributes",
    "events",
    "links",
)
_SDK_LAYOUT: dict[type, bool] = {}


def _keeps_sdk_layout(cls: type) -> bool:
    """Whether spans of `cls` are the SDK's own, read through the SDK's own properties.

    What those properties return is then read from the span's fields directly: `events` and
    `links` copy a list under a lock on every read, `attributes` wraps a mapping whose
    iteration runs Python code per key, and the rest cost a call each; together more than
    the rest of the mapping. A class overriding any of them is read through its properties.
    """
    known = _SDK_LAYOUT.get(cls)
    if known is None:
        known = _SDK_LAYOUT[cls] = issubclass(cls, ReadableSpan) and all(
            getattr(cls, name, None) is getattr(ReadableSpan, name) for name in _READ_PROPERTIES
        )
    return known


_SpanParts: TypeAlias = tuple[
    str,
    "SpanContext | None",
    SpanKind,
    "SpanContext | None",
    "int | None",
    "int | None",
    Status,
    "Mapping[str, Any] | None",
    Sequence[Event],
    Sequence[Link],
]


def _span_parts(span: ReadableSpan) -> _SpanParts:
    """What `_READ_PROPERTIES` return, in that order."""
    if _keeps_sdk_layout(type(span)):
        try:
            return (
                span._name,
                span._context,
                span._kind,
                span._parent,
                span._start_time,
                span._end_time,
                span._status,
                span._attributes,  # add_attributes reads the dict inside
                # Most spans have no events and no links: an empty list needs no snapshot.
                plain_sequence(span._events) if span._events else (),
                plain_sequence(span._links) if span._links else (),
            )
        except AttributeError:  # an SDK that renamed them: the public properties still work
            pass
    return (
        span.name,
        span.context,
        span.kind,
        span.parent,
        span.start_time,
        span.end_time,
        span.status,
        span.attributes,
        span.events,
        span.links,
    )


def _span_events(span: ReadableSpan, shared: SharedFields) -> list[BatchEvent]:
    (
        name,
        context,
        kind_enum,
        parent,
        start_time,
        end_time,
        status,
        attributes,
        span_events,
        links,
    ) = _span_parts(span)
    if context is None:
        return []
    trace_id = trace_id_hex(context.trace_id)
    span_id = span_id_hex(context.span_id)
    start = start_time or 0
    end = end_time if end_time is not None else start
    code = status.status_code
    is_error = code is StatusCode.ERROR
    kind = _KIND_NAMES.get(getattr(kind_enum, "_name_", ""), "unspecified")

    fields: dict[str, Any] = {
        "trace.trace_id": trace_id,
        "trace.span_id": span_id,
        "type": kind,
        "span.kind": kind,
        "name": name,
        "duration_ms": max(end - start, 0) / _NANOS_PER_MILLI,
        "status_code": code._value_,
        "span.num_links": len(links),
        "span.num_events": len(span_events),
        "meta.signal_type": "trace",
    }
    if end < start:
        fields["meta.invalid_duration"] = True
    if parent is not None:
        fields["trace.parent_id"] = span_id_hex(parent.span_id)
    if is_error:
        fields["error"] = True
    if status.description:
        fields["status_message"] = status.description
    trace_state = context.trace_state
    if trace_state:
        fields["trace.trace_state"] = trace_state.to_header()
    fields.update(shared.fields)
    checked = add_attributes(fields, attributes) and shared.checked
    if span_events:
        checked = _copy_exception_fields(span_events, fields) and checked

    samplerate = pop_sample_rate(fields)
    if samplerate is None and trace_state:
        samplerate = tracestate_sample_rate(trace_state.items())
    if samplerate == 1:
        samplerate = None  # Honeycomb's default: no need to send it
    start_text = format_time_ns(start)
    # The SDK takes a name of any type; the encoder then has to check it.
    name_checked = type(name) is str
    checked = checked and name_checked

    events: list[BatchEvent] = []
    for span_event in span_events:
        since_start = (span_event.timestamp - start) / _NANOS_PER_MILLI
        annotation: dict[str, Any] = {
            "trace.trace_id": trace_id,
            "trace.parent_id": span_id,
            "name": span_event.name,
            "parent_name": name,
            "meta.annotation_type": "span_event",
            "meta.signal_type": "trace",
            "meta.time_since_span_start_ms": max(since_start, 0.0),
        }
        if since_start < 0:
            annotation["meta.invalid_time_since_span_start"] = True
        annotation_checked = _finish_annotation(annotation, shared, span_event.attributes, is_error)
        events.append(
            BatchEvent.trusted(
                annotation,
                format_time_ns(span_event.timestamp),
                samplerate,
                fields_checked=(
                    annotation_checked and name_checked and type(span_event.name) is str
                ),
            )
        )
    for link in links:
        annotation = {
            "trace.trace_id": trace_id,
            "trace.parent_id": span_id,
            "trace.link.trace_id": trace_id_hex(link.context.trace_id),
            "trace.link.span_id": span_id_hex(link.context.span_id),
            "parent_name": name,
            "meta.annotation_type": "link",
            "meta.signal_type": "trace",
        }
        annotation_checked = _finish_annotation(annotation, shared, link.attributes, is_error)
        events.append(
            BatchEvent.trusted(
                annotation,
                start_text,
                samplerate,
                fields_checked=annotation_checked and name_checked,
            )
        )
    events.append(BatchEvent.trusted(fields, start_text, samplerate, fields_checked=checked))
    return events


def _finish_annotation(
    fields: dict[str, Any],
    shared: SharedFields,
    attributes: Mapping[str, Any] | None,
    is_error: bool,
) -> bool:
    """Add a span event's or link's shared fields; it carries the span's rate, not its own.
    True when every field holds Honeycomb's per-value limits (see `add_attributes`)."""
    fields.update(shared.fields)
    checked = add_attributes(fields, attributes) and shared.checked
    if is_error:
        fields["error"] = True
    for key in SAMPLE_RATE_KEYS:
        fields.pop(key, None)
    return checked


def _copy_exception_fields(span_events: Sequence[Event], fields: dict[str, Any]) -> bool:
    """The first ``exception`` span event's fields, where the span does not have them.
    True when each one copied holds Honeycomb's per-value limits (see `add_attributes`)."""
    for span_event in span_events:
        if span_event.name == "exception":
            attributes = span_event.attributes or {}
            found = {
                key: value
                for key in EXCEPTION_FIELDS
                if key not in fields and (value := attributes.get(key)) is not None
            }
            return add_attributes(fields, found)
    return True
