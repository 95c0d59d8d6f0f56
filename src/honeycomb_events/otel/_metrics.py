"""Metric data points to Honeycomb events (mapping.md, "Metrics").

Honeycomb's own metrics translation is not public: this follows its documented grouping. Data
points of one export that share the second they fall in, the resource and the point attributes
become one event, with a field per metric: gauges and sums by value, histograms as count, sum,
average, min, max and eleven percentiles estimated from the buckets.

Pure functions of SDK objects: no I/O, no global state.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from opentelemetry.sdk.metrics.export import (
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
    Gauge,
    Histogram,
    HistogramDataPoint,
    MetricsData,
    NumberDataPoint,
    Sum,
)
from opentelemetry.sdk.resources import Resource

from honeycomb_events._model import BatchEvent, format_time_ns
from honeycomb_events.otel._common import add_attributes, resource_fields

PERCENTILES: Final = (
    ("p001", 0.001),
    ("p01", 0.01),
    ("p05", 0.05),
    ("p10", 0.10),
    ("p25", 0.25),
    ("p50", 0.50),
    ("p75", 0.75),
    ("p90", 0.90),
    ("p95", 0.95),
    ("p99", 0.99),
    ("p999", 0.999),
)
"""Field suffix and quantile of each percentile a histogram gets."""

_NANOS_PER_SECOND: Final = 1_000_000_000

Bucket = tuple[float, float, int]
"""A bucket as (lower bound, upper bound, count): values in it lie in (lower, upper]."""


def percentile(buckets: Sequence[Bucket], total: int, quantile: float) -> float | None:
    """The value at `quantile`, by linear interpolation inside the bucket holding its rank.

    The rank is ``quantile * total``; the bucket holding it is the first whose cumulative count
    reaches the rank, and the value lies as far into that bucket's range as the rank lies into
    its count. Bounds must be finite (the caller closes open-ended buckets with min and max).
    """
    if total <= 0:
        return None
    rank = quantile * total
    seen = 0
    for lower, upper, count in buckets:
        if count <= 0:
            continue
        if seen + count >= rank:
            return lower + (upper - lower) * ((rank - seen) / count)
        seen += count
    return buckets[-1][1] if buckets else None


def _clamped(value: float | None, low: float | None, high: float | None) -> float | None:
    if value is None:
        return None
    if low is not None:
        value = max(value, low)
    if high is not None:
        value = min(value, high)
    return value


def _known(value: float | None) -> float | None:
    """A recorded min or max; the SDK reports an unrecorded one as an infinity."""
    return value if value is not None and math.isfinite(value) else None


def explicit_buckets(point: HistogramDataPoint) -> list[Bucket]:
    """The buckets of an explicit-bucket histogram, closed with the recorded min and max.

    The first bucket is (-inf, b0]: it starts at the min, else at 0 (or b0 if b0 <= 0). The
    last is (b_n, +inf): it ends at the max, else at b_n.
    """
    bounds = list(point.explicit_bounds)
    low, high = _known(point.min), _known(point.max)
    if not bounds:
        first = low if low is not None else 0.0
        return [(first, high if high is not None else first, int(point.count))]
    buckets: list[Bucket] = []
    edges = [
        low if low is not None else min(0.0, bounds[0]),
        *bounds,
        high if high is not None else bounds[-1],
    ]
    for index, count in enumerate(point.bucket_counts):
        lower, upper = edges[index], edges[index + 1]
        buckets.append((min(lower, upper), upper, int(count)))
    return buckets


def exponential_buckets(point: ExponentialHistogramDataPoint) -> list[Bucket]:
    """The buckets of an exponential histogram, in ascending order of value.

    With base = 2^(2^-scale), positive bucket i holds (base^i, base^(i+1)], negative bucket i
    holds [-base^(i+1), -base^i), and the zero bucket holds 0.
    """
    base = 2.0 ** (2.0**-point.scale)
    buckets: list[Bucket] = []
    negative = point.negative
    for position in reversed(range(len(negative.bucket_counts))):
        index = negative.offset + position
        buckets.append(
            (-(base ** (index + 1)), -(base**index), int(negative.bucket_counts[position]))
        )
    if point.zero_count:
        buckets.append((0.0, 0.0, int(point.zero_count)))
    positive = point.positive
    for position, count in enumerate(positive.bucket_counts):
        index = positive.offset + position
        buckets.append((base**index, base ** (index + 1), int(count)))
    return buckets


def histogram_fields(
    name: str,
    *,
    count: int,
    total: float,
    low: float | None,
    high: float | None,
    buckets: Sequence[Bucket],
) -> dict[str, Any]:
    """`.count .sum .avg .min .max` and the percentile fields of one histogram point."""
    fields: dict[str, Any] = {f"{name}.count": count, f"{name}.sum": total}
    if count:
        fields[f"{name}.avg"] = total / count
    if low is not None:
        fields[f"{name}.min"] = low
    if high is not None:
        fields[f"{name}.max"] = high
    for suffix, quantile in PERCENTILES:
        value = _clamped(percentile(buckets, count, quantile), low, high)
        if value is not None:
            fields[f"{name}.{suffix}"] = value
    return fields


def point_fields(name: str, data: Any, point: Any) -> dict[str, Any]:
    """The fields one data point adds to its event."""
    if isinstance(data, (Gauge, Sum)):
        return {name: point.value}
    if isinstance(data, (Histogram, ExponentialHistogram)):
        buckets = (
            explicit_buckets(point) if isinstance(data, Histogram) else exponential_buckets(point)
        )
        return histogram_fields(
            name,
            count=point.count,
            total=point.sum,
            low=_known(point.min),
            high=_known(point.max),
            buckets=buckets,
        )
    return {}


def _attribute_key(attributes: Mapping[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((attributes or {}).items(), key=lambda item: item[0]))


def map_metrics(metrics_data: MetricsData) -> list[tuple[Resource, list[BatchEvent]]]:
    """One event per (second, resource, point attributes), grouped by resource.

    Fields: ``meta.signal_type: "metric"``, ``meta.annotation_type: "metric_event"``, the
    point attributes, then the resource attributes (later wins), then each metric's fields.
    The event's time is the points' time truncated to the second.
    """
    grouped: list[tuple[Resource, list[BatchEvent]]] = []
    for resource_metrics in metrics_data.resource_metrics:
        resource = resource_metrics.resource
        shared = resource_fields(resource.attributes, resource.schema_url)
        events: dict[tuple[int, tuple[tuple[str, Any], ...]], dict[str, Any]] = {}
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                for point in _points(metric.data):
                    second = point.time_unix_nano // _NANOS_PER_SECOND
                    key = (second, _attribute_key(point.attributes))
                    fields = events.get(key)
                    if fields is None:
                        fields = events[key] = {
                            "meta.signal_type": "metric",
                            "meta.annotation_type": "metric_event",
                        }
                        add_attributes(fields, point.attributes)
                        fields.update(shared)
                    fields.update(point_fields(metric.name, metric.data, point))
        grouped.append(
            (
                resource,
                [
                    BatchEvent.trusted(fields, format_time_ns(second * _NANOS_PER_SECOND), None)
                    for (second, _), fields in events.items()
                ],
            )
        )
    return grouped


def _points(data: Any) -> Iterable[NumberDataPoint | HistogramDataPoint | Any]:
    return getattr(data, "data_points", ())
