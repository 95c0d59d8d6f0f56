"""Metric data points to Honeycomb events (mapping.md, "Metrics").

Honeycomb's own metrics translation is not public: this follows its documented grouping. Data
points of one export that share the second they fall in, the resource and the point attributes
become one event, with a field per metric: gauges and sums by value, histograms as count, sum,
average, min, max and eleven percentiles estimated from the buckets.

Pure functions of SDK objects: no I/O, no global state.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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
from honeycomb_events.otel._common import SharedFields, add_attributes, resource_fields

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


def percentiles(buckets: Sequence[Bucket], total: int) -> list[float]:
    """The value at each quantile of `PERCENTILES`, by linear interpolation inside the bucket
    holding its rank; empty when there is nothing to estimate.

    The rank is ``quantile * total``; the bucket holding it is the first whose cumulative count
    reaches the rank, and the value lies as far into that bucket's range as the rank lies into
    its count. Ranks rise with the quantiles, so one walk over the buckets finds them all.
    Bounds must be finite (the caller closes open-ended buckets with min and max).
    """
    if total <= 0 or not buckets:
        return []
    values: list[float] = []
    index, seen, last = 0, 0, len(buckets) - 1
    for _, quantile in PERCENTILES:
        rank = quantile * total
        while index < last and (buckets[index][2] <= 0 or seen + buckets[index][2] < rank):
            seen += max(buckets[index][2], 0)
            index += 1
        lower, upper, count = buckets[index]
        if count > 0 and seen + count >= rank:
            values.append(lower + (upper - lower) * ((rank - seen) / count))
        else:  # the counts add up to less than the total: the rank lies past every bucket
            values.append(upper)
    return values


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
    edges = [
        low if low is not None else min(0.0, bounds[0]),
        *bounds,
        high if high is not None else bounds[-1],
    ]
    # An empty first bucket may start above its end (a min above the first bound): it is
    # never interpolated in, and the estimates are clamped to [min, max] anyway.
    return list(zip(edges, edges[1:], map(int, point.bucket_counts), strict=False))


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


@functools.lru_cache(maxsize=1024)
def _histogram_field_names(name: str) -> tuple[str, ...]:
    """``name.count .sum .avg .min .max`` and the percentile fields, made once per metric."""
    return tuple(
        f"{name}.{suffix}"
        for suffix in ("count", "sum", "avg", "min", "max", *(suffix for suffix, _ in PERCENTILES))
    )


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
    names = _histogram_field_names(name)
    fields: dict[str, Any] = {names[0]: count, names[1]: total}
    if count:
        fields[names[2]] = total / count
    if low is not None:
        fields[names[3]] = low
    if high is not None:
        fields[names[4]] = high
    floor = -math.inf if low is None else low
    ceiling = math.inf if high is None else high
    for field, value in zip(names[5:], percentiles(buckets, count), strict=False):
        fields[field] = min(max(value, floor), ceiling)
    return fields


def map_metrics(metrics_data: MetricsData) -> list[tuple[Resource, list[BatchEvent]]]:
    """One event per (second, resource, point attributes), grouped by resource.

    Fields: ``meta.signal_type: "metric"``, ``meta.annotation_type: "metric_event"``, the
    point attributes, then the resource attributes (later wins), then each metric's fields.
    The event's time is the points' time truncated to the second.
    """
    grouped: list[tuple[Resource, list[BatchEvent]]] = []
    for resource_metrics in metrics_data.resource_metrics:
        resource = resource_metrics.resource
        shared = SharedFields.of(resource_fields(resource.attributes, resource.schema_url))
        # Per event: its fields, and whether they all hold Honeycomb's per-value limits.
        events: dict[tuple[int, frozenset[tuple[str, Any]]], _MetricEvent] = {}
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                data = metric.data
                to_fields = _point_fields_of(data)
                if to_fields is None:
                    continue
                for point in data.data_points:
                    attributes = point.attributes
                    key = (
                        point.time_unix_nano // _NANOS_PER_SECOND,
                        frozenset(attributes.items()) if attributes else _NO_ATTRIBUTES,
                    )
                    event = events.get(key)
                    if event is None:
                        fields = {
                            "meta.signal_type": "metric",
                            "meta.annotation_type": "metric_event",
                        }
                        checked = add_attributes(fields, attributes)
                        fields.update(shared.fields)
                        event = events[key] = _MetricEvent(fields, checked and shared.checked)
                    if not add_attributes(event.fields, to_fields(metric.name, point)):
                        event.checked = False
        grouped.append(
            (
                resource,
                [
                    BatchEvent.trusted(
                        event.fields,
                        format_time_ns(second * _NANOS_PER_SECOND),
                        None,
                        fields_checked=event.checked,
                    )
                    for (second, _), event in events.items()
                ],
            )
        )
    return grouped


_NO_ATTRIBUTES: Final = frozenset[tuple[str, Any]]()


@dataclass(slots=True)
class _MetricEvent:
    fields: dict[str, Any]
    checked: bool


def _point_fields_of(data: Any) -> Callable[[str, Any], Mapping[str, Any]] | None:
    """What a point of `data` adds to its event, by kind of data; None for kinds not mapped."""
    if isinstance(data, (Gauge, Sum)):
        return _value_fields
    if isinstance(data, Histogram):
        return lambda name, point: _histogram_point_fields(name, point, explicit_buckets(point))
    if isinstance(data, ExponentialHistogram):
        return lambda name, point: _histogram_point_fields(name, point, exponential_buckets(point))
    return None


def _value_fields(name: str, point: NumberDataPoint) -> Mapping[str, Any]:
    return {name: point.value}


def _histogram_point_fields(
    name: str, point: HistogramDataPoint | ExponentialHistogramDataPoint, buckets: list[Bucket]
) -> Mapping[str, Any]:
    return histogram_fields(
        name,
        count=point.count,
        total=point.sum,
        low=_known(point.min),
        high=_known(point.max),
        buckets=buckets,
    )
