"""A query computed on stored events.

SQLite groups the matching events of each time bucket by their breakdown values
(`_query_sql.cells_sql`), a statement a bucket, on as many connections at once as the reader
offers; each row is a `Cell` holding the values the calculations read. Python merges the cells
into groups, computes each group's calculations over the whole range (`_query_calcs`), orders
the groups and keeps the first `limit`, then the time series of those it keeps (a cell each)
and the heatmaps over every matching event. Reading is what costs: SQLite parses each matching
event's JSON once.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol, TypeVar

import msgspec

from honeycomb_events._query_spec import Calculation, Order, QuerySpec

from ._query_calcs import Cell, HeatmapScale, calculate, canonical
from ._query_result import GroupResult, Heatmap, QueryResult
from ._query_sql import cells_sql, where_sql

T = TypeVar("T")

_decoder: Final = msgspec.json.Decoder()
_encoder: Final = msgspec.json.Encoder()
_EMPTY: Final = {"COUNT": 0, "COUNT_DISTINCT": 0}


class Reader(Protocol):
    """Where a query reads: each of `works` run on a connection (several at once where the
    reader can), the results in the same order."""

    def run(self, works: Sequence[Callable[[sqlite3.Connection], T]]) -> list[T]: ...


def _finite_float(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None


def _decode(text: str | None) -> Any:
    """A JSON value SQLite wrote; None for NULL. A number beyond a double's range (which the
    store does not write, but an older file may hold) reads as None."""
    if text is None:
        return None
    try:
        return _decoder.decode(text)
    except msgspec.DecodeError:
        return json.loads(text, parse_float=_finite_float, parse_constant=lambda _: None)


def _fields(spec: QuerySpec) -> list[str]:
    return list(dict.fromkeys(calc.column for calc in spec.calculations if calc.column))


def _buckets(spec: QuerySpec) -> list[tuple[int, int, int]]:
    """Each time bucket's number, and the part of the time range in it."""
    starts = spec.bucket_starts_ns()
    ends = [*starts[1:], spec.end_ns]
    return [
        (bucket, max(low, spec.start_ns), min(high, spec.end_ns))
        for bucket, (low, high) in enumerate(zip(starts, ends, strict=True))
    ]


Keyed = tuple[tuple[Any, ...], Cell]
"""A cell and its group's breakdown values."""


def read_cells(reader: Reader, dataset_key: str, spec: QuerySpec) -> list[Keyed]:
    """The events the query matches, a cell per group and time bucket.

    A statement a bucket: each one sorts only its bucket's events to group them, in memory,
    where one statement for the range would sort them all, through temporary files."""
    fields = _fields(spec)
    width = len(spec.breakdowns)

    def work(
        bucket: int, start_ns: int, end_ns: int
    ) -> Callable[[sqlite3.Connection], list[Keyed]]:
        where = where_sql(
            dataset_key, spec.filters, any_filter=spec.any_filter, start_ns=start_ns, end_ns=end_ns
        )
        sql = cells_sql(where, breakdowns=spec.breakdowns, fields=fields)

        def run(conn: sqlite3.Connection) -> list[Keyed]:
            return [
                (
                    tuple(_decode(text) for text in row[:width]),
                    Cell(
                        bucket,
                        row[width],
                        row[width + 1],
                        _decode(row[width + 2]),
                        {
                            name: _decode(text)
                            for name, text in zip(fields, row[width + 3 :], strict=True)
                        },
                    ),
                )
                for row in conn.execute(sql.text, sql.params)
                if row[width]
            ]

        return run

    parts = reader.run([work(*bucket) for bucket in _buckets(spec)])
    return [keyed for part in parts for keyed in part]


class _Group:
    """A group: its breakdown values (as stored, from its first cell), its cells by time
    bucket, and its calculations over the whole time range."""

    __slots__ = ("cells", "key", "values")

    def __init__(self, key: tuple[Any, ...]) -> None:
        self.key = key
        self.cells: dict[int, Cell] = {}
        self.values: dict[str, Any] = {}

    @property
    def events(self) -> int:
        return sum(cell.count for cell in self.cells.values())


def _groups(cells: list[Keyed]) -> list[_Group]:
    groups: dict[tuple[Any, ...], _Group] = {}
    for key, cell in cells:
        same = tuple(map(canonical, key))
        group = groups.get(same)
        if group is None:
            groups[same] = group = _Group(key)
        if cell.bucket in group.cells:
            group.cells[cell.bucket].merge(cell)
        else:
            group.cells[cell.bucket] = cell
    return list(groups.values())


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


def _default_orders(calculations: Sequence[Calculation]) -> list[Order]:
    orderable = [calc for calc in calculations if calc.op != "HEATMAP"]
    return [Order(orderable[0].column, orderable[0].op)] if orderable else []


def _ordered(entries: list[_Group], spec: QuerySpec) -> list[_Group]:
    """Ordered by the query's orders (by default its first calculation, descending), ties by
    the group's values; a missing value comes last whichever the direction."""
    entries.sort(key=lambda e: tuple((v is None, _order_key(v)) for v in e.key))
    orders = spec.orders or _default_orders(spec.calculations)
    if not orders:
        entries.sort(key=lambda e: e.events, reverse=True)
    for order in reversed(orders):
        get = _order_value(order, spec.breakdowns)
        if order.descending:
            entries.sort(key=lambda e: (get(e) is not None, _order_key(get(e))), reverse=True)
        else:
            entries.sort(key=lambda e: (get(e) is None, _order_key(get(e))))
    return entries


def _order_value(order: Order, breakdowns: Sequence[str]) -> Callable[[_Group], Any]:
    """What `order` orders groups by: a breakdown's value, or a calculation's."""
    if order.op is None:
        index = breakdowns.index(order.column or "")
        return lambda entry: entry.key[index]
    label = order.label
    return lambda entry: entry.values[label]


def _order_key(value: Any) -> tuple[Any, ...]:
    return () if value is None else _typed(value)


def _series(
    calculations: Sequence[Calculation], group: _Group, bucket_count: int
) -> dict[str, list[Any]]:
    series = {calc.label: [_EMPTY.get(calc.op)] * bucket_count for calc in calculations}
    for bucket, cell in group.cells.items():
        for label, value in calculate(calculations, [cell]).items():
            series[label][bucket] = value
    return series


def run_query(reader: Reader, dataset_key: str, spec: QuerySpec) -> QueryResult:
    """The answer to `spec` over the events of the dataset stored under `dataset_key`."""
    cells = read_cells(reader, dataset_key, spec)
    heatmaps = {
        calc.label: HeatmapScale.of([cell for _, cell in cells], calc.column)
        for calc in spec.calculations
        if calc.op == "HEATMAP" and calc.column is not None
    }
    groups = _groups(cells)
    for group in groups:
        group.values = calculate(spec.calculations, list(group.cells.values()), heatmaps)
    kept = _ordered(groups, spec)[: spec.limit]
    timed = [calc for calc in spec.calculations if calc.op != "HEATMAP"]
    return QueryResult(
        spec,
        spec.bucket_starts_ns(),
        [
            GroupResult(
                group.key, group.events, group.values, _series(timed, group, spec.bucket_count)
            )
            for group in kept
        ],
        len(groups),
        sum(cell.count for _, cell in cells),
        {
            calc.label: _heatmap(heatmaps[calc.label], calc.column or "", cells, spec.bucket_count)
            for calc in spec.calculations
            if calc.label in heatmaps
        },
    )


def _heatmap(scale: HeatmapScale, name: str, cells: list[Keyed], bucket_count: int) -> Heatmap:
    counts = [[0] * scale.count for _ in range(bucket_count)]
    for _, cell in cells:
        row = counts[cell.bucket]
        for index, count in enumerate(scale.histogram(cell, name)):
            row[index] += count
    return Heatmap(scale.edges, tuple(tuple(row) for row in counts))
