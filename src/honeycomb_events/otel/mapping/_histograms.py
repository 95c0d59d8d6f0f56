"""Histogram and summary points as Honeycomb metric fields (mapping.md, "Metrics"): count,
sum, average, min, max and eleven percentiles estimated from the buckets, for explicit-bucket
and exponential histograms alike; a summary's quantiles; the number fields they all write.

Pure functions of SDK data points.
"""

from __future__ import annotations

import decimal
import functools
import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any, Final

from opentelemetry.sdk.metrics.export import ExponentialHistogramDataPoint, HistogramDataPoint

from honeycomb_events._limits import value_within_limits

from ._common import ITEMS_SALVAGED, record_dropped
from ._reading import MISSING, read
from ._values import Counts, single_value

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
    last bound. Bounds must be finite (the caller closes open-ended buckets with min and max),
    counts integers.
    """
    lowers, uppers, counts = buckets
    if total <= 0 or not counts:
        return []
    if min(counts) < 0:
        counts = [max(count, 0) for count in counts]
    cumulative = list(itertools.accumulate(counts))
    last = cumulative[-1]
    # A last, empty-width bucket at the last bound takes every rank past the real ones.
    past = max(total, last) + 1
    top = uppers[-1]
    return _walk(
        [*lowers, top],
        [*uppers, top],
        [*counts, past - last],
        [*cumulative, past],
        _ranks(total) if type(total) is int else [(rank, rank) for rank in _scaled(total)],
        floor=floor,
        ceiling=ceiling,
    )


def _walk(
    lowers: Sequence[float],
    uppers: Sequence[float],
    counts: Sequence[int],
    cumulative: Sequence[int],
    ranks: Sequence[tuple[float, float]],
    *,
    floor: float,
    ceiling: float,
) -> list[float]:
    """`percentiles` of buckets whose last one takes every rank past the others, given the
    running sums of their counts (integers, none negative) and each rank with the threshold
    a running sum falls short of exactly when it falls short of the rank."""
    estimates: list[float] = []
    # The ranks ascend, so one walk up the buckets finds each one's bucket (the first whose
    # cumulative count reaches it), and quantiles in one bucket share its values.
    index = 0
    bucket = -1
    lower = width = before = count = 0.0
    for rank, threshold in ranks:
        while cumulative[index] < threshold:
            index += 1
        if index != bucket:
            # cumulative[index] >= rank > 0 while the bucket before fell short: its count is > 0.
            bucket = index
            lower = lowers[index]
            width = uppers[index] - lower
            # As floats once, as ``rank - before`` and ``/ count`` would convert them each time.
            before = float(cumulative[index] - counts[index])
            count = float(counts[index])
        value = lower + width * ((rank - before) / count)
        # Clamped by comparisons: cheaper than min() and max(), eleven times a point.
        estimates.append(floor if value < floor else ceiling if value > ceiling else value)
    return estimates


def _scaled(total: float) -> list[float]:
    """The rank of each quantile in `total` values."""
    return [quantile * total for quantile in _QUANTILES]


@functools.lru_cache(maxsize=4096)
def _ranks(total: int) -> tuple[tuple[float, int], ...]:
    """The rank of each quantile in `total` values, with the least integer not below it: an
    integer falls short of one exactly when it falls short of the other, and compares
    faster. Made once per count: counts repeat from point to point, small ones most."""
    return tuple((rank, math.ceil(rank)) for rank in _scaled(total))


class ExplicitHistogram:
    """How the points of one explicit-bucket histogram metric add their fields (named `names`,
    by `histogram_field_names`): the SDK's own float points without a call per field, each
    one's percentiles found in one walk up its buckets; any other point by `add_histogram`.

    A point the SDK made has a recorded (finite) min and max, and integer bucket counts that
    add up to its count, so no rank lies past its buckets; a metric's points share their
    bounds, checked once. Every value is then finite: one past the recorded range is clamped
    into it, and none is a NaN (each rank lies strictly inside its bucket's counts, exact as
    floats below 2^53).
    """

    __slots__ = ("_bounds", "_names", "_plans")

    def __init__(self, names: tuple[str, ...]) -> None:
        self._names = names
        self._bounds: tuple[float, ...] | None = None  # the last bounds found sensible
        # By count: each percentile's field name, rank and threshold (see `_ranks`).
        self._plans: dict[int, tuple[tuple[str, float, int], ...]] = {}

    def add(self, fields: dict[str, Any], point: Any, counts: Counts) -> bool:
        """Write `point`'s fields (`add_histogram`'s, in its order); True when they hold
        Honeycomb's per-value limits."""
        if type(point) is HistogramDataPoint:
            checked = self._add_sdk_point(fields, point)
            if checked is not None:
                return checked
        return add_histogram(explicit_buckets, self._names, fields, point, counts)

    def _add_sdk_point(self, fields: dict[str, Any], point: HistogramDataPoint) -> bool | None:
        """`add`, for a float point as the SDK makes them; None, with nothing written, for
        any other (or one whose percentiles would need any care)."""
        count, total, low, high = point.count, point.sum, point.min, point.max
        bounds, bucket_counts = point.explicit_bounds, point.bucket_counts
        if not (
            type(count) is int
            and 0 < count < _EXACT
            and type(total) is float
            and type(low) is float
            and type(high) is float
            and low - low == 0.0  # recorded: finite, without a call
            and high - high == 0.0
            and type(bucket_counts) is tuple
            and (bounds is self._bounds or self._sensible(bounds))
            and len(bucket_counts) == len(bounds) + 1
        ):
            return None
        cumulative = list(itertools.accumulate(bucket_counts))
        # Integer counts (a float among them makes the sums floats), none negative.
        if type(cumulative[-1]) is not int or cumulative[-1] != count or min(bucket_counts) < 0:
            return None
        plan = self._plans.get(count) or self._plan(count)
        names = self._names
        fields[names[0]] = count
        fields[names[1]] = total
        fields[names[2]] = total / count
        fields[names[3]] = low
        fields[names[4]] = high
        lowers = (low, *bounds)
        uppers = (*bounds, high)
        # As `_walk` does, without the bucket past the others.
        index = 0
        bucket = -1
        lower = width = share = before = 0.0
        for name, rank, threshold in plan:
            while cumulative[index] < threshold:
                index += 1
            if index != bucket:
                bucket = index
                lower = lowers[index]
                width = uppers[index] - lower
                # As floats once, as ``rank - before`` and ``/ share`` would convert them
                # for each rank in the bucket.
                before = float(cumulative[index] - bucket_counts[index])
                share = float(bucket_counts[index])
            value = lower + width * ((rank - before) / share)
            fields[name] = low if value < low else high if value > high else value
        return total - total == 0.0

    def _sensible(self, bounds: Any) -> bool:
        """Bounds `explicit_buckets` takes (some, finite, ascending), of integers and floats
        only (interpolation on them cannot raise); kept for the next point, which shares them."""
        if not (
            type(bounds) is tuple
            and bounds
            and set(map(type, bounds)) <= {int, float}
            and math.isfinite(sum(bounds))
            and list(bounds) == sorted(bounds)
        ):
            return False
        self._bounds = bounds
        return True

    def _plan(self, count: int) -> tuple[tuple[str, float, int], ...]:
        plan = self._plans[count] = tuple(
            (name, rank, threshold)
            for name, (rank, threshold) in zip(self._names[5:], _ranks(count), strict=True)
        )
        return plan


_EXACT: Final = 2**53
"""Integers below this are exact as floats."""


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


def add_histogram(
    buckets_of: Callable[[Any], Buckets],
    names: tuple[str, ...],
    fields: dict[str, Any],
    point: Any,
    counts: Counts,
) -> bool:
    """`.count .sum .avg .min .max` and the percentile fields of one histogram point, named
    `names` (`histogram_field_names`), its buckets given by `buckets_of`. True when they hold
    Honeycomb's per-value limits."""
    try:
        count, total, low, high = point.count, point.sum, point.min, point.max
    except Exception:  # a point that is not the SDK's: each part on its own
        count, total, low, high = (read(point, part) for part in ("count", "sum", "min", "max"))
    if type(count) is int and type(total) is float and type(low) is float and type(high) is float:
        # A float histogram point, written without a call. An infinite min or max is one
        # never recorded.
        fields[names[0]] = count
        fields[names[1]] = total
        if count:
            fields[names[2]] = total / count
        if low - low == 0.0:
            fields[names[3]] = low
        if high - high == 0.0:
            fields[names[4]] = high
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


def _add_totals(
    fields: dict[str, Any], names: tuple[str, ...], parts: tuple[Any, ...], counts: Counts
) -> bool:
    """Count, sum, average, min and max of a point that is not the SDK's float histogram's
    (an integer histogram, a hand-built point), each through `number_field`."""
    count, total, low, high = parts
    checked = number_field(fields, names[0], count, counts)
    checked = number_field(fields, names[1], total, counts) and checked
    checked = number_field(fields, names[3], _recorded(low), counts) and checked
    checked = number_field(fields, names[4], _recorded(high), counts) and checked
    return average_field(fields, names[2], total, count, counts) and checked


def number_field(fields: dict[str, Any], key: str, value: Any, counts: Counts) -> bool:
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


def average_field(fields: dict[str, Any], key: str, total: Any, count: Any, counts: Counts) -> bool:
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


def add_summary(name: str, fields: dict[str, Any], point: Any, counts: Counts) -> bool:
    """`.count .sum .avg`, quantile 0 as `.min`, 1 as `.max`, and each other quantile q as
    ``.p`` and the digits of q (0.5 `.p50`, 0.99 `.p99`, 0.999 `.p999`)."""
    count, total = read(point, "count"), read(point, "sum")
    checked = number_field(fields, f"{name}.count", count, counts)
    checked = number_field(fields, f"{name}.sum", total, counts) and checked
    checked = average_field(fields, f"{name}.avg", total, count, counts) and checked
    for pair in parts_of(point, "quantile_values", counts):
        try:
            quantile, value = _quantile(pair)
            checked = number_field(
                fields, f"{name}.{_quantile_suffix(quantile)}", value, counts
            ) and (checked)
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


def parts_of(owner: Any, name: str, counts: Counts) -> Sequence[Any]:
    """``owner.name`` as a sequence; empty (and counted) when it cannot be read."""
    value = read(owner, name)
    try:
        return () if value is None else tuple(value)
    except Exception:
        counts[ITEMS_SALVAGED] += 1
        return ()
