"""Each calculation over a group's events in one time bucket (a `Cell`, as SQLite grouped
them) or over all of its cells.

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
from typing import Any, Final

import msgspec

from honeycomb_events._query_spec import PERCENTILES, Calculation

HEATMAP_BUCKETS: Final = 30
"""How many value buckets a heatmap has between its lowest and highest value."""

_LARGEST: Final = int(sys.float_info.max)
_encoder: Final = msgspec.json.Encoder()

Numbers = tuple[list[Any], "list[int] | None"]
"""Finite numbers and their weights, an element each (None: every weight is 1)."""


class _Tagged(tuple[str, Any]):
    """A value that must not equal another type's: ``true`` is not ``1``, and lists and
    objects are compared by their JSON text."""

    __slots__ = ()


def canonical(value: Any) -> Any:
    """`value` as groups and distinct counts compare it: hashable, ``true`` apart from
    ``1``, ``1`` the same as ``1.0``."""
    kind = type(value)
    if kind is bool:
        return _Tagged(("bool", value))
    if kind is list or kind is dict:
        return _Tagged(("json", _encoder.encode(value)))
    return value


def _is_number(value: Any) -> bool:
    kind = type(value)
    return kind is float or (kind is int and -_LARGEST <= value <= _LARGEST)


def _sorted_together(values: list[Any], weights: list[int] | None) -> Numbers:
    if weights is None:
        return sorted(values), None
    order = sorted(range(len(values)), key=values.__getitem__)
    return [values[i] for i in order], [weights[i] for i in order]


@dataclass
class Cell:
    """One group's events in one time bucket: how many, their summed sample rates, each
    one's rate (None when all are 1), and each field's value per event (None: missing)."""

    bucket: int
    count: int
    weight: int
    weights: list[int] | None
    values: dict[str, list[Any]]
    _numbers: dict[tuple[str, bool], Numbers] = field(default_factory=dict, repr=False)
    _histograms: dict[str, list[int]] = field(default_factory=dict, repr=False)

    def merge(self, other: Cell) -> None:
        """Take in `other`'s events (a value grouped apart by SQLite that Python groups
        together, as ``1`` and ``1.0``)."""
        if self.weights is not None or other.weights is not None:
            self.weights = [
                *(self.weights or [1] * self.count),
                *(other.weights or [1] * other.count),
            ]
        self.count += other.count
        self.weight += other.weight
        for name, values in other.values.items():
            self.values[name] = self.values[name] + values
        self._numbers.clear()
        self._histograms.clear()

    def numbers(self, name: str, ordered: bool) -> Numbers:
        """The field's finite numbers with their weights, sorted by value if `ordered`."""
        key = (name, ordered)
        if key not in self._numbers:
            values = self.values[name]
            if set(map(type, values)) == {float}:  # the usual case, checked in C
                found: Numbers = (values, self.weights)
            elif self.weights is None:
                found = ([v for v in values if _is_number(v)], None)
            else:
                kept = [i for i, v in enumerate(values) if _is_number(v)]
                found = ([values[i] for i in kept], [self.weights[i] for i in kept])
            self._numbers[key] = _sorted_together(*found) if ordered else found
        return self._numbers[key]

    def distinct(self, name: str) -> set[Any]:
        values = self.values[name]
        kinds = set(map(type, values))
        plain = values if not kinds & {bool, list, dict} else map(canonical, values)
        return set(plain) - {None}


class _Sample:
    """A field's numbers over some cells, sorted if `ordered`."""

    def __init__(self, cells: Sequence[Cell], name: str, ordered: bool) -> None:
        parts = [cell.numbers(name, ordered) for cell in cells]
        if len(parts) == 1:
            self.values, self.weights = parts[0]
            return
        values = list(itertools.chain.from_iterable(part[0] for part in parts))
        weights = None
        if any(part[1] is not None for part in parts):
            weights = list(itertools.chain.from_iterable(w or [1] * len(v) for v, w in parts))
        # Each cell's numbers are sorted already: sorting their concatenation merges runs.
        self.values, self.weights = (
            _sorted_together(values, weights) if ordered else (values, weights)
        )

    def weight(self) -> int:
        return len(self.values) if self.weights is None else sum(self.weights)

    def total(self) -> int | float:
        values = self.values
        if self.weights is not None:
            values = [v * w for v, w in zip(values, self.weights, strict=True)]
        return math.fsum(values) if any(type(v) is float for v in values) else sum(values)

    def percentile(self, fraction: Any) -> int | float:
        """Of sorted values: the first whose cumulative weight reaches `fraction` of all."""
        if self.weights is None:
            return self.values[max(math.ceil(fraction * len(self.values)), 1) - 1]  # type: ignore[no-any-return]
        cumulative = list(itertools.accumulate(self.weights))
        return self.values[bisect.bisect_left(cumulative, fraction * cumulative[-1])]  # type: ignore[no-any-return]


def _finite(value: int | float) -> int | float | None:
    """A sum or mean beyond a double's range has no value (JSON cannot carry infinity)."""
    return value if isinstance(value, int) or math.isfinite(value) else None


def _numeric(op: str, sample: _Sample) -> Any:
    if not sample.values:
        return None
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
    def of(cls, cells: Sequence[Cell], name: str) -> HeatmapScale:
        """`HEATMAP_BUCKETS` buckets from the field's lowest number in `cells` to its
        highest (one bucket when they are equal, none without numbers)."""
        lows, highs = [], []
        for cell in cells:
            values = cell.numbers(name, False)[0]
            if values:
                lows.append(min(values))
                highs.append(max(values))
        if not lows:
            return cls(0.0, 0.0, 0)
        low, high = float(min(lows)), float(max(highs))
        if low == high:
            return cls(low, 0.0, 1)
        step = (high - low) / HEATMAP_BUCKETS
        if math.isinf(step):  # a range wider than a float reaches: each end divided first
            step = high / HEATMAP_BUCKETS - low / HEATMAP_BUCKETS
        return cls(low, step, HEATMAP_BUCKETS)

    @property
    def edges(self) -> tuple[float, ...]:
        if self.count == 0:
            return ()
        return tuple(self._edge(j) for j in range(self.count + 1))

    def _edge(self, j: int) -> float:
        edge = self.low + self.step * j
        if math.isinf(edge):  # the widest ranges: halved, so that no term passes a float
            edge = (self.low / 2 + self.step / 2 * j) * 2
        return edge

    def histogram(self, cell: Cell, name: str) -> list[int]:
        """The cell's numbers counted by value bucket, weighted."""
        if name not in cell._histograms:
            counts = [0] * self.count
            values, weights = cell.numbers(name, False)
            last, low, step = self.count - 1, self.low, self.step or 1.0
            ones = weights if weights is not None else itertools.repeat(1, len(values))
            for value, weight in zip(values, ones, strict=True):
                try:
                    index = int((value - low) / step)
                except OverflowError:  # `value - low` past a float: the widest ranges only
                    index = int(value / step - low / step)
                counts[min(index, last)] += weight
            cell._histograms[name] = counts
        return cell._histograms[name]


def calculate(
    calculations: Sequence[Calculation],
    cells: Sequence[Cell],
    heatmaps: dict[str, HeatmapScale] | None = None,
) -> dict[str, Any]:
    """Each calculation's value over `cells`, by label. A HEATMAP gives its counts per value
    bucket of its scale in `heatmaps`, and is left out when that is None."""
    values: dict[str, Any] = {}
    ordered = {calc.column for calc in calculations if calc.op in PERCENTILES}
    samples: dict[str, _Sample] = {}
    for calc in calculations:
        name = calc.column or ""
        if calc.op == "COUNT":
            values[calc.label] = sum(cell.weight for cell in cells)
        elif calc.op == "COUNT_DISTINCT":
            values[calc.label] = len(set().union(*(cell.distinct(name) for cell in cells)))
        elif calc.op == "HEATMAP":
            if heatmaps is not None:
                scale = heatmaps[calc.label]
                counts = [scale.histogram(cell, name) for cell in cells]
                values[calc.label] = [sum(column) for column in zip(*counts, strict=True)]
        else:
            if name not in samples:
                samples[name] = _Sample(cells, name, name in ordered)
            values[calc.label] = _numeric(calc.op, samples[name])
    return values
