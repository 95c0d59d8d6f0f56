"""The metric mapping's shortcuts give exactly what the careful path gives.

The SDK's own points join their events without being read part by part, a point with the time
and attributes of the last metric's point at its position joins that point's event without a
lookup, an event's attributes are checked and merged in one go, and the SDK's float histogram
points are written in one walk up their buckets. Each is compared here with the careful path,
on the same points: the same events, fields in the same order with values of the same types,
the same times and marks, the same counts.
"""

from __future__ import annotations

import collections
import math
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Histogram,
    HistogramDataPoint,
    InMemoryMetricReader,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource

from honeycomb_events._limits import LimitTally
from honeycomb_events.otel._metric_exporter import DELTA_TEMPORALITY
from honeycomb_events.otel.mapping import _histograms, _metrics
from honeycomb_events.otel.mapping._values import Counts

from .hostile import any_values
from .reference import Opaque

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

PROPERTY_SETTINGS: dict[str, Any] = {"deadline": None, "max_examples": 60}
START = 1_714_564_800_123_456_789
RESOURCE = Resource({"service.name": "fast", "host": "h", "code": 200})


def comparable(value: Any) -> Any:
    """`value` with its exact type, NaN made equal to itself."""
    return (type(value), "NaN" if value != value else value)  # noqa: PLR0124 - NaN's test


def mapped(data: MetricsData) -> tuple[list[Any], LimitTally]:
    tally = LimitTally()
    events = [
        (
            [(key, comparable(value)) for key, value in event.data.items()],
            event.time,
            event.within_limits,
        )
        for _, group in _metrics.map_metrics(data, tally)
        for event in group
    ]
    return events, tally


def careful(data: MetricsData) -> tuple[list[Any], LimitTally]:
    """`mapped`, every point read part by part and every histogram written field by field."""
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(_metrics, "_add_sdk_points", _each_carefully)
        patched.setattr(_metrics, "fields_within_limits", lambda attributes: False)
        patched.setattr(_histograms.ExplicitHistogram, "_add_sdk_point", lambda *_: None)
        return mapped(data)


def _each_carefully(events: Any, points: Any, add_point: Any) -> None:
    for point in points:
        _metrics._add_point(events, point, add_point)


def metrics_data(*metrics: Metric, resource: Resource = RESOURCE) -> MetricsData:
    return MetricsData([ResourceMetrics(resource, [ScopeMetrics(None, list(metrics), "")], "")])  # type: ignore[arg-type]


# --- points recorded through the SDK ------------------------------------------------------

attribute_values = st.one_of(
    st.text(max_size=4),
    st.booleans(),
    st.sampled_from([0, 1, 1.0, True, 2**63, 2**64, -(2**63) - 1, math.nan, math.inf, 0.5]),
    st.lists(st.sampled_from(["a", "b", 1]), max_size=3).map(tuple),
)
attribute_sets = st.dictionaries(
    st.sampled_from(["route", "code", "method", "ok", ""]), attribute_values, max_size=3
)
amounts = st.one_of(
    st.integers(0, 50),
    st.floats(0, 1e6, allow_nan=False),
    st.sampled_from([2**70, 1e300, 5e-324]),
)


def recorded(
    records: list[tuple[int, dict[str, Any], list[Any]]],
    bounds: list[float],
    *,
    delta: bool,
    record_min_max: bool,
) -> MetricsData:
    """What a reader collects from four instruments given the same attributes, record for
    record: histograms with `bounds`, a counter, an up-down counter, a gauge."""
    preferred: dict[type, AggregationTemporality] = dict(DELTA_TEMPORALITY.items()) if delta else {}
    reader = InMemoryMetricReader(preferred_temporality=preferred)
    provider = MeterProvider(
        metric_readers=[reader],
        resource=RESOURCE,
        views=[
            View(
                instrument_name="latency",
                aggregation=ExplicitBucketHistogramAggregation(bounds, record_min_max),
            ),
            View(instrument_name="*"),
        ],
    )
    meter = provider.get_meter("fast")
    latency, size = meter.create_histogram("latency"), meter.create_histogram("size")
    requests, active = meter.create_counter("requests"), meter.create_up_down_counter("active")
    temperature = meter.create_gauge("temperature")
    for repeat, attributes, values in records:
        for value in values:
            for _ in range(repeat):
                latency.record(value, attributes)
                size.record(int(value) if value < 2**63 else 0, attributes)
                requests.add(value, attributes)
                active.add(-value, dict(reversed(attributes.items())))
                temperature.set(value, attributes)
    data = reader.get_metrics_data()
    provider.shutdown()
    assert data is not None
    return data


@settings(**PROPERTY_SETTINGS)
@given(
    records=st.lists(
        st.tuples(st.integers(1, 3), attribute_sets, st.lists(amounts, min_size=1, max_size=4)),
        min_size=1,
        max_size=6,
    ),
    bounds=st.sampled_from([[], [0.0], [1, 10, 100], [0.001, 0.5, 0.75, 1e5, 1e300], [-5.0, 0.0]]),
    delta=st.booleans(),
    record_min_max=st.booleans(),
)
def test_points_the_sdk_records_map_as_the_careful_way_maps_them(
    records: list[tuple[int, dict[str, Any], list[Any]]],
    bounds: list[float],
    delta: bool,
    record_min_max: bool,
) -> None:
    data = recorded(records, bounds, delta=delta, record_min_max=record_min_max)
    assert mapped(data) == careful(data)


# --- points made by hand ------------------------------------------------------------------

times = st.one_of(
    st.sampled_from([START, START + 1, START + 10**9, 0, 2**63 - 1, 2**63, -1]),
    st.sampled_from([float(START), "now", None, True]),
)
counts_of = st.one_of(
    st.integers(0, 40), st.sampled_from([2**53, 2**60, True, 3.0, -1, math.nan, None])
)
floats = st.one_of(
    st.floats(-1e6, 1e6), st.sampled_from([math.inf, -math.inf, math.nan, 1e308, -1e308, 0.0])
)


@st.composite
def histogram_points(draw: Any) -> Any:
    bounds = draw(
        st.one_of(
            st.lists(st.floats(-100, 100), max_size=5).map(sorted).map(tuple),
            st.sampled_from(
                [(), (1.0, 1.0), (2.0, 1.0), (1, 2.5, 5), (math.nan,), (1.0, math.inf)]
            ),
            st.sampled_from([[1.0, 2.0], ("a", "b"), (1e308, 1.7e308)]),
        )
    )
    size = len(bounds) + draw(st.sampled_from([1, 1, 1, 1, 0, 2]))
    bucket_counts = draw(
        st.one_of(
            st.lists(st.integers(0, 9), min_size=size, max_size=size).map(tuple),
            st.lists(st.sampled_from([0, 1, -1, 2**60, True, 1.5]), min_size=size, max_size=size),
        )
    )
    agreeing = sum(count for count in bucket_counts if type(count) is int)
    count = draw(st.one_of(st.just(agreeing), counts_of))
    return HistogramDataPoint(
        attributes=draw(st.sampled_from([{}, {"a": 1}, {"a": 1.0}, {"b": "x", "a": 1}])),
        start_time_unix_nano=START,
        time_unix_nano=draw(times),
        count=count,
        sum=draw(st.one_of(floats, st.integers(-5, 5))),
        bucket_counts=bucket_counts,
        explicit_bounds=bounds,
        min=draw(st.one_of(floats, st.integers(-5, 5))),
        max=draw(st.one_of(floats, st.integers(-5, 5))),
    )


number_points = st.builds(
    NumberDataPoint,
    attributes=st.one_of(
        st.sampled_from([{}, None, {"a": 1}, {"a": 1.0}, {"a": True}, {"b": "x", "a": 1}]),
        st.dictionaries(st.sampled_from(["a", "b"]), any_values, max_size=2),
    ),
    start_time_unix_nano=st.just(START),
    time_unix_nano=times,
    value=st.one_of(floats, st.integers(), st.sampled_from([None, "7", True, Opaque()])),
)


@settings(**PROPERTY_SETTINGS)
@given(
    histograms=st.lists(histogram_points(), max_size=5),
    numbers=st.lists(number_points, max_size=5),
    order=st.permutations(range(4)),
)
@example(
    histograms=[
        HistogramDataPoint({"a": 1}, START, START, 3, 6.0, (1, 1, 1), (1.0, 2.0), 0.5, 3.0),
        HistogramDataPoint({"a": 1}, START, START, 3, 6.0, (0, 3, 0), (1.0, 2.0), 5.0, 1.0),
    ],
    numbers=[NumberDataPoint({"a": 1}, START, START, 7)],
    order=[0, 1, 2, 3],
)
def test_points_made_by_hand_map_as_the_careful_way_maps_them(
    histograms: list[Any],
    numbers: list[Any],
    order: list[int],
) -> None:
    metrics = [
        Metric("h", None, None, Histogram(histograms, AggregationTemporality.DELTA)),
        Metric("g", None, None, Gauge(numbers)),
        Metric("s", None, None, Sum(list(reversed(numbers)), AggregationTemporality.DELTA, True)),
        Metric("h2", None, None, Histogram(histograms[::-1], AggregationTemporality.DELTA)),
    ]
    data = metrics_data(*(metrics[index] for index in order))
    assert mapped(data) == careful(data)


# --- each shortcut on its own -------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(point=histogram_points(), before=st.sampled_from([{}, {"h.count": 1, "h.p50": "x"}]))
def test_a_histogram_point_written_in_one_walk_is_written_as_field_by_field(
    point: Any, before: dict[str, Any]
) -> None:
    names = _histograms.histogram_field_names("h")
    fast, slow = dict(before), dict(before)
    fast_counts: Counts = collections.Counter()
    slow_counts: Counts = collections.Counter()
    fast_checked = _histograms.ExplicitHistogram(names).add(fast, point, fast_counts)
    slow_checked = _histograms.add_histogram(
        _histograms.explicit_buckets, names, slow, point, slow_counts
    )
    assert [(key, comparable(value)) for key, value in fast.items()] == [
        (key, comparable(value)) for key, value in slow.items()
    ]
    assert (fast_checked, fast_counts) == (slow_checked, slow_counts)


def test_the_sdk_histograms_of_a_metric_share_their_bounds_and_plans() -> None:
    bounds = (1.0, 2.0, 4.0)
    histogram = _histograms.ExplicitHistogram(_histograms.histogram_field_names("h"))
    for counts in ((1, 1, 1, 1), (0, 4, 0, 0), (0, 0, 0, 4)):
        point = HistogramDataPoint({}, START, START, 4, 10.0, counts, bounds, 0.5, 6.0)
        slow: dict[str, Any] = {}
        _histograms.add_histogram(
            _histograms.explicit_buckets,
            _histograms.histogram_field_names("h"),
            slow,
            point,
            collections.Counter(),
        )
        fast: dict[str, Any] = {}
        assert histogram._add_sdk_point(fast, point) is True
        assert list(fast.items()) == list(slow.items())
    assert histogram._bounds is bounds
    assert list(histogram._plans) == [4]


def test_a_hint_joins_only_equal_attributes_of_the_same_types_and_time() -> None:
    first = [
        NumberDataPoint({"a": "y", "b": "x"}, START, START, 1),
        NumberDataPoint({"a": 1}, START, START, 2),
        NumberDataPoint({"a": 1}, START, START, 3),
        NumberDataPoint({"a": 1, "b": "x"}, START, START, 4),
    ]
    # Position for position: equal in another order (joins), equal but a float (does not),
    # another second (does not), equal in another order with other types by position (does
    # not: mapping.md's grouping, as the careful way has it).
    second = [
        NumberDataPoint({"b": "x", "a": "y"}, START, START, 5),
        NumberDataPoint({"a": 1.0}, START, START, 6),
        NumberDataPoint({"a": 1}, START, START + 10**9, 7),
        NumberDataPoint({"b": "x", "a": 1}, START, START, 8),
    ]
    data = metrics_data(
        Metric("m", None, None, Gauge(first)), Metric("n", None, None, Gauge(second))
    )
    events = [event.data for _, group in _metrics.map_metrics(data) for event in group]
    assert [(event.get("m"), event.get("n")) for event in events] == [
        (1, 5),
        (3, None),  # {"a": 1} twice in one metric: one event, the later value
        (4, None),
        (None, 6),
        (None, 7),
        (None, 8),
    ]
