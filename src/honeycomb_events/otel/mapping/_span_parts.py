"""The parts of a span the mapping reads: straight from the SDK's own fields for the SDK's own
spans (the fast path), or one by one, each checked, for a span the fast path could not map
(a hand-built `ReadableSpan`, or another library's).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Final, NamedTuple, TypeAlias

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceState

from ._common import plain_sequence
from ._reading import MISSING, read, span_id_of, time_of, trace_id_of

SpanParts: TypeAlias = tuple[
    Any,  # name
    "SpanContext | None",
    SpanKind,
    "SpanContext | None",  # parent
    "int | None",  # start
    "int | None",  # end
    Status,
    "Mapping[str, Any] | None",  # attributes
    Sequence[Event],
    Sequence[Link],
]
"""What `READ_PROPERTIES` return, in that order."""

READ_PROPERTIES: Final = (
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
_LOCATION_PROPERTIES: Final = ("resource", "instrumentation_scope")
_SDK_LAYOUT: dict[type, bool] = {}
_UNSET: Final = Status(StatusCode.UNSET)


class Salvaged(NamedTuple):
    """A span's parts read one by one: the parts, and how many could not be read, for the
    span itself and for each of its span events and links (by position)."""

    parts: SpanParts
    dropped: int
    events_dropped: tuple[int, ...]
    links_dropped: tuple[int, ...]


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
            getattr(cls, name, None) is getattr(ReadableSpan, name)
            for name in (*READ_PROPERTIES, *_LOCATION_PROPERTIES)
        )
    return known


def span_location(span: ReadableSpan) -> tuple[Any, Any]:
    """The span's resource and instrumentation scope, from the SDK's own fields when the
    span keeps the SDK's layout (two property calls less per span)."""
    sdk_layout = _SDK_LAYOUT.get(type(span))
    if sdk_layout or (sdk_layout is None and _keeps_sdk_layout(type(span))):
        try:
            return span._resource, span._instrumentation_scope
        except AttributeError:  # an SDK that renamed them: the public properties still work
            pass
    return span.resource, span.instrumentation_scope


def span_parts(span: ReadableSpan) -> SpanParts:
    """What `READ_PROPERTIES` return, in that order, as the span holds them."""
    sdk_layout = _SDK_LAYOUT.get(type(span))  # known after the first span of each class
    if sdk_layout or (sdk_layout is None and _keeps_sdk_layout(type(span))):
        try:
            events: Any = span._events
            links: Any = span._links
            # The deques inside the SDK's BoundedLists, as tuples: one C call each, where the
            # lists' own len() and iteration are Python calls (empty: the empty tuple).
            if type(events) is BoundedList and type(links) is BoundedList:
                events, links = tuple(events._dq), tuple(links._dq)  # type: ignore[attr-defined]
            else:
                events, links = plain_sequence(events), plain_sequence(links)
            return (
                span._name,
                span._context,
                span._kind,
                span._parent,
                span._start_time,
                span._end_time,
                span._status,
                span._attributes,  # add_attributes reads the dict inside
                events,
                links,
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


def _unpacks_as_sdk_context() -> bool:
    """Whether a `SpanContext` is the tuple the SDK has always made: trace id, span id, is
    remote, flags, trace state, is valid."""
    state = TraceState([("k", "v")])
    try:
        return tuple(SpanContext(1, 2, False, None, state)) == (1, 2, False, 0, state, True)
    except Exception:
        return False


_CONTEXT_UNPACKS: Final = _unpacks_as_sdk_context()


def context_ids(context: SpanContext) -> tuple[int, int, TraceState | None]:
    """A context's trace id, span id and trace state; read from the tuple the SDK's own
    context is, where its properties would cost a call each."""
    if _CONTEXT_UNPACKS and type(context) is SpanContext:
        trace_id, span_id, _, _, trace_state, _ = context
        return trace_id, span_id, trace_state
    return context.trace_id, context.span_id, context.trace_state


def _reads_status_fields() -> bool:
    """Whether a `Status` keeps its code and description in the fields it always had."""
    status = Status(StatusCode.ERROR, "d")
    return vars(status) == {"_status_code": StatusCode.ERROR, "_description": "d"}


_STATUS_FIELDS: Final = _reads_status_fields()


def status_parts(status: Status) -> tuple[StatusCode, Any]:
    """A status's code and description; read from the SDK's own status's fields, where its
    properties would cost a call each."""
    if _STATUS_FIELDS and type(status) is Status:
        return status._status_code, status._description
    return status.status_code, status.description


def salvaged_parts(span: Any) -> Salvaged:
    """The span's parts read through its public properties, each checked; a part that cannot
    be read, or is not what the SDK makes, is replaced by a neutral one and counted.

    Neutral parts: no name, no ids (context and parent), kind unspecified, status unset, no
    attributes, events or links. A span without a readable start is placed at the time it is
    mapped (where Honeycomb places an event without a time: its arrival), with no duration;
    a span event without a readable time at its span's start.
    """
    dropped = 0

    def part(name: str, check: Any, default: Any) -> Any:
        nonlocal dropped
        value = read(span, name)
        checked = MISSING if value is MISSING else check(value)
        if checked is MISSING:
            dropped += 1
            return default
        return checked

    name = part("name", _any, None)
    context = part("context", _context, None)
    kind = part("kind", _kind, None)
    parent = part("parent", _parent, None)
    start = part("start_time", time_of, None)
    end = part("end_time", _optional_time, None)
    if start is None:
        start = end if end is not None else time.time_ns()
    if end is None:
        end = start
    status = part("status", _status, _UNSET)
    attributes = part("attributes", _mapping, None)
    events, events_dropped = _events(part("events", _sequence, ()), start)
    links, links_dropped = _links(part("links", _sequence, ()))
    return Salvaged(
        (name, context, kind, parent, start, end, status, attributes, events, links),
        dropped,
        events_dropped,
        links_dropped,
    )


def _any(value: Any) -> Any:
    return value


def _context(value: Any) -> Any:
    """A context whose ids are the integers of their bytes and whose trace state reads."""
    if not isinstance(value, SpanContext):
        return MISSING
    if trace_id_of(value.trace_id) is MISSING or span_id_of(value.span_id) is MISSING:
        return MISSING
    state = value.trace_state
    if state is not None:
        try:
            if not isinstance(state, TraceState) or type(state.to_header()) is not str:
                return MISSING
        except Exception:
            return MISSING
    return value


def _parent(value: Any) -> Any:
    if value is None:
        return None
    return value if span_id_of(read(value, "span_id")) is not MISSING else MISSING


def _kind(value: Any) -> Any:
    return value if value is None or isinstance(value, SpanKind) else MISSING


def _optional_time(value: Any) -> Any:
    return None if value is None else time_of(value)


def _status(value: Any) -> Any:
    if not isinstance(value, Status) or not isinstance(read(value, "status_code"), StatusCode):
        return MISSING
    return value if read(value, "description") is not MISSING else MISSING


def _mapping(value: Any) -> Any:
    return value if value is None or isinstance(value, Mapping) else MISSING


def _sequence(value: Any) -> Any:
    try:
        return tuple(value)
    except Exception:
        return MISSING


def _events(items: Sequence[Any], start: int) -> tuple[tuple[Event, ...], tuple[int, ...]]:
    """Span events rebuilt from what each one's properties give, checked; one without a
    readable time is placed at its span's `start`."""
    events: list[Event] = []
    dropped: list[int] = []
    for item in items:
        lost = 0
        name = read(item, "name")
        if name is MISSING:
            name, lost = None, lost + 1
        timestamp = time_of(read(item, "timestamp"))
        if timestamp is MISSING:
            timestamp, lost = start, lost + 1
        attributes = _mapping(read(item, "attributes"))
        if attributes is MISSING:
            attributes, lost = None, lost + 1
        events.append(Event(name, attributes, timestamp))
        dropped.append(lost)
    return tuple(events), tuple(dropped)


def _links(items: Sequence[Any]) -> tuple[tuple[Link, ...], tuple[int, ...]]:
    """Links rebuilt from what each one's properties give, checked; a link whose context
    cannot be read keeps its place, without the linked ids."""
    links: list[Link] = []
    dropped: list[int] = []
    for item in items:
        lost = 0
        context = read(item, "context")
        if context is MISSING or _context(context) is MISSING:
            context, lost = None, lost + 1
        attributes = _mapping(read(item, "attributes"))
        if attributes is MISSING:
            attributes, lost = None, lost + 1
        links.append(Link(context, attributes))
        dropped.append(lost)
    return tuple(links), tuple(dropped)
