"""Histogram points as Honeycomb metric fields (mapping.md, "Metrics"): count, sum, average,
min, max and eleven percentiles estimated from the buckets, for explicit-bucket and
exponential histograms alike.

Pure arithmetic on SDK data points.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from typing import Final

from opentelemetry.sdk.metrics.export import ExponentialHistogramDataPoint, HistogramDataPoint

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

Buckets = tuple[Sequence[float], Sequence[float], Sequence[int]]
"""Buckets as parallel (lower bounds, upper bounds, counts): bucket i holds the values in
(lower[i], upper[i]], ascending."""

_QUANTILES: Final = tuple(quantile for _, quantile in PERCENTILES)


def percentiles(
    buckets: Buckets, total: int, floor: float = -math.inf, ceiling: float = math.inf
) -> list[float]:
    """The value at each quantile of `PERCENTILES`, by linear interpolation inside the bucket
    holding its rank, clamped to [`floor`, `ceiling`]; empty when there is nothing to estimate.

    The rank is ``quantile * total``; the bucket holding it is the first whose cumulative count
    reaches the rank, and the value lies as far into that bucket's range as the rank lies into
    its count. A rank past every bucket (counts that add up to less than the total) takes the
    last bound. Bounds must be finite (the caller closes open-ended buckets with min and max).
    """
    lowers, uppers, counts = buckets
    if total <= 0 or not counts:
        return []
    if min(counts) < 0:
        counts = [max(count, 0) for count in counts]
    cumulative = list(itertools.accumulate(counts))
    return _interpolated(lowers, uppers, counts, cumulative, total, floor=floor, ceiling=ceiling)


def _interpolated(
    lowers: Sequence[float],
    uppers: Sequence[float],
    counts: Sequence[int],
    cumulative: list[int],
    total: int,
    *,
    floor: float,
    ceiling: float,
) -> list[float]:
    """`percentiles` of counts none of which is negative, given their running sums."""
    last = cumulative[-1]
    # A last, empty-width bucket at the last bound takes every rank past the real ones.
    past = max(total, last) + 1
    top = uppers[-1]
    lowers = [*lowers, top]
    uppers = [*uppers, top]
    counts = [*counts, past - last]
    cumulative.append(past)
    estimates: list[float] = []
    # The ranks ascend, so one walk up the buckets finds each one's bucket (the first whose
    # cumulative count reaches it), and quantiles in one bucket share its values.
    index = 0
    bucket = -1
    count = before = 0
    lower = width = 0.0
    for rank in _ranks(total) if type(total) is int else _scaled(total):
        while cumulative[index] < rank:
            index += 1
        if index != bucket:
            # cumulative[index] >= rank > 0 while the bucket before fell short: its count is > 0.
            bucket = index
            count, lower = counts[index], lowers[index]
            width, before = uppers[index] - lower, cumulative[index] - count
        value = lower + width * ((rank - before) / count)
        # Clamped by comparisons: cheaper than min() and max(), eleven times a point.
        estimates.append(floor if value < floor else ceiling if value > ceiling else value)
    return estimates


def _scaled(total: float) -> list[float]:
    """The rank of each quantile in `total` values."""
    return [quantile * total for quantile in _QUANTILES]


@functools.lru_cache(maxsize=4096)
def _ranks(total: int) -> tuple[float, ...]:
    """`_scaled`, made once per count: counts repeat from point to point, small ones most."""
    return tuple(_scaled(total))


def sdk_estimates(point: HistogramDataPoint) -> list[float] | None:
    """`percentiles` of one of the SDK's float histogram points, as its explicit buckets and
    recorded min and max give them, without copying or converting its bounds and counts; None
    for any other point (and for one whose percentiles would need any care), which the
    careful way then maps.

    The estimates are always finite: every bound, min, max and running count is finite (a
    count under 2^53, exact as a float), so a value past the recorded range is clamped into
    it, and none is a NaN (every rank lies strictly inside its bucket's counts).
    """
    count, low, high = point.count, point.min, point.max
    bounds, bucket_counts = point.explicit_bounds, point.bucket_counts
    if not (
        type(count) is int
        and 0 < count < _EXACT
        and type(low) is float
        and type(high) is float
        and low - low == 0.0  # recorded: finite, without a call
        and high - high == 0.0
        and type(bucket_counts) is tuple
        and type(bounds) is tuple
        and len(bucket_counts) == len(bounds) + 1
    ):
        return None
    try:
        if not _sensible(bounds):
            return None
        cumulative = list(itertools.accumulate(bucket_counts))
        # Integer counts (a float among them makes the sums floats), none negative.
        last = cumulative[-1]
        if type(last) is not int or last >= _EXACT or min(bucket_counts) < 0:
            return None
        return _interpolated(
            (low, *bounds),
            (*bounds, high),
            bucket_counts,
            cumulative,
            count,
            floor=low,
            ceiling=high,
        )
    except Exception:  # bounds or counts that do not compute as numbers do
        return None


_EXACT: Final = 2**53
"""Integers below this are exact as floats."""


@functools.lru_cache(maxsize=256)
def _sensible(bounds: tuple[float, ...]) -> bool:
    """Bounds `explicit_buckets` takes: some, finite, ascending. Checked once per set of
    bounds: a metric's points all share theirs."""
    return bool(bounds) and math.isfinite(sum(bounds)) and list(bounds) == sorted(bounds)


def known(value: float | None) -> float | None:
    """A recorded min or max; the SDK reports an unrecorded one as an infinity."""
    return value if value is not None and math.isfinite(value) else None


def explicit_buckets(point: HistogramDataPoint) -> Buckets:
    """The buckets of an explicit-bucket histogram, closed with the recorded min and max.

    The first bucket is (-inf, b0]: it starts at the min, else at 0 (or b0 if b0 <= 0). The
    last is (b_n, +inf): it ends at the max, else at b_n. `ValueError` for buckets that make
    no sense (bounds not finite or in descending order, one count too many or too few),
    which would give percentiles that look right and are not.
    """
    bounds = list(point.explicit_bounds)
    low, high = known(point.min), known(point.max)
    if not bounds:
        first = low if low is not None else 0.0
        return [first], [high if high is not None else first], [int(point.count)]
    counts = list(map(int, point.bucket_counts))
    # A NaN or an infinity makes the sum one too; a repeated bound is a bucket of no width,
    # which interpolation handles.
    if len(counts) != len(bounds) + 1 or not math.isfinite(sum(bounds)) or bounds != sorted(bounds):
        raise ValueError("histogram buckets that make no sense")
    edges = [
        low if low is not None else min(0.0, bounds[0]),
        *bounds,
        high if high is not None else bounds[-1],
    ]
    # An empty first bucket may start above its end (a min above the first bound): it is
    # never interpolated in, and the estimates are clamped to [min, max] anyway.
    return edges[:-1], edges[1:], counts


def exponential_buckets(point: ExponentialHistogramDataPoint) -> Buckets:
    """The buckets of an exponential histogram, in ascending order of value.

    With base = 2^(2^-scale), positive bucket i holds (base^i, base^(i+1)], negative bucket i
    holds [-base^(i+1), -base^i), and the zero bucket holds 0.
    """
    base = 2.0 ** (2.0**-point.scale)
    lowers: list[float] = []
    uppers: list[float] = []
    counts: list[int] = []
    negative = point.negative
    for position in reversed(range(len(negative.bucket_counts))):
        index = negative.offset + position
        lowers.append(-(base ** (index + 1)))
        uppers.append(-(base**index))
        counts.append(int(negative.bucket_counts[position]))
    if point.zero_count:
        lowers.append(0.0)
        uppers.append(0.0)
        counts.append(int(point.zero_count))
    positive = point.positive
    for position, count in enumerate(positive.bucket_counts):
        index = positive.offset + position
        lowers.append(base**index)
        uppers.append(base ** (index + 1))
        counts.append(int(count))
    return lowers, uppers, counts


@functools.lru_cache(maxsize=1024)
def histogram_field_names(name: str) -> tuple[str, ...]:
    """``name.count .sum .avg .min .max`` and the percentile fields, made once per metric."""
    return tuple(
        f"{name}.{suffix}"
        for suffix in ("count", "sum", "avg", "min", "max", *(suffix for suffix, _ in PERCENTILES))
    )
