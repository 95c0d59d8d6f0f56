"""OTLP/HTTP requests (protobuf) to SDK objects, so that the receiver maps them to events with
the very same code as the exporters: what an OTel SDK in any language sends here is stored as
this package would have sent it.

Only the protobuf encoding is read (`application/x-protobuf`), as OTLP/HTTP exporters send by
default; JSON-encoded OTLP is refused with 415.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any, Final

from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Buckets,
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope as SdkScope
from opentelemetry.trace import (
    Link,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)

from honeycomb_events.otel.mapping import Summary, SummaryDataPoint

from ._otlp_wire import LogsRequest, MetricsRequest, TraceRequest, any_value, attributes_of

_SPAN_KINDS: Final = {
    1: SpanKind.INTERNAL,
    2: SpanKind.SERVER,
    3: SpanKind.CLIENT,
    4: SpanKind.PRODUCER,
    5: SpanKind.CONSUMER,
}
_STATUS_CODES: Final = {code.value: code for code in StatusCode}
_UINT64: Final = 1 << 64
_INT64_MAX: Final = (1 << 63) - 1


class WireTraceState(TraceState):
    """A tracestate header exactly as it came: Honeycomb stores (and reads a sampling
    threshold from) the header as sent, whatever the W3C rules, which `TraceState` applies,
    would make of it."""

    def __init__(self, header: str) -> None:
        super().__init__()
        self._header = header

    def to_header(self) -> str:
        return self._header

    def __bool__(self) -> bool:
        return bool(self._header)


class WireStatus(Status):
    """A span status with its message as it came: the SDK's `Status` drops (and warns of)
    a message on any status but ERROR, and Honeycomb keeps it as ``status_message``."""

    def __init__(self, code: StatusCode, message: str) -> None:
        super().__init__(code)
        self._wire_message = message or None

    @property
    def description(self) -> str | None:
        return self._wire_message


def _signed(nanos: int) -> int:
    """An OTLP time (unsigned 64 bits) as Honeycomb reads it: as a signed count."""
    return nanos - _UINT64 if nanos > _INT64_MAX else nanos


class WireResource(Resource):
    """A resource whose attributes are kept as they came. The SDK's `Resource` cleans them,
    walking nested values by recursion (a kvlist 1,000 deep raises) and changing what
    Honeycomb keeps; the mapping reads only `attributes` and `schema_url`."""

    def __init__(self, attributes: dict[str, Any], schema_url: str | None) -> None:
        super().__init__({}, schema_url)
        self._wire_attributes = attributes

    @property
    def attributes(self) -> dict[str, Any]:
        return self._wire_attributes


class WireScope(SdkScope):
    """An instrumentation scope whose attributes are kept as they came (see `WireResource`)."""

    def __init__(
        self, name: str, version: str | None, schema_url: str | None, attributes: dict[str, Any]
    ) -> None:
        super().__init__(name, version, schema_url)
        self._wire_attributes = attributes

    @property
    def attributes(self) -> dict[str, Any]:
        return self._wire_attributes


def _resource(message: Any, schema_url: str) -> Resource:
    return WireResource(attributes_of(message.attributes), schema_url or None)


def _scope(message: Any, schema_url: str) -> SdkScope:
    return WireScope(
        message.name, message.version or None, schema_url or None, attributes_of(message.attributes)
    )


def _span_context(trace_id: bytes, span_id: bytes, flags: int = 0, state: str = "") -> SpanContext:
    return SpanContext(
        int.from_bytes(trace_id, "big"),
        int.from_bytes(span_id, "big"),
        is_remote=False,
        trace_flags=TraceFlags(flags & 0xFF),
        trace_state=WireTraceState(state) if state else None,
    )


def spans_of(body: bytes) -> Iterator[ReadableSpan]:
    """The spans of an ``ExportTraceServiceRequest``, each made when it is asked for. The
    request is parsed first: `google.protobuf.message.DecodeError` before any span."""
    request: Any = TraceRequest.FromString(body)
    found = _scoped(request.resource_spans, "scope_spans", "spans")
    return (_span(span, resource, scope) for span, resource, scope in found)


def _scoped(resources: Any, scopes: str, items: str) -> Iterator[tuple[Any, Resource, SdkScope]]:
    """Each item of a request's resources and their scopes, with its resource and scope, each of
    those made once."""
    for resource_items in resources:
        resource = _resource(resource_items.resource, resource_items.schema_url)
        for scope_items in getattr(resource_items, scopes):
            scope = _scope(scope_items.scope, scope_items.schema_url)
            for item in getattr(scope_items, items):
                yield item, resource, scope


def _span(span: Any, resource: Resource, scope: SdkScope) -> ReadableSpan:
    context = _span_context(span.trace_id, span.span_id, span.flags, span.trace_state)
    parent = _span_context(span.trace_id, span.parent_span_id) if span.parent_span_id else None
    events: Sequence[Event] = [
        Event(event.name, attributes_of(event.attributes), _signed(event.time_unix_nano))
        for event in span.events
    ]
    links: Sequence[Link] = [
        Link(
            _span_context(link.trace_id, link.span_id, link.flags, link.trace_state),
            attributes_of(link.attributes),
        )
        for link in span.links
    ]
    # Kind 0 (unspecified) or one unknown: no SpanKind, which Honeycomb shows "unspecified".
    kind: Any = _SPAN_KINDS.get(span.kind)
    code = _STATUS_CODES.get(span.status.code, StatusCode.UNSET)
    return ReadableSpan(
        name=span.name,
        context=context,
        parent=parent,
        resource=resource,
        attributes=attributes_of(span.attributes),
        events=events,
        links=links,
        kind=kind,
        status=WireStatus(code, span.status.message),
        start_time=_signed(span.start_time_unix_nano),
        end_time=_signed(span.end_time_unix_nano),
        instrumentation_scope=scope,
    )


class ReceivedLogRecord:
    """A log record as the SDK hands it to exporters: the record, its resource and scope."""

    __slots__ = ("instrumentation_scope", "log_record", "resource")

    def __init__(self, log_record: LogRecord, resource: Resource, scope: SdkScope) -> None:
        self.log_record = log_record
        self.resource = resource
        self.instrumentation_scope = scope


def log_records_of(body: bytes) -> Iterator[ReceivedLogRecord]:
    """The log records of an `ExportLogsServiceRequest`, each made when it is asked for. The
    request is parsed first: `google.protobuf.message.DecodeError` before any record."""
    request: Any = LogsRequest.FromString(body)
    found = _scoped(request.resource_logs, "scope_logs", "log_records")
    return (_log_record(record, resource, scope) for record, resource, scope in found)


def _log_record(record: Any, resource: Resource, scope: SdkScope) -> ReceivedLogRecord:
    api_record = LogRecord(
        timestamp=_signed(record.time_unix_nano) or None,
        observed_timestamp=_signed(record.observed_time_unix_nano) or None,
        trace_id=int.from_bytes(record.trace_id, "big") if record.trace_id else None,
        span_id=int.from_bytes(record.span_id, "big") if record.span_id else None,
        trace_flags=TraceFlags(record.flags & 0xFF),
        severity_text=record.severity_text or None,
        severity_number=_severity(record.severity_number),
        body=any_value(record.body) if record.HasField("body") else None,
        attributes=attributes_of(record.attributes),
    )
    if record.event_name and hasattr(api_record, "event_name"):
        api_record.event_name = record.event_name
    return ReceivedLogRecord(api_record, resource, scope)


def _severity(number: int) -> Any:
    """The record's `SeverityNumber`; a number OTLP allows but the enum lacks stays an int."""
    if not number:
        return None
    return _SEVERITIES.get(number, number)


_SEVERITIES: Final = {severity.value: severity for severity in SeverityNumber}


def metrics_of(body: bytes) -> MetricsData:
    """The metrics of an `ExportMetricsServiceRequest`, as the SDK's reader would give them,
    and summaries (which the SDK never makes) as `Summary`."""
    request: Any = MetricsRequest.FromString(body)
    return MetricsData(
        [
            ResourceMetrics(
                _resource(resource_metrics.resource, resource_metrics.schema_url),
                [
                    ScopeMetrics(
                        _scope(scope_metrics.scope, scope_metrics.schema_url),
                        [
                            # A summary goes where the SDK's kinds go: the mapping reads it.
                            Metric(metric.name, metric.description, metric.unit, data)  # type: ignore[arg-type]
                            for metric in scope_metrics.metrics
                            if (data := _metric_data(metric)) is not None
                        ],
                        scope_metrics.schema_url,
                    )
                    for scope_metrics in resource_metrics.scope_metrics
                ],
                resource_metrics.schema_url,
            )
            for resource_metrics in request.resource_metrics
        ]
    )


def _number(point: Any) -> NumberDataPoint:
    value = point.as_int if point.WhichOneof("value") == "as_int" else point.as_double
    return NumberDataPoint(
        attributes_of(point.attributes),
        _signed(point.start_time_unix_nano),
        _signed(point.time_unix_nano),
        value,
        (),
    )


def _sum(point: Any) -> Any:
    """A histogram's sum, optional in OTLP: without one, the event has no sum or average
    (rather than a sum of 0)."""
    return point.sum if point.HasField("sum") else None


def _temporality(value: int) -> AggregationTemporality:
    try:
        return AggregationTemporality(value)
    except ValueError:  # a value newer than this SDK knows
        return AggregationTemporality.UNSPECIFIED


def _summary(point: Any) -> SummaryDataPoint:
    return SummaryDataPoint(
        attributes_of(point.attributes),
        _signed(point.start_time_unix_nano),
        _signed(point.time_unix_nano),
        point.count,
        point.sum,
        [(pair.quantile, pair.value) for pair in point.quantile_values],
    )


def _recorded(point: Any, name: str, missing: float) -> float:
    """A point's min or max; the SDK reports one never recorded as an infinity."""
    value: float = getattr(point, name) if point.HasField(name) else missing
    return value


def _metric_data(
    metric: Any,
) -> Sum | Gauge | Histogram | ExponentialHistogram | Summary | None:
    kind = metric.WhichOneof("data")
    if kind == "sum":
        return Sum(
            [_number(point) for point in metric.sum.data_points],
            _temporality(metric.sum.aggregation_temporality),
            metric.sum.is_monotonic,
        )
    if kind == "gauge":
        return Gauge([_number(point) for point in metric.gauge.data_points])
    if kind == "histogram":
        return Histogram(
            [
                HistogramDataPoint(
                    attributes_of(point.attributes),
                    _signed(point.start_time_unix_nano),
                    _signed(point.time_unix_nano),
                    point.count,
                    _sum(point),
                    list(point.bucket_counts),
                    list(point.explicit_bounds),
                    _recorded(point, "min", math.inf),
                    _recorded(point, "max", -math.inf),
                    (),
                )
                for point in metric.histogram.data_points
            ],
            _temporality(metric.histogram.aggregation_temporality),
        )
    if kind == "exponential_histogram":
        return ExponentialHistogram(
            [
                ExponentialHistogramDataPoint(
                    attributes_of(point.attributes),
                    _signed(point.start_time_unix_nano),
                    _signed(point.time_unix_nano),
                    point.count,
                    _sum(point),
                    point.scale,
                    point.zero_count,
                    Buckets(point.positive.offset, list(point.positive.bucket_counts)),
                    Buckets(point.negative.offset, list(point.negative.bucket_counts)),
                    point.flags,
                    _recorded(point, "min", math.inf),
                    _recorded(point, "max", -math.inf),
                    (),
                )
                for point in metric.exponential_histogram.data_points
            ],
            _temporality(metric.exponential_histogram.aggregation_temporality),
        )
    if kind == "summary":
        return Summary([_summary(point) for point in metric.summary.data_points])
    return None
