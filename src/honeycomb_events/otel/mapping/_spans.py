"""Spans to Honeycomb events, field for field as Honeycomb's OTLP translation builds them
(mapping.md, "Spans"): the span itself, one event per span event, one per link.

Pure functions of SDK objects. Resource and scope fields are built once per export, not once
per span: a batch holds few resources and scopes and many spans. A span the fast path cannot
map is mapped again from its parts read one by one (`salvaged_parts`), and sent with every
field that could be read.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, NamedTuple

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import Link, SpanContext, SpanKind, StatusCode

from honeycomb_events._limits import LimitTally, mapped_event
from honeycomb_events._model import BatchEvent, format_time_ns

from ._common import ItemMapping, SharedFields, add_attributes, group_by_resource, record_dropped
from ._reading import span_id_hex, trace_id_hex
from ._sampling import SAMPLE_RATE_KEYS, event_sample_rate
from ._span_parts import (
    Salvaged,
    context_ids,
    salvaged_parts,
    span_location,
    span_parts,
    status_parts,
)
from ._values import Counts, single_value

# Keyed by identity: hashing an enum member is a Python-level call. No kind is OTLP's
# unspecified, as the receiver reads it; anything else is not the SDK's span.
_KIND_NAMES: Final = {id(kind): kind.name.lower() for kind in SpanKind} | {id(None): "unspecified"}
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


def map_spans(
    spans: Iterable[ReadableSpan], tally: LimitTally | None = None
) -> list[tuple[Resource, list[BatchEvent]]]:
    """Each span's events (its span events, its links, then the span), grouped by resource.
    What the mapping transformed or dropped is added to `tally`, when given."""
    return [(resource, list(events)) for resource, events in span_event_groups(spans, tally)]


def span_event_groups(
    spans: Iterable[ReadableSpan], tally: LimitTally | None = None
) -> list[tuple[Resource, Iterator[BatchEvent]]]:
    """What `map_spans` gives, each resource's events made as they are read."""
    return group_by_resource(spans, _SPANS, LimitTally() if tally is None else tally)


def span_to_events(
    span: ReadableSpan, resource: Mapping[str, Any], scope: Mapping[str, Any]
) -> list[BatchEvent]:
    """The events Honeycomb makes of one span: its span events, its links, then the span.

    `resource` and `scope` are the fields its resource and its scope contribute.
    """
    counts: Counts = collections.Counter()
    shared = SharedFields.of(resource, scope, counts=counts)
    try:
        return _span_events(span, shared, counts)
    except Exception:
        return _salvaged_span_events(span, shared, counts)


def _span_events(
    span: ReadableSpan, shared: SharedFields, counts: Counts, salvaged: Salvaged | None = None
) -> list[BatchEvent]:
    """The span's events: its span events, its links, then the span. Its parts are read
    from the span, or given as `salvaged` (read one by one, with what could not be read)."""
    events_unread: Sequence[int]
    links_unread: Sequence[int]
    if salvaged is None:
        parts, unread, events_unread, links_unread = span_parts(span), 0, (), ()
    else:
        parts, unread, events_unread, links_unread = salvaged
    (name, context, kind_enum, parent, start, end, status, attributes, span_events, links) = parts
    start = start or 0
    if end is None:
        end = start
    kind = _KIND_NAMES.get(id(kind_enum))
    if type(start) is not int or type(end) is not int or kind is None:
        raise ValueError("not the SDK's span")  # read again part by part, each checked
    code, description = status_parts(status)
    fields: dict[str, Any] = {
        # The ids first, so that the field cap keeps them; filled in just below.
        "trace.trace_id": None,
        "trace.span_id": None,
        "type": kind,
        "span.kind": kind,
        "name": name,
        "duration_ms": (end - start) / _NANOS_PER_MILLI if end > start else 0.0,
        "status_code": code._value_,
        "span.num_links": len(links),
        "span.num_events": len(span_events),
        "meta.signal_type": "trace",
    }
    trace_id, span_id, header = _write_ids(fields, context)
    if end < start:
        fields["meta.invalid_duration"] = True
    if parent is not None:
        fields["trace.parent_id"] = span_id_hex(context_ids(parent)[1])
    is_error = code is StatusCode.ERROR
    if is_error:
        fields["error"] = True
    if description:
        fields["status_message"] = description
    # The SDK takes a name (or a status message) of any type: made text as any value is.
    texts_checked = type(name) is str and type(description or "") is str
    if not texts_checked:
        _convert_texts(fields, ("name", "status_message"), counts)
    fields.update(shared.fields)
    checked = add_attributes(fields, attributes, counts) and shared.checked and texts_checked
    if span_events:
        checked = _copy_exception_fields(span_events, fields, counts) and checked
    if unread:
        record_dropped(fields, unread, None)
        checked = False

    rated = header or "sampleRate" in fields or "SampleRate" in fields
    samplerate = event_sample_rate(fields, header) if rated else None  # no call for most spans
    start_text = format_time_ns(start)
    the_span = mapped_event(fields, start_text, samplerate, within_limits=checked)
    if not span_events and not links:  # most spans
        return [the_span]
    ids = {"trace.trace_id": trace_id, "trace.parent_id": span_id} if context is not None else {}
    along = _Annotations(ids, name, start, start_text, samplerate, is_error, shared, counts)
    return [*_annotations(along, span_events, events_unread, links, links_unread), the_span]


def _write_ids(fields: dict[str, Any], context: SpanContext | None) -> tuple[str, str, str]:
    """Fill in the span's ids, and its trace state when it has one; give the ids and the
    trace state's header. A hand-built span without a context is sent without ids."""
    if context is None:
        del fields["trace.trace_id"], fields["trace.span_id"]
        return "", "", ""
    trace_id, span_id, trace_state = context_ids(context)
    trace_hex = fields["trace.trace_id"] = trace_id_hex(trace_id)
    span_hex = fields["trace.span_id"] = span_id_hex(span_id)
    header = ""
    if trace_state:
        header = fields["trace.trace_state"] = trace_state.to_header()
    return trace_hex, span_hex, header


def _annotations(
    along: _Annotations,
    span_events: Sequence[Event],
    events_unread: Sequence[int],
    links: Sequence[Link],
    links_unread: Sequence[int],
) -> list[BatchEvent]:
    """The events of a span's span events, then of its links; `events_unread` and
    `links_unread` count, by position, the parts of each that could not be read (empty when
    none was read one by one)."""
    return [
        *(
            _span_event_event(item, along, events_unread[index] if events_unread else 0)
            for index, item in enumerate(span_events)
        ),
        *(
            _link_event(item, along, links_unread[index] if links_unread else 0)
            for index, item in enumerate(links)
        ),
    ]


def _salvaged_span_events(span: Any, shared: SharedFields, counts: Counts) -> list[BatchEvent]:
    return _span_events(span, shared, counts, salvaged_parts(span))


_SPANS: Final = ItemMapping(
    "span",
    span_location,
    _span_events,
    _salvaged_span_events,
)


class _Annotations(NamedTuple):
    """What each of a span's span events and links takes from the span."""

    # The trace id, and the span's own id as their parent's: its attributes may have replaced
    # them among its own fields.
    ids: dict[str, str]
    span_name: Any
    start: int
    start_text: str
    samplerate: int | None
    is_error: bool
    shared: SharedFields
    counts: Counts


def _span_event_event(span_event: Event, along: _Annotations, unread: int) -> BatchEvent:
    since_start = (span_event.timestamp - along.start) / _NANOS_PER_MILLI
    fields: dict[str, Any] = {
        **along.ids,
        "name": span_event.name,
        "parent_name": along.span_name,
        "meta.annotation_type": "span_event",
        "meta.signal_type": "trace",
        "meta.time_since_span_start_ms": max(since_start, 0.0),
    }
    if since_start < 0:
        fields["meta.invalid_time_since_span_start"] = True
    checked = _finish_annotation(fields, span_event.attributes, along, unread)
    return mapped_event(
        fields, format_time_ns(span_event.timestamp), along.samplerate, within_limits=checked
    )


def _link_event(link: Link, along: _Annotations, unread: int) -> BatchEvent:
    fields: dict[str, Any] = {
        **along.ids,
        "parent_name": along.span_name,
        "meta.annotation_type": "link",
        "meta.signal_type": "trace",
    }
    linked = link.context
    if linked is not None:
        fields["trace.link.trace_id"] = trace_id_hex(linked.trace_id)
        fields["trace.link.span_id"] = span_id_hex(linked.span_id)
    checked = _finish_annotation(fields, link.attributes, along, unread)
    return mapped_event(fields, along.start_text, along.samplerate, within_limits=checked)


def _finish_annotation(
    fields: dict[str, Any],
    attributes: Mapping[str, Any] | None,
    along: _Annotations,
    unread: int,
) -> bool:
    """Add a span event's or link's shared fields; it carries the span's rate, not its own.
    True when every field holds Honeycomb's per-value limits (see `add_attributes`)."""
    fields.update(along.shared.fields)
    checked = add_attributes(fields, attributes, along.counts) and along.shared.checked
    if along.is_error:
        fields["error"] = True
    for key in SAMPLE_RATE_KEYS:
        fields.pop(key, None)
    if type(fields.get("name", "")) is not str or type(fields["parent_name"]) is not str:
        _convert_texts(fields, ("name", "parent_name"), along.counts)
        checked = False
    if unread:
        record_dropped(fields, unread, None)
        checked = False
    return checked


def _convert_texts(fields: dict[str, Any], keys: Sequence[str], counts: Counts) -> None:
    """The fields at `keys` through the one value conversion: the SDK takes a span's name,
    and a status message, of any type. A None is left out, as for any attribute."""
    for key in keys:
        if key not in fields:
            continue
        value = fields[key]
        if value is None:
            del fields[key]
            continue
        try:
            fields[key] = single_value(value, counts)
        except Exception:
            del fields[key]
            record_dropped(fields, 1, counts)


def _copy_exception_fields(
    span_events: Sequence[Event], fields: dict[str, Any], counts: Counts
) -> bool:
    """The first ``exception`` span event's fields, where the span does not have them.
    True when each one copied holds Honeycomb's per-value limits (see `add_attributes`)."""
    for span_event in span_events:
        if span_event.name == "exception":
            try:
                attributes = span_event.attributes or {}
                found = {
                    key: value
                    for key in EXCEPTION_FIELDS
                    if key not in fields and (value := attributes.get(key)) is not None
                }
            except Exception:  # the span event itself still carries whatever it can
                return True
            return add_attributes(fields, found, counts)
    return True
