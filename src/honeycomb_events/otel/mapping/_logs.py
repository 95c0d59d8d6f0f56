"""Log records to Honeycomb events, field for field as Honeycomb's OTLP translation builds them
(mapping.md, "Logs"): one event per record, linked to its span when it has one.

Pure functions of SDK objects. Resource and scope fields are built once per export, as for
spans. The SDK hands exporters a `ReadableLogRecord` (``.log_record``, ``.resource``,
``.instrumentation_scope``); SDKs before 1.39 handed a ``LogData`` whose ``.log_record`` held
the resource: both are read.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final, Protocol, TypeAlias

from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import TraceFlags

from honeycomb_events._limits import LimitTally, fields_within_limits, mapped_event
from honeycomb_events._model import BatchEvent, format_time_ns

from ._common import (
    ItemMapping,
    SharedFields,
    add_attributes,
    group_by_resource,
    record_dropped,
)
from ._reading import MISSING, read, span_id_hex, span_id_of, time_of, trace_id_hex, trace_id_of
from ._sampling import event_sample_rate
from ._values import VALUES_DROPPED, Counts, add_value, json_text, single_value

SEVERITIES: Final = ("trace", "debug", "info", "warn", "error", "fatal")
"""Severity names of the numbers 1-4, 5-8, 9-12, 13-16, 17-20 and 21-24; others: unspecified."""

PROTECTED_FIELDS: Final = frozenset(
    {
        "trace.trace_id",
        "trace.parent_id",
        "severity",
        "severity_code",
        "severity_text",
        "body",
        "event.name",
        "service.name",
        "meta.signal_type",
        "meta.annotation_type",
    }
)
"""Fields kept longest when an event is over the size limit: what a log line needs to be read
and found on its trace."""

_EMPTY_RESOURCE: Final = Resource.get_empty()


def severity_name(number: int) -> str:
    """The lowercase severity Honeycomb shows for an OTel severity number."""
    return SEVERITIES[(number - 1) // 4] if 1 <= number <= 24 else "unspecified"


# Keyed by identity: hashing an enum member is a Python-level call.
_SEVERITIES_BY_ID: Final = {
    id(member): (severity_name(member._value_), member._value_) for member in SeverityNumber
} | {id(None): ("unspecified", 0)}


class LogItem(Protocol):
    """What the SDK hands a log exporter: a record, its resource and its scope."""

    @property
    def log_record(self) -> LogRecord: ...

    @property
    def resource(self) -> Resource | None: ...

    @property
    def instrumentation_scope(self) -> InstrumentationScope | None: ...


def map_logs(
    records: Iterable[LogItem], tally: LimitTally | None = None
) -> list[tuple[Resource, list[BatchEvent]]]:
    """One event per log record, grouped by resource in the order of their first record.
    What the mapping transformed or dropped is added to `tally`, when given."""
    return [(resource, list(events)) for resource, events in log_event_groups(records, tally)]


def log_event_groups(
    records: Iterable[LogItem], tally: LimitTally | None = None
) -> list[tuple[Resource, Iterator[BatchEvent]]]:
    """What `map_logs` gives, each resource's events made as they are read."""
    mapping = ItemMapping("log record", _locate, _RecordEvents().events, _salvaged_log_event)
    return group_by_resource(records, mapping, LimitTally() if tally is None else tally)


def _locate(item: LogItem) -> tuple[Resource, InstrumentationScope | None]:
    # SDKs before 1.39 kept the resource on the record, not beside it.
    resource = getattr(item, "resource", None) or getattr(item.log_record, "resource", None)
    return resource or _EMPTY_RESOURCE, item.instrumentation_scope


def log_to_event(
    record: LogRecord, resource: Mapping[str, Any], scope: Mapping[str, Any]
) -> BatchEvent:
    """The event Honeycomb makes of one log record.

    `resource` and `scope` are the fields its resource and its scope contribute.
    """
    counts: Counts = collections.Counter()
    shared = SharedFields.of(resource, scope, counts=counts)
    try:
        return _event_of(_record_parts(record), shared, counts, 0)
    except Exception:
        parts, dropped = _salvaged_parts(record)
        return _event_of(parts, shared, counts, dropped)


_LogParts: TypeAlias = tuple[
    int,  # severity number
    "int | None",  # trace id
    "int | None",  # span id
    int,  # flags
    Any,  # severity text
    Any,  # event name
    Any,  # body
    "Mapping[str, Any] | None",  # attributes
    "int | None",  # timestamp
    "int | None",  # observed timestamp
]


def _record_parts(record: LogRecord) -> _LogParts:
    severity: Any = record.severity_number
    # OTLP allows numbers past the enum's: a received record may hold a plain int.
    number = 0 if severity is None else severity if type(severity) is int else int(severity.value)
    flags = int(record.trace_flags or 0)
    if not (_INT32_MIN <= number <= _INT32_MAX and 0 <= flags <= _UINT32_MAX):
        raise ValueError("not the SDK's record")  # read again part by part, each checked
    return (
        number,
        record.trace_id,
        record.span_id,
        flags,
        record.severity_text,
        getattr(record, "event_name", None),  # only newer SDKs have it
        record.body,
        record.attributes,
        record.timestamp,
        record.observed_timestamp,
    )


def _salvaged_parts(record: Any) -> tuple[_LogParts, int]:
    """The record's parts read one by one, each checked, and how many could not be read:
    those are left out (a record without a readable time is placed at the time it is
    mapped, as Honeycomb places an event without a time at its arrival)."""
    dropped = 0

    def part(name: str, check: Any) -> Any:
        nonlocal dropped
        value = read(record, name)
        if value is None:
            return None
        checked = MISSING if value is MISSING else check(value)
        if checked is MISSING:
            dropped += 1
            return None
        return checked

    number = part("severity_number", _severity)
    timestamp = part("timestamp", time_of)
    observed = part("observed_timestamp", time_of)
    if timestamp is None and observed is None:
        observed = time.time_ns()
    parts: _LogParts = (
        number or 0,
        part("trace_id", trace_id_of),
        part("span_id", span_id_of),
        part("trace_flags", _flags) or 0,
        part("severity_text", _any),
        part("event_name", _any),
        part("body", _any),
        part("attributes", _mapping),
        timestamp,
        observed,
    )
    return parts, dropped


def _any(value: Any) -> Any:
    return value


def _severity(value: Any) -> Any:
    number = value if isinstance(value, int) else read(value, "value")
    if isinstance(number, int) and not isinstance(number, bool):
        return int(number) if _INT32_MIN <= number <= _INT32_MAX else MISSING
    return MISSING


def _flags(value: Any) -> Any:
    return int(value) if isinstance(value, int) and 0 <= value <= _UINT32_MAX else MISSING


# OTLP's severity number is an int32 enum, its flags a uint32.
_INT32_MIN: Final = -(2**31)
_INT32_MAX: Final = 2**31 - 1
_UINT32_MAX: Final = 2**32 - 1


def _mapping(value: Any) -> Any:
    return value if isinstance(value, Mapping) else MISSING


_FIXED_FIELDS: Final = frozenset(
    {"severity", "severity_code", "meta.signal_type", "flags", "trace.trace_id"}
    | {"meta.annotation_type", "trace.parent_id", "severity_text", "event.name", "body"}
)


class _RecordEvents:
    """One export's records mapped as `_event_of` maps them, the usual ones the short way.

    A record whose every part is what the SDK records needs none of `_event_of`'s checks and
    conversions but the attributes' one. Its fields are a copy of a template made once per
    export: its severity and the fixed fields of its shape (which of ids, severity text and
    event name it has) in `_event_of`'s order, then its resource's and scope's fields. Records
    of one span come in runs: their ids are written once a run. Any other record, or one of a
    resource or scope with fields named as the fixed ones, goes through `_event_of`.
    """

    __slots__ = ("_by_shared", "_shared", "_span", "_templates")

    def __init__(self) -> None:
        # Keyed by id, each with its SharedFields: kept alive, the id cannot be reused.
        self._by_shared: dict[int, tuple[SharedFields, dict[int, dict[str, Any]] | None]] = {}
        self._shared: SharedFields | None = None
        self._templates: dict[int, dict[str, Any]] = {}
        self._span: _Span = (None, None, None, 0, "", "", 0)

    def events(self, item: LogItem, shared: SharedFields, counts: Counts) -> tuple[BatchEvent]:
        record = item.log_record
        if type(record) is not LogRecord or (shared is not self._shared and not self._use(shared)):
            return (_event_of(_record_parts(record), shared, counts, 0),)
        trace_id, span_id, flags = record.trace_id, record.span_id, record.trace_flags
        span = self._span
        # The same objects as the last record's: a record of the same span.
        if trace_id is not span[0] or span_id is not span[1] or flags is not span[2]:
            span = self._span = _span_of(trace_id, span_id, flags)
        _, _, _, shape, trace_hex, span_hex, written_flags = span
        severity_text = record.severity_text
        event_name = getattr(record, "event_name", None)  # only newer SDKs have it
        if severity_text:
            shape |= 4
        if event_name:
            shape |= 8
        severity = record.severity_number
        # Severities are the enum's members (or None), each alive for good: their ids are theirs.
        template = self._templates.get(id(severity) << 4 | shape) or self._template(
            severity, shape, shared.fields
        )
        body = record.body
        nanos = record.timestamp or record.observed_timestamp
        attributes: Any = record.attributes
        keys_checked = type(attributes) is BoundedAttributes
        if keys_checked:
            attributes = getattr(attributes, "_dict", None)
        if (
            template is None
            or written_flags is None
            or type(body) is not str
            or (severity_text is not None and type(severity_text) is not str)
            or (event_name is not None and type(event_name) is not str)
            or (nanos is not None and type(nanos) is not int)
            or (attributes and (type(attributes) is not dict
                                or not fields_within_limits(attributes, keys_checked)))
        ):  # fmt: skip
            return (_event_of(_record_parts(record), shared, counts, 0),)
        fields = template.copy()
        fields["flags"] = written_flags
        if shape & 1:
            fields["trace.trace_id"] = trace_hex
        if shape & 2:
            fields["trace.parent_id"] = span_hex
        if shape & 4:
            fields["severity_text"] = severity_text
        if shape & 8:
            fields["event.name"] = event_name
        fields["body"] = body
        if attributes:
            fields.update(attributes)
        samplerate = (
            event_sample_rate(fields) if "sampleRate" in fields or "SampleRate" in fields else None
        )
        time = format_time_ns(nanos) if nanos else None
        return (mapped_event(fields, time, samplerate, within_limits=True),)

    def _use(self, shared: SharedFields) -> bool:
        """Whether records of `shared` can be mapped the short way; if so, its templates."""
        known = self._by_shared.get(id(shared))
        if known is None:
            usable = shared.checked and _FIXED_FIELDS.isdisjoint(shared.fields)
            known = self._by_shared[id(shared)] = (shared, {} if usable else None)
        templates = known[1]
        if templates is None:
            return False
        self._shared, self._templates = shared, templates
        return True

    def _template(
        self, severity: object, shape: int, shared: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The fields of a record of `severity` and `shape` in `_event_of`'s order, the
        record's own values to be filled in; None for a severity not the SDK's."""
        named = _SEVERITIES_BY_ID.get(id(severity))
        if named is None:
            return None
        fields: dict[str, Any] = {
            "severity": named[0],
            "severity_code": named[1],
            "meta.signal_type": "log",
            "flags": 0,
        }
        if shape & 1:
            fields["trace.trace_id"] = None
            fields["meta.annotation_type"] = "span_event"
        if shape & 2:
            fields["trace.parent_id"] = None
        if shape & 4:
            fields["severity_text"] = None
        if shape & 8:
            fields["event.name"] = None
        fields["body"] = None
        fields.update(shared)
        self._templates[id(severity) << 4 | shape] = fields
        return fields


_Span: TypeAlias = tuple[object, object, object, int, str, str, "int | None"]
"""A span's trace id, span id and flags as records hold them, then as `_event_of` writes them:
the shape bits of the ids, the ids as text, the flags as an int (None when not the SDK's)."""


def _span_of(trace_id: Any, span_id: Any, flags: Any) -> _Span:
    written_flags = None
    if not flags:
        written_flags = 0
    elif type(flags) is TraceFlags and 0 <= flags <= _UINT32_MAX:
        written_flags = int(flags)
    # Hex of ids of other types or out of range raises, as `_event_of`'s does.
    return (
        trace_id,
        span_id,
        flags,
        (1 if trace_id else 0) | (2 if span_id else 0),
        trace_id_hex(trace_id) if trace_id else "",
        span_id_hex(span_id) if span_id else "",
        written_flags,
    )


def _salvaged_log_event(item: Any, shared: SharedFields, counts: Counts) -> tuple[BatchEvent]:
    parts, dropped = _salvaged_parts(read(item, "log_record"))
    return (_event_of(parts, shared, counts, dropped),)


def _event_of(parts: _LogParts, shared: SharedFields, counts: Counts, dropped: int) -> BatchEvent:
    (number, trace_id, span_id, flags, severity_text, event_name, body, attributes, timestamp,
     observed) = parts  # fmt: skip
    fields: dict[str, Any] = {
        "severity": severity_name(number),
        "severity_code": number,
        "meta.signal_type": "log",
        "flags": flags,
    }
    # OTLP leaves out an all-zero id, and Honeycomb then adds neither the id nor the annotation.
    if trace_id:
        fields["trace.trace_id"] = trace_id_hex(trace_id)
        fields["meta.annotation_type"] = "span_event"
    if span_id:
        fields["trace.parent_id"] = span_id_hex(span_id)
    if severity_text:
        fields["severity_text"] = severity_text
    if event_name:
        fields["event.name"] = event_name
    if type(body) is str:  # the usual body, which needs no more than this
        fields["body"] = body
        checked = shared.checked
    else:
        dropped += add_body(fields, body, counts)
        checked = False  # the encoder checks whatever the body became
    fields.update(shared.fields)
    checked = add_attributes(fields, attributes, counts) and checked
    # The fixed fields are ints and text, but a hand-made record may hold anything.
    if type(severity_text or "") is not str or type(event_name or "") is not str:
        dropped += _texts(fields, ("severity_text", "event.name"), counts)
        checked = False
    if dropped:
        record_dropped(fields, dropped, None)
        checked = False

    samplerate = event_sample_rate(fields)
    # Honeycomb would write a record without a timestamp at 1970: the observed time is better.
    nanos = timestamp or observed
    if nanos and type(nanos) is not int:
        raise ValueError("not the SDK's record")  # read again part by part, each checked
    return mapped_event(
        fields, format_time_ns(nanos) if nanos else None, samplerate, within_limits=checked
    )


def _texts(fields: dict[str, Any], keys: tuple[str, ...], counts: Counts) -> int:
    """The fields at `keys` through the one value conversion; how many had to be dropped."""
    dropped = 0
    for key in keys:
        if key in fields:
            try:
                fields[key] = single_value(fields[key], counts)
            except Exception:
                del fields[key]
                counts[VALUES_DROPPED] += 1
                dropped += 1
    return dropped


def add_body(fields: dict[str, Any], body: Any, counts: Counts) -> int:
    """A record's body as Honeycomb stores it: a string as is; a mapping flattened to
    ``body.<key>`` fields and also kept whole, as JSON text, in ``body``; any other value by the
    attribute value rules. How many fields had to be dropped (see `add_value`)."""
    if body is None:
        return 0
    dropped = add_value(fields, "body", body, counts)
    if isinstance(body, Mapping):
        try:
            fields["body"] = json_text(body, counts)
        except Exception:  # its entries could not be read: add_value counted that already
            if not dropped:
                counts[VALUES_DROPPED] += 1
                dropped = 1
    return dropped
