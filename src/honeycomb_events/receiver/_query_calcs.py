"""Each calculation over a set of events, given as row numbers into the query's columns (one
element an event): a group, or one time bucket of a group.

Sample rates weigh as in Honeycomb: an event kept 1 in N counts N times in COUNT, SUM, AVG, the
percentiles and the heatmaps; MIN, MAX and COUNT_DISTINCT ignore them. Numeric calculations
use the values that are finite numbers (JSON numbers within a double's range; booleans are not
numbers) and ignore every other value, strings of digits included. A percentile is the smallest
value at or below which that fraction of the events' weight lies (nearest rank: always a value
that was stored).
"""

from __future__ import annotations

import bisect
import itertools
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from operator import is_not
from typing import Any, Final

import msgspec

from honeycomb_events._query_spec import PERCENTILES, Calculation

HEATMAP_BUCKETS: Final = 30
"""How many value buckets a heatmap has between its lowest and highest value."""

_LARGEST: Final = int(sys.float_info.max)
_not_none: Final = partial(is_not, None)
_encoder: Final = msgspec.json.Encoder()


class _Tagged(tuple[str, Any]):
    """A value that must not equal another type's: ``true`` is not ``1``, and lists and
    objects are compared by their JSON text."""

    __slots__ = ()


def _canonical(value: Any) -> Any:
    kind = type(value)
    if kind is bool:
        return _Tagged(("bool", value))
    if kind is list or kind is dict:
        return _Tagged(("json", _encoder.encode(value)))
    return value


def _number(value: Any) -> int | float | None:
    kind = type(value)
    if kind is float or (kind is int and -_LARGEST <= value <= _LARGEST):
        return value  # type: ignore[no-any-return]
    return None


@dataclass
class Columns:
    """The matching events as parallel lists: each one's time bucket, sample rate, and the
    JSON value of each field the query reads (None where missing or null)."""

    buckets: list[int]
    weights: list[int]
    fields: dict[str, list[Any]]
    _keys: dict[str, list[Any]] = field(default_factory=dict)
    _numbers: dict[str, list[int | float | None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.weighted = any(weight != 1 for weight in self.weights)

    def __len__(self) -> int:
        return len(self.buckets)

    def keys(self, name: str) -> list[Any]:
        """The field's values as they group: hashable, ``true`` apart from ``1``."""
        if name not in self._keys:
            values = self.fields[name]
            kinds = set(map(type, values))
            plain = not kinds & {bool, list, dict}
            self._keys[name] = values if plain else [_canonical(v) for v in values]
        return self._keys[name]

    def numbers(self, name: str) -> list[int | float | None]:
        """The field's values that are finite numbers; None for every other."""
        if name not in self._numbers:
            values = self.fields[name]
            kinds = set(map(type, values))
            present = list(filter(_not_none, values))
            if kinds <= {float, int, type(None)} and (
                not present or (min(present) >= -_LARGEST and max(present) <= _LARGEST)
            ):
                self._numbers[name] = values
            else:
                self._numbers[name] = [_number(value) for value in values]
        return self._numbers[name]


def gather(column: Sequence[Any], rows: Sequence[int]) -> list[Any]:
    """The elements of `column` at `rows`."""
    return list(map(column.__getitem__, rows))


class _Sample:
    """A field's numbers among some rows, with their weights, sorted when first needed."""

    def __init__(self, columns: Columns, name: str, rows: Sequence[int]) -> None:
        numbers = columns.numbers(name)
        self.weights: list[int] | None = None
        if columns.weighted:
            kept = [row for row in rows if numbers[row] is not None]
            self.values = gather(numbers, kept)
            self.weights = gather(columns.weights, kept)
        else:
            self.values = list(filter(_not_none, gather(numbers, rows)))
        self._sorted: tuple[list[Any], list[int] | None] | None = None

    def weight(self) -> int:
        return len(self.values) if self.weights is None else sum(self.weights)

    def total(self) -> int | float:
        if self.weights is None:
            return math.fsum(self.values) if _has_float(self.values) else sum(self.values)
        products = [v * w for v, w in zip(self.values, self.weights, strict=True)]
        return math.fsum(products) if _has_float(products) else sum(products)

    def percentile(self, fraction: Any) -> int | float:
        if self._sorted is None:
            if self.weights is None:
                self._sorted = (sorted(self.values), None)
            else:
                order = sorted(range(len(self.values)), key=self.values.__getitem__)
                weights = self.weights
                self._sorted = (
                    gather(self.values, order),
                    list(itertools.accumulate(weights[i] for i in order)),
                )
        values, cumulative = self._sorted
        if cumulative is None:
            return values[max(math.ceil(fraction * len(values)), 1) - 1]  # type: ignore[no-any-return]
        return values[bisect.bisect_left(cumulative, fraction * cumulative[-1])]  # type: ignore[no-any-return]


def _has_float(values: list[Any]) -> bool:
    return any(type(value) is float for value in values)


def _finite(value: int | float) -> int | float | None:
    """A sum or mean beyond a double's range has no value (JSON cannot carry infinity)."""
    return value if isinstance(value, int) or math.isfinite(value) else None


def _numeric(calc: Calculation, sample: _Sample) -> Any:
    if not sample.values:
        return None
    op = calc.op
    if op in ("SUM", "AVG"):
        try:
            total = sample.total()
            return _finite(total if op == "SUM" else total / sample.weight())
        except OverflowError:
            return None
    if op == "MIN":
        return min(sample.values)
    if op == "MAX":
        return max(sample.values)
    return sample.percentile(PERCENTILES[op])


@dataclass(frozen=True, slots=True)
class HeatmapScale:
    """`count` equal value buckets of width `step` from `low`: a heatmap's value axis."""

    low: float
    step: float
    count: int

    @classmethod
    def of(cls, columns: Columns, name: str) -> HeatmapScale:
        """`HEATMAP_BUCKETS` buckets from the field's lowest number to its highest (one
        bucket when they are equal, none without numbers)."""
        numbers = [value for value in columns.numbers(name) if value is not None]
        if not numbers:
            return cls(0.0, 0.0, 0)
        low, high = float(min(numbers)), float(max(numbers))
        if low == high:
            return cls(low, 0.0, 1)
        return cls(low, (high - low) / HEATMAP_BUCKETS, HEATMAP_BUCKETS)

    @property
    def edges(self) -> tuple[float, ...]:
        if self.count == 0:
            return ()
        return tuple(self.low + self.step * j for j in range(self.count + 1))

    def buckets(self, columns: Columns, name: str) -> list[int | None]:
        """Each event's value bucket, None where the field holds no number."""
        last, low, step = self.count - 1, self.low, self.step or 1.0
        return [
            None if value is None else min(int((value - low) / step), last)
            for value in columns.numbers(name)
        ]


def _histogram(
    columns: Columns, buckets: list[int | None], rows: Sequence[int], count: int
) -> list[int | float]:
    counts: list[int | float] = [0] * count
    weights = gather(columns.weights, rows)
    for bucket, weight in zip(gather(buckets, rows), weights, strict=True):
        if bucket is not None:
            counts[bucket] += weight
    return counts


def heatmap_counts(
    columns: Columns, buckets: list[int | None], count: int, time_buckets: int
) -> list[list[int | float]]:
    """Every matching event's number counted by time bucket and value bucket."""
    counts: list[list[int | float]] = [[0] * count for _ in range(time_buckets)]
    for bucket, time_bucket, weight in zip(buckets, columns.buckets, columns.weights, strict=True):
        if bucket is not None:
            counts[time_bucket][bucket] += weight
    return counts


def calculate(
    calculations: Sequence[Calculation],
    columns: Columns,
    rows: Sequence[int],
    heatmaps: dict[str, tuple[HeatmapScale, list[int | None]]] | None = None,
) -> dict[str, Any]:
    """Each calculation's value over `rows`, by label. A HEATMAP gives its counts per value
    bucket of its scale and buckets in `heatmaps`, and is left out when that is None."""
    values: dict[str, Any] = {}
    samples: dict[str, _Sample] = {}
    for calc in calculations:
        name = calc.column or ""
        if calc.op == "COUNT":
            weights = gather(columns.weights, rows) if columns.weighted else rows
            values[calc.label] = sum(weights) if columns.weighted else len(weights)
        elif calc.op == "COUNT_DISTINCT":
            values[calc.label] = len(set(gather(columns.keys(name), rows)) - {None})
        elif calc.op == "HEATMAP":
            if heatmaps is not None:
                scale, buckets = heatmaps[calc.label]
                values[calc.label] = _histogram(columns, buckets, rows, scale.count)
        else:
            if name not in samples:
                samples[name] = _Sample(columns, name, rows)
            values[calc.label] = _numeric(calc, samples[name])
    return values
