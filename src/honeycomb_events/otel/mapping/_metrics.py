"""Metric data points to Honeycomb events (mapping.md, "Metrics").

Honeycomb's own metrics translation is not public: this follows its documented grouping. Data
points of one export that share the second they fall in, the resource and the point attributes
become one event, with a field per metric: gauges and sums by value, histograms and summaries
as count, sum, average, min, max and percentiles.

Pure functions of SDK objects: no I/O, no global state. One point's failure costs that point's
unreadable parts, never the export: each part is read on its own, unless the point is one the
SDK made, whose parts read as they are (`_add_sdk_points`).
"""

from __future__ import annotations

import collections
import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import is_
from typing import Any, Final, TypeAlias

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

from honeycomb_events._limits import (
    LimitTally,
    fields_within_limits,
    mapped_event,
    value_within_limits,
)
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
    ExplicitHistogram,
    add_histogram,
    add_summary,
    exponential_buckets,
    histogram_field_names,
    number_field,
    parts_of,
    percentiles,
)
from ._reading import MISSING, read, time_of
from ._values import Counts

__all__ = [
    "PERCENTILES",
    "Summary",
    "SummaryDataPoint",
    "map_metrics",
    "metric_event_groups",
    "percentiles",
]

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
    return [
        (resource, list(events)) for resource, events in metric_event_groups(metrics_data, tally)
    ]


def metric_event_groups(
    metrics_data: MetricsData, tally: LimitTally | None = None
) -> list[tuple[Resource, Iterator[BatchEvent]]]:
    """`map_metrics`, each resource's events made as they are consumed (an exporter encodes
    each one as it comes). Every point is mapped before this returns: an event takes fields
    from every metric."""
    counts: Counts = collections.Counter()
    grouped: list[tuple[Resource, Iterator[BatchEvent]]] = []
    for resource_metrics in parts_of(metrics_data, "resource_metrics", counts):
        resource, unread = readable_resource(read(resource_metrics, "resource"))
        events = _Events(shared_fields(resource, None, unread, counts), counts)
        for scope_metrics in parts_of(resource_metrics, "scope_metrics", counts):
            for metric in parts_of(scope_metrics, "metrics", counts):
                _add_metric(events, metric)
        grouped.append((resource, events.batch_events()))
    if counts:
        (LimitTally() if tally is None else tally).add_counts(counts)
    return grouped


class _Events:
    """The events of one resource, in the order they were made: each one's second and
    fields, found by the second and the attributes of its points.

    Points join one event when their seconds are equal, their attributes are equal as sets of
    items, and their values' types are the same position for position: 1, 1.0 and True are
    equal in Python, not as attributes (equal attributes in another order with other types
    make another event, not a loss). The index holds each event by its second and set of
    items, with the attributes that made it; types are compared only when a set is met again.
    Whether an event's fields all hold Honeycomb's per-value limits is noted by exception: the
    ids of the fields held here that may not. `hinted` and `hints`: the last metric's points
    and the fields each joined (None for one that went the careful way), by position.
    """

    __slots__ = (
        "_fields",
        "_index",
        "_seconds",
        "_unchecked",
        "counts",
        "hinted",
        "hints",
        "shared",
    )

    def __init__(self, shared: SharedFields, counts: Counts) -> None:
        self.shared = shared
        self.counts = counts
        self.hinted: list[Any] = []
        self.hints: list[dict[str, Any] | None] = []
        self._index: dict[tuple[Any, ...], Any] = {}
        self._seconds: list[int | None] = []
        self._fields: list[dict[str, Any]] = []
        self._unchecked: set[int] = set()

    def hinted_by(self, position: int, nanos: int, attributes: Any) -> bool:
        """Whether a point of `nanos` and `attributes` joins the event of the last metric's
        point at `position`: same time, equal attributes (equal sets of items, as equal dicts
        are), values of the same types."""
        if position >= len(self.hinted) or self.hints[position] is None:
            return False
        point = self.hinted[position]
        known = point.attributes
        return (
            point.time_unix_nano == nanos
            and type(known) is dict
            and type(attributes) is dict
            and known == attributes
            and _same_types(known, attributes)
        )

    def of(self, second: int, attributes: Any) -> dict[str, Any]:
        """The fields of the event of `second` and `attributes`, made if new. `TypeError` for
        attributes that do not hash (arrays or maps among them: see `by_fields`)."""
        if not attributes:
            key: tuple[Any, ...] = (second,)
            fields = self._index.get(key)
            if fields is None:
                fields = self._index[key] = self._new(second, attributes)
            return fields
        key = (second, frozenset(attributes.items()))
        entry = self._index.get(key)
        if entry is None:
            fields = self._new(second, attributes)
            self._index[key] = (attributes, fields)
            return fields
        if type(entry) is tuple:  # one event of this set so far
            if _same_types(entry[0], attributes):
                return entry[1]  # type: ignore[no-any-return]
            entry = self._index[key] = [entry]
        for known, fields in entry:
            if _same_types(known, attributes):
                return fields  # type: ignore[no-any-return]
        fields = self._new(second, attributes)
        entry.append((attributes, fields))
        return fields

    def by_fields(self, second: int | None, attributes: Any, *, dropped: int) -> dict[str, Any]:
        """The fields of the event of `second` and the fields `attributes` make, made if new:
        for points whose attributes do not hash, or that were read part by part (`dropped`
        parts of them lost)."""
        fields, _ = self._careful_fields(attributes)
        if dropped:
            record_dropped(fields, dropped, None)
        key = (second, _BY_FIELDS, frozenset(fields.items()))
        existing = self._index.get(key)
        if existing is not None:
            return existing  # type: ignore[no-any-return]
        self._index[key] = fields
        self._seconds.append(second)
        self._fields.append(fields)
        self._unchecked.add(id(fields))
        return fields

    def _new(self, second: int | None, attributes: Any) -> dict[str, Any]:
        """A new event's fields, kept in order."""
        shared = self.shared
        # The SDK's attributes: checked as `add_attributes` checks them, merged in one go.
        if type(attributes) is dict and fields_within_limits(attributes):
            fields = {**_META, **attributes, **shared.fields}
            checked = shared.checked
        else:
            fields, checked = self._careful_fields(attributes)
        self._seconds.append(second)
        self._fields.append(fields)
        if not checked:
            self._unchecked.add(id(fields))
        return fields

    def _careful_fields(self, attributes: Any) -> tuple[dict[str, Any], bool]:
        """A new event's fields, and whether they all hold Honeycomb's per-value limits."""
        fields = dict(_META)
        checked = add_attributes(fields, attributes, self.counts)
        fields.update(self.shared.fields)
        return fields, checked and self.shared.checked

    def uncheck(self, fields: dict[str, Any]) -> None:
        """`fields` may hold values past Honeycomb's per-value limits: the encoder checks."""
        self._unchecked.add(id(fields))

    def batch_events(self) -> Iterator[BatchEvent]:
        """The events, made as they are consumed: an encoder that takes each as it comes holds
        none of them after it is encoded."""
        times: dict[int, str] = {}  # the events of an export share a handful of seconds
        unchecked = self._unchecked
        for second, fields in zip(self._seconds, self._fields, strict=True):
            time = None
            if second is not None:
                time = times.get(second)
                if time is None:
                    time = times[second] = format_time_ns(second * _NANOS_PER_SECOND)
            yield mapped_event(fields, time, None, within_limits=id(fields) not in unchecked)


_META: Final = {"meta.signal_type": "metric", "meta.annotation_type": "metric_event"}
_BY_FIELDS: Final = object()  # keys made of converted fields never equal raw attribute keys


def _same_types(known: Mapping[str, Any], attributes: Mapping[str, Any]) -> bool:
    """Whether the values of two equal sets of attributes have the same types, position for
    position: at once when they are the same objects (the SDK's points of instruments
    recorded with one set of attributes hold the same ones)."""
    return all(map(is_, known.values(), attributes.values())) or tuple(
        map(type, known.values())
    ) == tuple(map(type, attributes.values()))


_PointAdder: TypeAlias = Callable[[dict[str, Any], Any, Counts], bool]
"""Adds a point's fields to its event's; says whether they hold Honeycomb's per-value limits.
Never raises."""


def _add_metric(events: _Events, metric: Any) -> None:
    counts = events.counts
    data = read(metric, "data")
    points = parts_of(data, "data_points", counts)
    adder_of = _point_adder(data)
    if adder_of is None:
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
    # A metric without a usable name has no field for its values: each point counts the loss.
    add_point = adder_of(name) if type(name) is str and name else None
    if add_point is None or events.shared.unread:
        for point in points:
            _add_point(events, point, add_point)
    else:
        _add_sdk_points(events, points, add_point)


def _add_point(events: _Events, point: Any, add_point: _PointAdder | None) -> None:
    """A point read part by part: its event, then its fields (`add_point`, None for a metric
    without a usable name)."""
    counts = events.counts
    try:
        fields = _event_for(events, point)
        if events.shared.unread:  # its resource could not be read
            counts[ITEMS_SALVAGED] += 1
    except Exception:
        counts[ITEMS_SALVAGED] += 1
        fields = _salvaged_event_for(events, point)
    if add_point is None:
        record_dropped(fields, 1, counts)
        events.uncheck(fields)
    elif not add_point(fields, point, counts):
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


def _add_sdk_points(events: _Events, points: Sequence[Any], add_point: _PointAdder) -> None:
    """The points of a metric with a name, under a resource that could be read: those the SDK
    made (its frozen dataclasses, whose parts read without a failure) with a time Honeycomb
    takes as it is join their event without `_event_for`'s care; the others, and those whose
    attributes do not hash, go the careful way (`_add_point`), to the same events.

    A point with the time and attributes of the last metric's point at its position joins
    that point's event without a lookup: the SDK's points of instruments recorded with one
    set of attributes come so, position for position.
    """
    counts = events.counts
    of = events.of
    hinted_by = events.hinted_by
    hints = events.hints
    points_made: list[Any] = []
    fields_made: list[dict[str, Any] | None] = []
    for position, point in enumerate(points):
        fields = None
        if type(point) in _SDK_POINTS:
            nanos = point.time_unix_nano
            if type(nanos) is int and 0 <= nanos <= MAX_TIME_NS:
                attributes = point.attributes
                try:
                    if hinted_by(position, nanos, attributes):
                        fields = hints[position]
                    else:
                        fields = of(nanos // _NANOS_PER_SECOND, attributes)
                except Exception:  # the careful way meets it again, and knows what to do
                    fields = None
        points_made.append(point)
        fields_made.append(fields)
        if fields is None:
            _add_point(events, point, add_point)
        elif not add_point(fields, point, counts):
            events.uncheck(fields)
    events.hinted, events.hints = points_made, fields_made


_SDK_POINTS: Final = (NumberDataPoint, HistogramDataPoint, ExponentialHistogramDataPoint)


def _point_adder(data: Any) -> Callable[[str], _PointAdder] | None:
    """How the points of `data` add their fields, given the metric's name, by kind of data
    (None for kinds not mapped)."""
    if isinstance(data, (Gauge, Sum)):
        return lambda name: functools.partial(_add_value, name)
    if isinstance(data, Histogram):
        return lambda name: ExplicitHistogram(histogram_field_names(name)).add
    if isinstance(data, ExponentialHistogram):
        return lambda name: functools.partial(
            add_histogram, exponential_buckets, histogram_field_names(name)
        )
    if isinstance(data, Summary):
        return lambda name: functools.partial(add_summary, name)
    return None


def _add_value(name: str, fields: dict[str, Any], point: Any, counts: Counts) -> bool:
    try:
        value = point.value
    except Exception:
        value = MISSING
    if type(value) is float or type(value) is int:  # the SDK's point: no call for it
        fields[name] = value
        return value_within_limits(value)
    return number_field(fields, name, value, counts)
