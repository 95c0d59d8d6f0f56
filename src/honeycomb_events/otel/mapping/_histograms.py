"""Histogram points as Honeycomb metric fields (mapping.md, "Metrics"): count, sum, average,
min, max and eleven percentiles estimated from the buckets, for explicit-bucket and
exponential histograms alike.

Pure arithmetic on SDK data points.
"""

from __future__ import annotations

import bisect
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
    reaches the rank (a bisection of the cumulative counts), and the value lies as far into
    that bucket's range as the rank lies into its count. A rank past every bucket (counts that
    add up to less than the total) takes the last bound. Bounds must be finite (the caller
    closes open-ended buckets with min and max).
    """
    lowers, uppers, counts = buckets
    if total <= 0 or not counts:
        return []
    if min(counts) < 0:
        counts = [max(count, 0) for count in counts]
    cumulative = list(itertools.accumulate(counts))
    # A last, empty-width bucket at the last bound takes every rank past the real ones.
    past = max(total, cumulative[-1]) + 1
    lowers = [*lowers, uppers[-1]]
    uppers = [*uppers, uppers[-1]]
    counts = [*counts, past - cumulative[-1]]
    cumulative.append(past)
    ranks = [quantile * total for quantile in _QUANTILES]
    estimates: list[float] = []
    for index, rank in zip(
        map(bisect.bisect_left, itertools.repeat(cumulative), ranks), ranks, strict=True
    ):
        # cumulative[index] >= rank > 0 while the bucket before fell short: its count is > 0.
        count, lower = counts[index], lowers[index]
        value = lower + (uppers[index] - lower) * ((rank - (cumulative[index] - count)) / count)
        # Clamped by comparisons: cheaper than min() and max(), eleven times a point.
        estimates.append(floor if value < floor else ceiling if value > ceiling else value)
    return estimates


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
