"""OTLP/HTTP requests (protobuf) to SDK objects, so that the receiver maps them to events with
the very same code as the exporters: what an OTel SDK in any language sends here is stored as
this package would have sent it.

Only the protobuf encoding is read (`application/x-protobuf`), as OTLP/HTTP exporters send by
default; JSON-encoded OTLP is refused with 415.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource as ResourceMessage
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

_SPAN_KINDS = {
    1: SpanKind.INTERNAL,
    2: SpanKind.SERVER,
    3: SpanKind.CLIENT,
    4: SpanKind.PRODUCER,
    5: SpanKind.CONSUMER,
}


def any_value(value: AnyValue) -> Any:
    """An OTLP `AnyValue` as the Python value the SDK would have held."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return tuple(any_value(item) for item in value.array_value.values)
    if kind == "kvlist_value":
        return attributes_of(value.kvlist_value.values)
    return getattr(value, kind)


def attributes_of(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    return {pair.key: any_value(pair.value) for pair in pairs}


def _resource(message: ResourceMessage, schema_url: str) -> Resource:
    return Resource(attributes_of(message.attributes), schema_url or None)


def _scope(message: InstrumentationScope, schema_url: str) -> SdkScope:
    return SdkScope(
        message.name,
        message.version or None,
        schema_url or None,
        attributes_of(message.attributes) or None,
    )


def _span_context(trace_id: bytes, span_id: bytes, flags: int = 0, state: str = "") -> SpanContext:
    return SpanContext(
        int.from_bytes(trace_id, "big"),
        int.from_bytes(span_id, "big"),
        is_remote=False,
        trace_flags=TraceFlags(flags & 0xFF),
        trace_state=TraceState.from_header([state]) if state else None,
    )


def spans_of(body: bytes) -> list[ReadableSpan]:
    """The spans of an `ExportTraceServiceRequest`."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans: list[ReadableSpan] = []
    for resource_spans in request.resource_spans:
        resource = _resource(resource_spans.resource, resource_spans.schema_url)
        for scope_spans in resource_spans.scope_spans:
            scope = _scope(scope_spans.scope, scope_spans.schema_url)
            spans.extend(_span(span, resource, scope) for span in scope_spans.spans)
    return spans


def _span(span: Any, resource: Resource, scope: SdkScope) -> ReadableSpan:
    context = _span_context(span.trace_id, span.span_id, span.flags, span.trace_state)
    parent = _span_context(span.trace_id, span.parent_span_id) if span.parent_span_id else None
    events: Sequence[Event] = [
        Event(event.name, attributes_of(event.attributes), event.time_unix_nano)
        for event in span.events
    ]
    links: Sequence[Link] = [
        Link(
            _span_context(link.trace_id, link.span_id, link.flags, link.trace_state),
            attributes_of(link.attributes),
        )
        for link in span.links
    ]
    return ReadableSpan(
        name=span.name,
        context=context,
        parent=parent,
        resource=resource,
        attributes=attributes_of(span.attributes),
        events=events,
        links=links,
        kind=_SPAN_KINDS.get(span.kind, SpanKind.INTERNAL),
        status=Status(StatusCode(span.status.code), span.status.message or None),
        start_time=span.start_time_unix_nano,
        end_time=span.end_time_unix_nano,
        instrumentation_scope=scope,
    )


class ReceivedLogRecord:
    """A log record as the SDK hands it to exporters: the record, its resource and scope."""

    __slots__ = ("instrumentation_scope", "log_record", "resource")

    def __init__(self, log_record: LogRecord, resource: Resource, scope: SdkScope) -> None:
        self.log_record = log_record
        self.resource = resource
        self.instrumentation_scope = scope


def log_records_of(body: bytes) -> list[ReceivedLogRecord]:
    """The log records of an `ExportLogsServiceRequest`."""
    request = ExportLogsServiceRequest()
    request.ParseFromString(body)
    records: list[ReceivedLogRecord] = []
    for resource_logs in request.resource_logs:
        resource = _resource(resource_logs.resource, resource_logs.schema_url)
        for scope_logs in resource_logs.scope_logs:
            scope = _scope(scope_logs.scope, scope_logs.schema_url)
            for record in scope_logs.log_records:
                api_record = LogRecord(
                    timestamp=record.time_unix_nano or None,
                    observed_timestamp=record.observed_time_unix_nano or None,
                    trace_id=int.from_bytes(record.trace_id, "big") if record.trace_id else None,
                    span_id=int.from_bytes(record.span_id, "big") if record.span_id else None,
                    trace_flags=TraceFlags(record.flags & 0xFF),
                    severity_text=record.severity_text or None,
                    severity_number=SeverityNumber(record.severity_number)
                    if record.severity_number
                    else None,
                    body=any_value(record.body) if record.HasField("body") else None,
                    attributes=attributes_of(record.attributes),
                )
                if record.event_name and hasattr(api_record, "event_name"):
                    api_record.event_name = record.event_name
                records.append(ReceivedLogRecord(api_record, resource, scope))
    return records


def metrics_of(body: bytes) -> MetricsData:
    """The metrics of an `ExportMetricsServiceRequest`, as the SDK's reader would give them
    (summary points, which the SDK never makes, are left out)."""
    request = ExportMetricsServiceRequest()
    request.ParseFromString(body)
    return MetricsData(
        [
            ResourceMetrics(
                _resource(resource_metrics.resource, resource_metrics.schema_url),
                [
                    ScopeMetrics(
                        _scope(scope_metrics.scope, scope_metrics.schema_url),
                        [
                            Metric(metric.name, metric.description, metric.unit, data)
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
        point.start_time_unix_nano,
        point.time_unix_nano,
        value,
        (),
    )


def _recorded(point: Any, name: str, missing: float) -> float:
    """A point's min or max; the SDK reports one never recorded as an infinity."""
    value: float = getattr(point, name) if point.HasField(name) else missing
    return value


def _metric_data(metric: Any) -> Sum | Gauge | Histogram | ExponentialHistogram | None:
    kind = metric.WhichOneof("data")
    if kind == "sum":
        return Sum(
            [_number(point) for point in metric.sum.data_points],
            AggregationTemporality(metric.sum.aggregation_temporality),
            metric.sum.is_monotonic,
        )
    if kind == "gauge":
        return Gauge([_number(point) for point in metric.gauge.data_points])
    if kind == "histogram":
        return Histogram(
            [
                HistogramDataPoint(
                    attributes_of(point.attributes),
                    point.start_time_unix_nano,
                    point.time_unix_nano,
                    point.count,
                    point.sum,
                    list(point.bucket_counts),
                    list(point.explicit_bounds),
                    _recorded(point, "min", math.inf),
                    _recorded(point, "max", -math.inf),
                    (),
                )
                for point in metric.histogram.data_points
            ],
            AggregationTemporality(metric.histogram.aggregation_temporality),
        )
    if kind == "exponential_histogram":
        return ExponentialHistogram(
            [
                ExponentialHistogramDataPoint(
                    attributes_of(point.attributes),
                    point.start_time_unix_nano,
                    point.time_unix_nano,
                    point.count,
                    point.sum,
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
            AggregationTemporality(metric.exponential_histogram.aggregation_temporality),
        )
    return None
