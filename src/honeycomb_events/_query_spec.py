"""What a query asks, in Honeycomb's query model: calculations, filters, breakdowns, orders, a
limit, a time range and a granularity, checked once.

The receiver's engine computes a `QuerySpec` (`receiver/_query_engine.py`); the command line
builds one from its options (`_query_text.py`) and, for a running receiver, sends its JSON
form, which is Honeycomb's query specification (`QuerySpec.to_json`, read back by
`_query_json.query_from_json`). It lives here, below both, because ``query --url`` needs it
without the receiver's dependencies.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Final

from ._model import MAX_TIME_NS, MIN_TIME_NS

PERCENTILES: Final = {
    "P001": Fraction(1, 1000),
    "P01": Fraction(1, 100),
    "P05": Fraction(5, 100),
    "P10": Fraction(10, 100),
    "P25": Fraction(25, 100),
    "P50": Fraction(50, 100),
    "P75": Fraction(75, 100),
    "P90": Fraction(90, 100),
    "P95": Fraction(95, 100),
    "P99": Fraction(99, 100),
    "P999": Fraction(999, 1000),
}
"""Honeycomb's percentile operators and the fraction of the events at or below each."""

CALCULATION_OPS: Final = ("COUNT", "COUNT_DISTINCT", "SUM", "AVG", "MIN", "MAX", "HEATMAP")
ALL_CALCULATION_OPS: Final = frozenset({*CALCULATION_OPS, *PERCENTILES})

FILTER_OPS: Final = (
    "=",
    "!=",
    ">",
    ">=",
    "<",
    "<=",
    "exists",
    "does-not-exist",
    "contains",
    "does-not-contain",
    "starts-with",
    "does-not-start-with",
    "in",
    "not-in",
)
VALUELESS_FILTER_OPS: Final = frozenset({"exists", "does-not-exist"})
LIST_FILTER_OPS: Final = frozenset({"in", "not-in"})

SECOND_NS: Final = 1_000_000_000
DEFAULT_TIME_RANGE_NS: Final = 2 * 3600 * SECOND_NS
"""Honeycomb's default: the last two hours."""
DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 1000
"""The most groups a query returns, each with a time series per calculation."""
MAX_BUCKETS: Final = 1000
"""The most time buckets: Honeycomb's finest granularity is a thousandth of the range."""
MAX_TERMS: Final = 100
"""The most calculations, filters, breakdowns or orders a query takes, as Honeycomb."""
_TARGET_BUCKETS: Final = 100
_SUBDIVISIONS: Final = (1, 2, 5, 10, 15, 30)
# 1 s to 30 s, 1 min to 30 min, 1 h to a week.
_STEPS_NS: Final = (
    *(count * SECOND_NS for count in _SUBDIVISIONS),
    *(count * 60 * SECOND_NS for count in _SUBDIVISIONS),
    *(count * 3600 * SECOND_NS for count in (1, 2, 3, 6, 12, 24, 168)),
)


class QueryError(ValueError):
    """A query that cannot run; the text says what to change."""


@dataclass(frozen=True, slots=True)
class Calculation:
    """One VISUALIZE term: ``COUNT``, or an operator over a field, ``P99(duration_ms)``."""

    op: str
    column: str | None = None

    def __post_init__(self) -> None:
        if self.op not in ALL_CALCULATION_OPS:
            known = ", ".join([*CALCULATION_OPS, *PERCENTILES])
            raise QueryError(f"unknown calculation {self.op!r}; known: {known}")
        if self.op == "COUNT":
            object.__setattr__(self, "column", None)
        elif not isinstance(self.column, str):
            raise QueryError(f"{self.op} needs a field: {self.op}(field)")

    @property
    def label(self) -> str:
        """``COUNT`` or ``OP(field)``: the calculation's name in results."""
        return self.op if self.column is None else f"{self.op}({self.column})"

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op} if self.column is None else {"op": self.op, "column": self.column}


@dataclass(frozen=True, slots=True)
class Filter:
    """One WHERE term: a field, an operator of `FILTER_OPS` and a value (a list for ``in``
    and ``not-in``, none for ``exists`` and ``does-not-exist``)."""

    column: str
    op: str
    value: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.column, str):
            raise QueryError("a filter's column must be a string")
        if self.op not in FILTER_OPS:
            raise QueryError(f"unknown filter operator {self.op!r}; known: {' '.join(FILTER_OPS)}")
        if self.op in VALUELESS_FILTER_OPS:
            object.__setattr__(self, "value", None)
        elif self.op in LIST_FILTER_OPS:
            if not isinstance(self.value, (list, tuple)) or not self.value:
                raise QueryError(f"{self.op} needs a non-empty list of values")
            object.__setattr__(self, "value", tuple(self.value))
        elif self.value is None:
            raise QueryError(f"filter {self.column} {self.op} needs a value")

    def to_json(self) -> dict[str, Any]:
        json: dict[str, Any] = {"column": self.column, "op": self.op}
        if self.op in LIST_FILTER_OPS:
            json["value"] = list(self.value)
        elif self.op not in VALUELESS_FILTER_OPS:
            json["value"] = self.value
        return json


@dataclass(frozen=True, slots=True)
class Order:
    """One ORDER BY term: a calculation (`op`, with its `column` unless COUNT) or a
    breakdown (`column` alone)."""

    column: str | None = None
    op: str | None = None
    descending: bool = True

    @property
    def label(self) -> str:
        """The calculation's label or the breakdown's name it orders by."""
        if self.op is None:
            return self.column or ""
        return Calculation(self.op, self.column).label

    def to_json(self) -> dict[str, Any]:
        json: dict[str, Any] = {"order": "descending" if self.descending else "ascending"}
        if self.op is not None:
            json["op"] = self.op
        if self.column is not None:
            json["column"] = self.column
        return json


def _time_ns(value: int) -> int:
    if not MIN_TIME_NS <= value <= MAX_TIME_NS:
        raise QueryError("times must be between the years 1677 and 2262")
    return value


def default_granularity_ns(range_ns: int) -> int:
    """The smallest of 1 s, 2 s, 5 s ... 1 d, 7 d that cuts the range into at most 100
    buckets (beyond: a whole number of weeks)."""
    for step in _STEPS_NS:
        if range_ns <= step * _TARGET_BUCKETS:
            return step
    return _STEPS_NS[-1] * math.ceil(range_ns / (_STEPS_NS[-1] * _TARGET_BUCKETS))


@dataclass(frozen=True, slots=True)
class QuerySpec:
    """A checked query, its time range absolute; make one with `create` (or
    `_query_json.query_from_json`).

    Time buckets start at multiples of `granularity_ns` since the epoch: the first one
    starts at `origin_ns`, at or before `start_ns`, and the last one holds `end_ns` - 1.
    """

    calculations: tuple[Calculation, ...]
    filters: tuple[Filter, ...]
    breakdowns: tuple[str, ...]
    orders: tuple[Order, ...]
    limit: int
    start_ns: int
    end_ns: int
    granularity_ns: int
    any_filter: bool = False
    """Honeycomb's ``filter_combination: "OR"``: an event matching any filter is kept."""

    @classmethod
    def create(
        cls,
        *,
        calculations: Sequence[Calculation] = (),
        filters: Sequence[Filter] = (),
        breakdowns: Sequence[str] = (),
        orders: Sequence[Order] = (),
        limit: int | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        time_range_ns: int | None = None,
        granularity_ns: int | None = None,
        any_filter: bool = False,
        now_ns: int | None = None,
    ) -> QuerySpec:
        """A query from its parts, checked, with Honeycomb's defaults: COUNT, the last two
        hours, a limit of 100 groups, a granularity of about a hundredth of the range.

        The time range is `start_ns` to `end_ns`, or `time_range_ns` before `end_ns` (or
        now), or after `start_ns`: all three at once is an error, as in Honeycomb.
        Calculations and breakdowns named twice count once. Raises `QueryError`.
        """
        start, end = _time_range(start_ns, end_ns, time_range_ns, now_ns)
        if granularity_ns is None:
            granularity_ns = default_granularity_ns(end - start)
        elif granularity_ns <= 0:
            raise QueryError("the granularity must be positive")
        calcs = tuple(dict.fromkeys(calculations)) or (Calculation("COUNT"),)
        groups = tuple(dict.fromkeys(breakdowns))
        for name, terms in (
            ("calculations", calcs),
            ("filters", filters),
            ("breakdowns", groups),
            ("orders", orders),
        ):
            if len(terms) > MAX_TERMS:
                raise QueryError(f"at most {MAX_TERMS} {name}, not {len(terms)}")
        if any(not isinstance(name, str) for name in groups):
            raise QueryError("breakdowns must be field names (strings)")
        limit = DEFAULT_LIMIT if limit is None else limit
        if not 1 <= limit <= MAX_LIMIT:
            raise QueryError(f"the limit must be from 1 to {MAX_LIMIT} groups, not {limit}")
        spec = cls(
            calcs,
            tuple(filters),
            groups,
            tuple(orders),
            limit,
            start,
            end,
            granularity_ns,
            any_filter=any_filter,
        )
        spec._check_orders_and_buckets()
        return spec

    def _check_orders_and_buckets(self) -> None:
        labels = {calc.label for calc in self.calculations}
        for order in self.orders:
            if order.op is None and order.column not in self.breakdowns:
                raise QueryError(f"cannot order by {order.label!r}: it is not a breakdown")
            if order.op is not None and order.label not in labels:
                raise QueryError(f"cannot order by {order.label}: it is not a calculation")
            if order.op == "HEATMAP":
                raise QueryError("cannot order by a HEATMAP")
        if self.bucket_count > MAX_BUCKETS:
            raise QueryError(
                f"a granularity of {self.granularity_ns / SECOND_NS:g} s makes "
                f"{self.bucket_count} time buckets; at most {MAX_BUCKETS}"
            )

    @property
    def origin_ns(self) -> int:
        """The start of the first time bucket."""
        return self.start_ns - self.start_ns % self.granularity_ns

    @property
    def bucket_count(self) -> int:
        return -(-(self.end_ns - self.origin_ns) // self.granularity_ns)

    def bucket_starts_ns(self) -> list[int]:
        """The start of each time bucket (the first one may start before `start_ns`)."""
        return [self.origin_ns + i * self.granularity_ns for i in range(self.bucket_count)]

    def to_json(self) -> dict[str, Any]:
        """Honeycomb's JSON form, with this query's absolute times (seconds, with a
        fraction when they have one): `query_from_json` reads it back as the same query."""
        json: dict[str, Any] = {
            "calculations": [calc.to_json() for calc in self.calculations],
            "filters": [f.to_json() for f in self.filters],
            "breakdowns": list(self.breakdowns),
            "orders": [order.to_json() for order in self.orders],
            "limit": self.limit,
            "start_time": seconds(self.start_ns),
            "end_time": seconds(self.end_ns),
            "granularity": seconds(self.granularity_ns),
        }
        if self.any_filter:
            json["filter_combination"] = "OR"
        return json


def seconds(nanos: int) -> int | float:
    """Nanoseconds as JSON's seconds: a whole number when they are one."""
    whole, rest = divmod(nanos, SECOND_NS)
    return whole if rest == 0 else nanos / SECOND_NS


def _time_range(
    start_ns: int | None, end_ns: int | None, range_ns: int | None, now_ns: int | None
) -> tuple[int, int]:
    if start_ns is not None and end_ns is not None and range_ns is not None:
        raise QueryError("give at most two of start_time, end_time and time_range")
    if range_ns is not None and range_ns <= 0:
        raise QueryError("the time range must be positive")
    if start_ns is not None and end_ns is None and range_ns is not None:
        end_ns = start_ns + range_ns
    if end_ns is None:
        end_ns = time.time_ns() if now_ns is None else now_ns
    if start_ns is None:
        start_ns = end_ns - (DEFAULT_TIME_RANGE_NS if range_ns is None else range_ns)
    start, end = _time_ns(start_ns), _time_ns(end_ns)
    if start >= end:
        raise QueryError("the time range is empty: the start must be before the end")
    return start, end


def group_filters(breakdowns: Sequence[str], key: Sequence[Any]) -> list[Filter]:
    """Filters that keep the events of one group: each breakdown equal to the group's value,
    or missing where the group's value is None (a link from a result to its events)."""
    return [
        Filter(name, "does-not-exist") if value is None else Filter(name, "=", value)
        for name, value in zip(breakdowns, key, strict=True)
    ]


def as_mapping(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise QueryError(f"{what} must be a JSON object")
    return value
