"""A query computed on stored events.

The matching events are read as columns (`_query_sql.columns_sql`), one part of the time range
per connection the reader offers, in parallel where it offers more than one; Python groups
them by their breakdown values, computes each group's calculations over the whole range
(`_query_calcs`), orders the groups and keeps the first `limit`, then computes the time series
of those it keeps and the heatmaps over every matching event. Reading is what costs: SQLite
parses each matching event's JSON once.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
import operator
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, Protocol, TypeVar

import msgspec

from honeycomb_events._query_spec import Calculation, Order, QuerySpec

from ._query_calcs import Columns, HeatmapScale, calculate, gather, heatmap_counts
from ._query_result import GroupResult, Heatmap, QueryResult
from ._query_sql import columns_sql, where_sql

T = TypeVar("T")

_decoder: Final = msgspec.json.Decoder()
_encoder: Final = msgspec.json.Encoder()
_EMPTY: Final = {"COUNT": 0, "COUNT_DISTINCT": 0}


class Reader(Protocol):
    """Where a query reads: `parallel` connections at once, each running one of `works`."""

    @property
    def parallel(self) -> int: ...

    def run(self, works: Sequence[Callable[[sqlite3.Connection], T]]) -> list[T]: ...


def _finite_float(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None


def _decode_array(text: str) -> list[Any]:
    """A JSON array SQLite wrote. A number beyond a double's range (which the store does not
    write, but an older file may hold) reads as None."""
    try:
        value = _decoder.decode(text)
    except msgspec.DecodeError:
        value = json.loads(text, parse_float=_finite_float, parse_constant=lambda _: None)
    return value if isinstance(value, list) else []


def _fields(spec: QuerySpec) -> list[str]:
    names = [*spec.breakdowns, *(calc.column for calc in spec.calculations if calc.column)]
    return list(dict.fromkeys(names))


def _parts(spec: QuerySpec, parallel: int) -> list[tuple[int, int]]:
    """The time range cut at bucket bounds into at most `parallel` parts, in order."""
    count = spec.bucket_count
    cuts = sorted({count * i // max(parallel, 1) for i in range(1, parallel)} - {0})
    bounds = [spec.start_ns, *(spec.origin_ns + cut * spec.granularity_ns for cut in cuts)]
    return list(zip(bounds, [*bounds[1:], spec.end_ns], strict=True))


def read_columns(reader: Reader, dataset_key: str, spec: QuerySpec) -> Columns:
    """The events the query matches, as columns of the fields it reads."""
    fields = _fields(spec)

    def work(start_ns: int, end_ns: int) -> Callable[[sqlite3.Connection], list[list[Any]]]:
        where = where_sql(
            dataset_key, spec.filters, any_filter=spec.any_filter, start_ns=start_ns, end_ns=end_ns
        )
        sql = columns_sql(
            where, origin_ns=spec.origin_ns, granularity_ns=spec.granularity_ns, fields=fields
        )

        def run(conn: sqlite3.Connection) -> list[list[Any]]:
            row = conn.execute(sql.text, sql.params).fetchone()
            return [_decode_array(text) for text in row[1:]]

        return run

    parts = reader.run([work(start, end) for start, end in _parts(spec, reader.parallel)])
    merged: list[list[Any]] = [[] for _ in range(len(fields) + 2)]
    for part in parts:
        for column, values in zip(merged, part, strict=True):
            column.extend(values)
    return Columns(merged[0], merged[1], dict(zip(fields, merged[2:], strict=True)))


def _split(keys: Sequence[Any], rows: Iterable[int]) -> dict[Any, list[int]]:
    """`rows` by their key in `keys`, each list in the order of `rows`."""
    split: dict[Any, list[int]] = {}
    for row in rows:
        key = keys[row]
        found = split.get(key)
        if found is None:
            split[key] = found = []
        found.append(row)
    return split


def _groups(columns: Columns, breakdowns: Sequence[str]) -> dict[tuple[Any, ...], list[int]]:
    """Row numbers by group key (a tuple of the breakdowns' grouping values)."""
    rows = range(len(columns))
    if not breakdowns:
        return {(): list(rows)} if rows else {}
    if len(breakdowns) == 1:
        return {(key,): found for key, found in _split(columns.keys(breakdowns[0]), rows).items()}
    keys = list(zip(*(columns.keys(name) for name in breakdowns), strict=True))
    return _split(keys, rows)


def _cells(buckets: list[int], rows: list[int]) -> dict[int, list[int]]:
    """A group's rows by time bucket. Events are read in time order (by the time index),
    so each bucket is a slice of the rows, found by bisection; in any other order, a split."""
    times = gather(buckets, rows)
    if not all(map(operator.le, times, itertools.islice(times, 1, None))):
        return _split(buckets, rows)
    cells: dict[int, list[int]] = {}
    start, end = 0, len(times)
    while start < end:
        stop = bisect.bisect_right(times, times[start], start)
        cells[times[start]] = rows[start:stop]
        start = stop
    return cells


def _typed(value: Any) -> tuple[Any, ...]:
    """A sort key that orders values of mixed types: numbers, strings, booleans, then the
    rest by their JSON text."""
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, (int, float)):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (3, _encoder.encode(value))


class _Entry:
    """A group: its breakdown values (as stored, from its first event), its rows, and its
    calculations over the whole time range."""

    __slots__ = ("key", "rows", "values")

    def __init__(self, key: tuple[Any, ...], rows: list[int], values: dict[str, Any]) -> None:
        self.key, self.rows, self.values = key, rows, values


def _default_orders(calculations: Sequence[Calculation]) -> list[Order]:
    orderable = [calc for calc in calculations if calc.op != "HEATMAP"]
    return [Order(orderable[0].column, orderable[0].op)] if orderable else []


def _ordered(entries: list[_Entry], spec: QuerySpec) -> list[_Entry]:
    """Ordered by the query's orders (by default its first calculation, descending), ties by
    the group's values; a missing value comes last whichever the direction."""
    entries.sort(key=lambda e: tuple((v is None, () if v is None else _typed(v)) for v in e.key))
    if not spec.orders and not _default_orders(spec.calculations):
        entries.sort(key=lambda e: len(e.rows), reverse=True)
    for order in reversed(spec.orders or _default_orders(spec.calculations)):
        get = _order_value(order, spec.breakdowns)
        if order.descending:
            entries.sort(key=lambda e: (get(e) is not None, _order_key(get(e))), reverse=True)
        else:
            entries.sort(key=lambda e: (get(e) is None, _order_key(get(e))))
    return entries


def _order_value(order: Order, breakdowns: Sequence[str]) -> Callable[[_Entry], Any]:
    """What `order` orders groups by: a breakdown's value, or a calculation's."""
    if order.op is None:
        index = breakdowns.index(order.column or "")
        return lambda entry: entry.key[index]
    label = order.label
    return lambda entry: entry.values[label]


def _order_key(value: Any) -> tuple[Any, ...]:
    return () if value is None else _typed(value)


def _series(
    calculations: Sequence[Calculation], columns: Columns, rows: list[int], bucket_count: int
) -> dict[str, list[Any]]:
    series = {calc.label: [_EMPTY.get(calc.op)] * bucket_count for calc in calculations}
    for bucket, cell in _cells(columns.buckets, rows).items():
        for label, value in calculate(calculations, columns, cell).items():
            series[label][bucket] = value
    return series


def run_query(reader: Reader, dataset_key: str, spec: QuerySpec) -> QueryResult:
    """The answer to `spec` over the events of the dataset stored under `dataset_key`."""
    columns = read_columns(reader, dataset_key, spec)
    heatmaps = {}
    for calc in spec.calculations:
        if calc.op == "HEATMAP" and calc.column is not None:
            scale = HeatmapScale.of(columns, calc.column)
            heatmaps[calc.label] = (scale, scale.buckets(columns, calc.column))
    entries = [
        _Entry(
            tuple(columns.fields[name][rows[0]] for name in spec.breakdowns),
            rows,
            calculate(spec.calculations, columns, rows, heatmaps),
        )
        for rows in _groups(columns, spec.breakdowns).values()
    ]
    kept = _ordered(entries, spec)[: spec.limit]
    timed = [calc for calc in spec.calculations if calc.op != "HEATMAP"]
    groups = [
        GroupResult(
            entry.key,
            len(entry.rows),
            entry.values,
            _series(timed, columns, entry.rows, spec.bucket_count),
        )
        for entry in kept
    ]
    return QueryResult(
        spec,
        spec.bucket_starts_ns(),
        groups,
        len(entries),
        len(columns),
        {
            label: Heatmap(
                scale.edges,
                tuple(
                    tuple(row)
                    for row in heatmap_counts(columns, buckets, scale.count, spec.bucket_count)
                ),
            )
            for label, (scale, buckets) in heatmaps.items()
        },
    )
