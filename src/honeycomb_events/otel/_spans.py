"""Spans to Honeycomb events, field for field as Honeycomb's OTLP translation builds them
(mapping.md, "Spans"): the span itself, one event per span event, one per link.

Pure functions of SDK objects. Resource and scope fields are built once per export, not once
per span: a batch holds few resources and scopes and many spans.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from honeycomb_events._model import BatchEvent, format_time_ns

from ._common import (
    SAMPLE_RATE_KEYS,
    add_attributes,
    attribute_value,
    group_by_resource,
    pop_sample_rate,
    tracestate_sample_rate,
)

SPAN_KINDS: Final = {
    SpanKind.INTERNAL: "internal",
    SpanKind.SERVER: "server",
    SpanKind.CLIENT: "client",
    SpanKind.PRODUCER: "producer",
    SpanKind.CONSUMER: "consumer",
}
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
    return format(trace_id, "016x") if trace_id >> 64 == 0 else format(trace_id, "032x")


def span_id_hex(span_id: int) -> str:
    return format(span_id, "016x")


def map_spans(spans: Iterable[ReadableSpan]) -> list[tuple[Resource, list[BatchEvent]]]:
    """Each span's events (its span events, its links, then the span), grouped by resource."""
    return group_by_resource(
        spans, lambda span: (span.resource, span.instrumentation_scope), span_to_events
    )


def span_to_events(
    span: ReadableSpan, resource: Mapping[str, Any], scope: Mapping[str, Any]
) -> list[BatchEvent]:
    """The events Honeycomb makes of one span: its span events, its links, then the span.

    `resource` and `scope` are the fields from `resource_fields` and `scope_fields`.
    """
    context = span.context
    if context is None:
        return []
    trace_id = trace_id_hex(context.trace_id)
    span_id = span_id_hex(context.span_id)
    start = span.start_time or 0
    end = span.end_time if span.end_time is not None else start
    status = span.status
    code = status.status_code
    is_error = code is StatusCode.ERROR
    # The SDK copies these tuples on every access: read each once.
    span_events, links = span.events, span.links

    fields: dict[str, Any] = {
        "trace.trace_id": trace_id,
        "trace.span_id": span_id,
        "type": SPAN_KINDS.get(span.kind, "unspecified"),
        "span.kind": SPAN_KINDS.get(span.kind, "unspecified"),
        "name": span.name,
        "duration_ms": max(end - start, 0) / _NANOS_PER_MILLI,
        "status_code": code.value,
        "span.num_links": len(links),
        "span.num_events": len(span_events),
        "meta.signal_type": "trace",
    }
    if end < start:
        fields["meta.invalid_duration"] = True
    if span.parent is not None:
        fields["trace.parent_id"] = span_id_hex(span.parent.span_id)
    if is_error:
        fields["error"] = True
    if status.description:
        fields["status_message"] = status.description
    trace_state = context.trace_state
    if trace_state:
        fields["trace.trace_state"] = trace_state.to_header()
    fields.update(resource)
    fields.update(scope)
    add_attributes(fields, span.attributes)
    _copy_exception_fields(span_events, fields)

    samplerate = pop_sample_rate(fields)
    if samplerate is None:
        samplerate = tracestate_sample_rate(trace_state.items() if trace_state else None)
    if samplerate == 1:
        samplerate = None  # Honeycomb's default: no need to send it
    start_time = format_time_ns(start)

    events: list[BatchEvent] = []
    for span_event in span_events:
        since_start = (span_event.timestamp - start) / _NANOS_PER_MILLI
        annotation: dict[str, Any] = {
            "trace.trace_id": trace_id,
            "trace.parent_id": span_id,
            "name": span_event.name,
            "parent_name": span.name,
            "meta.annotation_type": "span_event",
            "meta.signal_type": "trace",
            "meta.time_since_span_start_ms": max(since_start, 0.0),
        }
        if since_start < 0:
            annotation["meta.invalid_time_since_span_start"] = True
        _finish_annotation(annotation, resource, scope, span_event.attributes, is_error)
        events.append(
            BatchEvent.trusted(annotation, format_time_ns(span_event.timestamp), samplerate)
        )
    for link in links:
        annotation = {
            "trace.trace_id": trace_id,
            "trace.parent_id": span_id,
            "trace.link.trace_id": trace_id_hex(link.context.trace_id),
            "trace.link.span_id": span_id_hex(link.context.span_id),
            "parent_name": span.name,
            "meta.annotation_type": "link",
            "meta.signal_type": "trace",
        }
        _finish_annotation(annotation, resource, scope, link.attributes, is_error)
        events.append(BatchEvent.trusted(annotation, start_time, samplerate))
    events.append(BatchEvent.trusted(fields, start_time, samplerate))
    return events


def _finish_annotation(
    fields: dict[str, Any],
    resource: Mapping[str, Any],
    scope: Mapping[str, Any],
    attributes: Mapping[str, Any] | None,
    is_error: bool,
) -> None:
    """Add a span event's or link's shared fields; it carries the span's rate, not its own."""
    fields.update(resource)
    fields.update(scope)
    add_attributes(fields, attributes)
    if is_error:
        fields["error"] = True
    for key in SAMPLE_RATE_KEYS:
        fields.pop(key, None)


def _copy_exception_fields(span_events: Sequence[Event], fields: dict[str, Any]) -> None:
    """The first ``exception`` span event's fields, where the span does not have them."""
    for span_event in span_events:
        if span_event.name == "exception":
            attributes = span_event.attributes or {}
            for key in EXCEPTION_FIELDS:
                value = attributes.get(key)
                if key not in fields and value is not None:
                    fields[key] = attribute_value(value)
            return
