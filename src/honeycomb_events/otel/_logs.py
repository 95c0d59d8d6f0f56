"""Log records to Honeycomb events, field for field as Honeycomb's OTLP translation builds them
(mapping.md, "Logs"): one event per record, linked to its span when it has one.

Pure functions of SDK objects. Resource and scope fields are built once per export, as for
spans. The SDK hands exporters a `ReadableLogRecord` (``.log_record``, ``.resource``,
``.instrumentation_scope``); SDKs before 1.39 handed a ``LogData`` whose ``.log_record`` held
the resource: both are read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final, Protocol

from opentelemetry._logs import LogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from honeycomb_events._model import BatchEvent, format_time_ns

from ._common import (
    UNKNOWN_SERVICE,
    SharedFields,
    add_attributes,
    attribute_value,
    group_by_resource,
    json_text,
    pop_sample_rate,
    service_dataset,
)
from ._spans import span_id_hex, trace_id_hex

UNKNOWN_LOG_SOURCE: Final = "unknown_log_source"
"""The dataset of logs whose resource has no usable ``service.name`` and no dataset is set."""

SEVERITIES: Final = ("trace", "debug", "info", "warn", "error", "fatal")
"""Severity names of the numbers 1-4, 5-8, 9-12, 13-16, 17-20 and 21-24; others: unspecified."""

MAX_FLATTEN_DEPTH: Final = 5
"""Mapping values nest this deep as ``key.a.b...`` fields; the entries below are JSON text."""

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


def log_dataset(resource_attributes: Mapping[str, Any] | None, configured: str | None) -> str:
    """The dataset Honeycomb picks for logs, whatever the key: a usable ``service.name``
    (a string, not blank, not starting with ``unknown_service``; trimmed, '/' made '-'), else
    `configured` (the dataset variable), else ``unknown_log_source``."""
    name = (resource_attributes or {}).get("service.name")
    if isinstance(name, str) and name.strip() and not name.startswith(UNKNOWN_SERVICE):
        return service_dataset(resource_attributes)
    return configured or UNKNOWN_LOG_SOURCE


class LogItem(Protocol):
    """What the SDK hands a log exporter: a record, its resource and its scope."""

    @property
    def log_record(self) -> LogRecord: ...

    @property
    def resource(self) -> Resource | None: ...

    @property
    def instrumentation_scope(self) -> InstrumentationScope | None: ...


def map_logs(records: Iterable[LogItem]) -> list[tuple[Resource, list[BatchEvent]]]:
    """One event per log record, grouped by resource in the order of their first record."""
    return [(resource, list(events)) for resource, events in log_event_groups(records)]


def log_event_groups(records: Iterable[LogItem]) -> list[tuple[Resource, Iterator[BatchEvent]]]:
    """What `map_logs` gives, each resource's events made as they are read."""
    return group_by_resource(
        records, _locate, lambda item, shared: (_log_event(item.log_record, shared),)
    )


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
    return _log_event(record, SharedFields.of(resource, scope))


def _log_event(record: LogRecord, shared: SharedFields) -> BatchEvent:
    severity = record.severity_number
    number = 0 if severity is None else int(severity.value)
    fields: dict[str, Any] = {
        "severity": severity_name(number),
        "severity_code": number,
        "meta.signal_type": "log",
        "flags": int(record.trace_flags or 0),
    }
    # OTLP leaves out an all-zero id, and Honeycomb then adds neither the id nor the annotation.
    if record.trace_id:
        fields["trace.trace_id"] = trace_id_hex(record.trace_id)
        fields["meta.annotation_type"] = "span_event"
    if record.span_id:
        fields["trace.parent_id"] = span_id_hex(record.span_id)
    if record.severity_text:
        fields["severity_text"] = record.severity_text
    event_name = getattr(record, "event_name", None)  # only newer SDKs have it
    if event_name:
        fields["event.name"] = event_name
    body = record.body
    if type(body) is str:  # the usual body, which needs no more than this
        fields["body"] = body
        checked = shared.checked
    else:
        add_body(fields, body)
        checked = False  # the encoder checks whatever the body became
    fields.update(shared.fields)
    checked = add_log_attributes(fields, record.attributes) and checked

    samplerate = pop_sample_rate(fields)
    if samplerate == 1:
        samplerate = None  # Honeycomb's default: no need to send it
    # Honeycomb would write a record without a timestamp at 1970: the observed time is better.
    nanos = record.timestamp or record.observed_timestamp
    # The fixed fields are ints and text, but a hand-made record may hold anything.
    checked = checked and type(record.severity_text or "") is str and type(event_name or "") is str
    return BatchEvent.trusted(
        fields, format_time_ns(nanos) if nanos else None, samplerate, fields_checked=checked
    )


def add_body(fields: dict[str, Any], body: Any) -> None:
    """A record's body as Honeycomb stores it: a string as is; a mapping flattened to
    ``body.<key>`` fields and also kept whole, as JSON text, in ``body``; any other value by the
    attribute value rules."""
    if body is None:
        return
    if isinstance(body, Mapping):
        fields["body"] = json_text(go_ordered(body))
    add_any_value(fields, "body", body)


def add_log_attributes(fields: dict[str, Any], attributes: Mapping[str, Any] | None) -> bool:
    """Merge a log record's attributes into `fields` (later wins), as `add_attributes` does,
    with one addition: log attributes may be mappings, which are flattened like bodies.
    True when every merged field holds Honeycomb's per-value limits (see `add_attributes`)."""
    return add_attributes(fields, attributes, add_any_value)


def add_any_value(fields: dict[str, Any], key: str, value: Any, depth: int = 0) -> None:
    """Store an OTel ``AnyValue`` under `key`: a mapping as one ``key.sub`` field per entry,
    nested to `MAX_FLATTEN_DEPTH`, below which each entry is stored as its JSON text (even a
    scalar, as Honeycomb does); arrays and bytes as JSON text; scalars as they are."""
    if isinstance(value, Mapping):
        for sub_key, sub_value in value.items():
            if sub_value is None:
                continue
            nested = f"{key}.{sub_key}"
            if depth < MAX_FLATTEN_DEPTH:
                add_any_value(fields, nested, sub_value, depth + 1)
            else:
                fields[nested] = json_text(go_ordered(sub_value))
    elif isinstance(value, (list, tuple)):
        fields[key] = json_text(go_ordered(value))
    else:
        converted = attribute_value(value)
        if converted is not None:
            fields[key] = converted


def go_ordered(value: Any) -> Any:
    """`value` with every mapping's keys sorted, as Go's JSON encoder writes a map."""
    if isinstance(value, Mapping):
        return {
            key: go_ordered(item)
            for key, item in sorted(
                ((str(key), item) for key, item in value.items()), key=lambda pair: pair[0]
            )
        }
    if isinstance(value, (list, tuple)):
        return [go_ordered(item) for item in value]
    return value
