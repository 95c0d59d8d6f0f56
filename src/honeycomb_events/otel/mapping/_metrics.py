"""Metric data points to Honeycomb events (mapping.md, "Metrics").

Honeycomb's own metrics translation is not public: this follows its documented grouping. Data
points of one export that share the second they fall in, the resource and the point attributes
become one event, with a field per metric: gauges and sums by value, histograms and summaries
as count, sum, average, min, max and percentiles.

Pure functions of SDK objects: no I/O, no global state. One point's failure costs that point's
unreadable parts, never the export: each part is read on its own.
"""

from __future__ import annotations

import collections
import decimal
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from opentelemetry.sdk.metrics.export import (
    ExponentialHistogram,
    Gauge,
    Histogram,
    MetricsData,
    Sum,
)
from opentelemetry.sdk.resources import Resource

from honeycomb_events._limits import LimitTally, mapped_event, value_within_limits
from honeycomb_events._model import MAX_TIME_NS, BatchEvent, format_time_ns

from ._common import (
    ITEMS_DROPPED,
    ITEMS_SALVAGED,
    SharedFields,
    add_attributes,
    log_once,
    readable_resource,
    record_dropped,
    shared_fields,
)
from ._histograms import (
    PERCENTILES,
    Buckets,
    explicit_buckets,
    exponential_buckets,
    histogram_field_names,
    known,
    percentiles,
    sdk_estimates,
)
from ._reading import MISSING, read, time_of
from ._values import Counts, single_value

_NANOS_PER_SECOND: Final = 1_000_000_000


@dataclass(frozen=True, slots=True)
class SummaryDataPoint:
    """An OTLP summary point, which the Python SDK never makes but other SDKs and Prometheus
    bridges send: `quantile_values` holds (quantile, value) pairs."""

    attributes: Mapping[str, Any] | None
    start_time_unix_nano: int
    time_unix_nano: int
    count: int
    sum: float
    quantile_values: Sequence[tuple[float, float]]


@dataclass(frozen=True, slots=True)
class Summary:
    """OTLP summary data: its points."""

    data_points: Sequence[SummaryDataPoint]


def map_metrics(
    metrics_data: MetricsData, tally: LimitTally | None = None
) -> list[tuple[Resource, list[BatchEvent]]]:
    """One event per (second, resource, point attributes), grouped by resource.

    Fields: ``meta.signal_type: "metric"``, ``meta.annotation_type: "metric_event"``, the
    point attributes, then the resource attributes (later wins), then each metric's fields.
    The event's time is the points' time truncated to the second. What the mapping
    transformed, dropped or salvaged is added to `tally`, when given.
    """
    counts: Counts = collections.Counter()
    grouped: list[tuple[Resource, list[BatchEvent]]] = []
    for resource_metrics in _parts(metrics_data, "resource_metrics", counts):
        resource, unread = readable_resource(read(resource_metrics, "resource"))
        events = _Events(shared_fields(resource, None, unread, counts), counts)
        for scope_metrics in _parts(resource_metrics, "scope_metrics", counts):
            for metric in _parts(scope_metrics, "metrics", counts):
                _add_metric(events, metric)
        grouped.append((resource, events.batch_events()))
    if counts:
        (LimitTally() if tally is None else tally).add_counts(counts)
    return grouped


def _parts(owner: Any, name: str, counts: Counts) -> Sequence[Any]:
    """``owner.name`` as a sequence; empty (and counted) when it cannot be read."""
    value = read(owner, name)
    try:
        return () if value is None else tuple(value)
    except Exception:
        counts[ITEMS_SALVAGED] += 1
        return ()


class _Events:
    """The events of one resource: each one's fields, by the second and the attributes of its
    points, in the order they were made.

    An event's second is its key's first item (None for points without a readable time:
    Honeycomb then stamps the arrival). Whether all its fields hold Honeycomb's per-value
    limits is noted by exception: the ids of the fields that may not.
    """

    __slots__ = ("_by_key", "_unchecked", "counts", "shared")

    def __init__(self, shared: SharedFields, counts: Counts) -> None:
        self.shared = shared
        self.counts = counts
        self._by_key: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._unchecked: set[int] = set()

    def of(self, second: int, attributes: Any) -> dict[str, Any]:
        """The fields of the event of `second` and `attributes`, made if new. `TypeError` for
        attributes that do not hash (arrays or maps among them: see `by_fields`)."""
        # With the values' types: 1, 1.0 and True are equal in Python, not as attributes.
        # (By position: equal attributes in another order make another event, not a loss.)
        key: tuple[Any, ...] = (
            (second, frozenset(attributes.items()), tuple(map(type, attributes.values())))
            if attributes
            else (second,)
        )
        fields = self._by_key.get(key)
        if fields is None:
            fields, checked = self._new_fields(attributes)
            self._by_key[key] = fields
            if not checked:
                self._unchecked.add(id(fields))
        return fields

    def by_fields(self, second: int | None, attributes: Any, *, dropped: int) -> dict[str, Any]:
        """The fields of the event of `second` and the fields `attributes` make, made if new:
        for points whose attributes do not hash, or that were read part by part (`dropped`
        parts of them lost)."""
        fields, _ = self._new_fields(attributes)
        if dropped:
            record_dropped(fields, dropped, None)
        key = (second, _BY_FIELDS, frozenset(fields.items()))
        existing = self._by_key.get(key)
        if existing is not None:
            return existing
        self._by_key[key] = fields
        self._unchecked.add(id(fields))
        return fields

    def _new_fields(self, attributes: Mapping[str, Any] | None) -> tuple[dict[str, Any], bool]:
        """A new event's fields, and whether they all hold Honeycomb's per-value limits."""
        fields: dict[str, Any] = {
            "meta.signal_type": "metric",
            "meta.annotation_type": "metric_event",
        }
        checked = add_attributes(fields, attributes, self.counts)
        fields.update(self.shared.fields)
        return fields, checked and self.shared.checked

    def uncheck(self, fields: dict[str, Any]) -> None:
        """`fields` may hold values past Honeycomb's per-value limits: the encoder checks."""
        self._unchecked.add(id(fields))

    def batch_events(self) -> list[BatchEvent]:
        times: dict[int, str] = {}  # the events of an export share a handful of seconds
        unchecked = self._unchecked
        events = []
        for key, fields in self._by_key.items():
            second = key[0]
            time = None
            if second is not None:
                time = times.get(second)
                if time is None:
                    time = times[second] = format_time_ns(second * _NANOS_PER_SECOND)
            within = id(fields) not in unchecked
            events.append(mapped_event(fields, time, None, within_limits=within))
        return events


_BY_FIELDS: Final = object()  # keys made of converted fields never equal raw attribute keys

_PointAdder: TypeAlias = Callable[[dict[str, Any], str, Any, Counts], bool]


def _add_metric(events: _Events, metric: Any) -> None:
    counts = events.counts
    data = read(metric, "data")
    points = _parts(data, "data_points", counts)
    add_point = _point_adder(data)
    if add_point is None:
        if points:
            counts[ITEMS_DROPPED] += len(points)
            log_once(
                f"metric data {type(data).__name__}",
                "metric data of type %s cannot be mapped: its points were dropped "
                "(counted in stats['items_dropped'])",
                type(data).__name__,
            )
        return
    name = read(metric, "name")
    if type(name) is not str or not name:
        name = None  # no field name for its values: each point counts the loss
    unread = events.shared.unread  # its resource could not be read
    for point in points:
        try:
            fields = _event_for(events, point)
            if unread:
                counts[ITEMS_SALVAGED] += 1
        except Exception:
            counts[ITEMS_SALVAGED] += 1
            fields = _salvaged_event_for(events, point)
        if name is None:  # a metric without a usable name: its fields have nowhere to go
            record_dropped(fields, 1, counts)
            events.uncheck(fields)
        elif not add_point(fields, name, point, counts):
            events.uncheck(fields)


def _event_for(events: _Events, point: Any) -> dict[str, Any]:
    """The fields of the event a point joins: the one of its second and attributes."""
    attributes = point.attributes
    nanos = point.time_unix_nano
    if type(nanos) is not int or not 0 <= nanos <= MAX_TIME_NS:
        raise ValueError(nanos)  # read as Honeycomb reads it, by the salvage
    second = nanos // _NANOS_PER_SECOND
    try:
        return events.of(second, attributes)
    except TypeError:  # arrays or maps among the attributes: grouped by the fields they make
        return events.by_fields(second, attributes, dropped=0)


def _salvaged_event_for(events: _Events, point: Any) -> dict[str, Any]:
    """The event of a point read part by part: without attributes or time where they
    cannot be read (each counted in its ``meta.dropped_fields``)."""
    dropped = 0
    attributes = read(point, "attributes")
    if attributes is not None and not isinstance(attributes, Mapping):
        attributes, dropped = None, dropped + 1
    nanos = time_of(read(point, "time_unix_nano"))
    if nanos is MISSING:
        dropped += 1
    second = None if nanos is MISSING else nanos // _NANOS_PER_SECOND
    return events.by_fields(second, attributes, dropped=dropped)


def _point_adder(data: Any) -> _PointAdder | None:
    """How a point of `data` adds its fields to its event, by kind of data (None for kinds not
    mapped). Each adder says whether the fields it added hold Honeycomb's per-value limits;
    none raises."""
    if isinstance(data, (Gauge, Sum)):
        return _add_value
    if isinstance(data, Histogram):
        return _add_explicit_histogram
    if isinstance(data, ExponentialHistogram):
        return _add_exponential_histogram
    if isinstance(data, Summary):
        return _add_summary
    return None


def _add_value(fields: dict[str, Any], name: str, point: Any, counts: Counts) -> bool:
    try:
        value = point.value
    except Exception:
        value = MISSING
    if type(value) is float or type(value) is int:  # the SDK's point: no call for it
        fields[name] = value
        return value_within_limits(value)
    return _number(fields, name, value, counts)


def _number(fields: dict[str, Any], key: str, value: Any, counts: Counts) -> bool:
    """A number field; another value through the one conversion; one that cannot be read
    or converted is dropped and counted. True when the field holds Honeycomb's limits."""
    cls = type(value)
    if cls is int or cls is float:
        fields[key] = value
        return value_within_limits(value)
    if value is None:
        return True
    try:
        if value is MISSING:
            raise ValueError
        fields[key] = single_value(value, counts)
    except Exception:
        record_dropped(fields, 1, counts)
    return False


def _add_histogram(
    fields: dict[str, Any],
    name: str,
    point: Any,
    counts: Counts,
    *,
    buckets_of: Callable[[Any], Buckets],
    sdk_estimates_of: Callable[[Any], list[float] | None],
) -> bool:
    """`.count .sum .avg .min .max` and the percentile fields of one histogram point."""
    names = histogram_field_names(name)
    try:
        count, total, low, high = point.count, point.sum, point.min, point.max
    except Exception:  # a point that is not the SDK's: each part on its own
        count, total, low, high = (read(point, part) for part in ("count", "sum", "min", "max"))
    if type(count) is int and type(total) is float and type(low) is float and type(high) is float:
        # The SDK's float histogram point, written without a call. An infinite min or max
        # is one never recorded.
        fields[names[0]] = count
        fields[names[1]] = total
        if count:
            fields[names[2]] = total / count
        if low - low == 0.0:
            fields[names[3]] = low
        if high - high == 0.0:
            fields[names[4]] = high
        estimates = sdk_estimates_of(point)
        if estimates is not None:  # finite floats, and a count within limits
            fields.update(zip(names[5:], estimates, strict=True))
            return total - total == 0.0
        checked = True
    else:
        checked = _add_totals(fields, names, (count, total, low, high), counts)
    try:
        estimates = percentiles(
            buckets_of(point),
            count,
            low if type(low) in _NUMBERS and low - low == 0 else -math.inf,
            high if type(high) in _NUMBERS and high - high == 0 else math.inf,
        )
    except Exception:  # buckets that cannot be read or make no sense: no estimates
        record_dropped(fields, len(PERCENTILES), counts)
        return False
    fields.update(zip(names[5:], estimates, strict=False))
    # An integer histogram's sum, min, max and estimates may be integers too, of any size;
    # the average is a float, finite when the sum is.
    return checked and all(map(value_within_limits, (count, total, *estimates)))


def _no_sdk_estimates(point: Any) -> None:
    """Exponential points: always estimated the careful way."""


_add_explicit_histogram: Final = functools.partial(
    _add_histogram, buckets_of=explicit_buckets, sdk_estimates_of=sdk_estimates
)
_add_exponential_histogram: Final = functools.partial(
    _add_histogram, buckets_of=exponential_buckets, sdk_estimates_of=_no_sdk_estimates
)


def _add_totals(
    fields: dict[str, Any], names: tuple[str, ...], parts: tuple[Any, ...], counts: Counts
) -> bool:
    """Count, sum, average, min and max of a point that is not the SDK's float histogram's
    (an integer histogram, a hand-built point), each through `_number`."""
    count, total, low, high = parts
    checked = _number(fields, names[0], count, counts)
    checked = _number(fields, names[1], total, counts) and checked
    checked = _number(fields, names[3], _recorded(low), counts) and checked
    checked = _number(fields, names[4], _recorded(high), counts) and checked
    return _average(fields, names[2], total, count, counts) and checked


def _average(fields: dict[str, Any], key: str, total: Any, count: Any, counts: Counts) -> bool:
    """The sum over the count, when both are numbers and there is a count."""
    if type(total) not in _NUMBERS or type(count) not in _NUMBERS or not count:
        return True
    try:
        average = fields[key] = total / count
    except (ArithmeticError, ValueError):  # sums past the float range
        record_dropped(fields, 1, counts)
        return False
    return value_within_limits(average)


_NUMBERS: Final = (int, float)


def _recorded(value: Any) -> Any:
    """A point's min or max: None when the SDK reports it unrecorded (an infinity)."""
    if type(value) is float:
        return value if value - value == 0.0 else None  # finite, without a call
    return known(value) if type(value) is int else value


def _add_summary(fields: dict[str, Any], name: str, point: Any, counts: Counts) -> bool:
    """`.count .sum .avg`, quantile 0 as `.min`, 1 as `.max`, and each other quantile q as
    ``.p`` and the digits of q (0.5 `.p50`, 0.99 `.p99`, 0.999 `.p999`)."""
    count, total = read(point, "count"), read(point, "sum")
    checked = _number(fields, f"{name}.count", count, counts)
    checked = _number(fields, f"{name}.sum", total, counts) and checked
    checked = _average(fields, f"{name}.avg", total, count, counts) and checked
    for pair in _parts(point, "quantile_values", counts):
        try:
            quantile, value = _quantile(pair)
            checked = _number(fields, f"{name}.{_quantile_suffix(quantile)}", value, counts) and (
                checked
            )
        except Exception:  # a quantile outside [0, 1], or a pair that cannot be read
            record_dropped(fields, 1, counts)
            checked = False
    return checked


def _quantile(pair: Any) -> tuple[float, Any]:
    quantile = read(pair, "quantile")
    if quantile is MISSING:
        quantile, value = pair
    else:
        value = read(pair, "value")
    if type(quantile) not in (int, float) or not 0 <= quantile <= 1:
        raise ValueError(quantile)
    return float(quantile), value


def _quantile_suffix(quantile: float) -> str:
    if quantile == 0:
        return "min"
    if quantile == 1:
        return "max"
    digits = format(decimal.Decimal(repr(quantile)), "f").partition(".")[2]
    return "p" + digits.ljust(2, "0")
