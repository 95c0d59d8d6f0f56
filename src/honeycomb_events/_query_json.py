"""Honeycomb's JSON query specification read into a `QuerySpec`, every key and type
checked, each mistake named by where it is (``filters[1].op``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ._query_spec import (
    SECOND_NS,
    Calculation,
    Filter,
    Order,
    QueryError,
    QuerySpec,
    as_mapping,
    seconds,
)

_KEYS: Final = (
    "calculations",
    "filters",
    "filter_combination",
    "breakdowns",
    "orders",
    "limit",
    "start_time",
    "end_time",
    "time_range",
    "granularity",
)
_EVENTS_KEYS: Final = ("filters", "filter_combination", "start_time", "end_time", "limit")
_DIRECTIONS: Final = {"ascending": False, "descending": True}


def query_from_json(body: object, *, now_ns: int | None = None) -> QuerySpec:
    """A query from Honeycomb's JSON query specification (``calculations``, ``filters``,
    ``filter_combination``, ``breakdowns``, ``orders``, ``limit``, ``start_time``,
    ``end_time``, ``time_range``, ``granularity``; times in seconds, which may have a
    fraction here). Unknown keys are refused. Raises `QueryError`."""
    spec = as_mapping(body, "the query")
    unknown = [key for key in spec if key not in _KEYS]
    if unknown:
        shown = ", ".join(repr(str(key)[:50]) for key in unknown[:5])
        raise QueryError(f"unsupported query keys: {shown}; supported: {', '.join(_KEYS)}")
    return QuerySpec.create(
        calculations=[
            _calculation(v, f"calculations[{i}]") for i, v in _items(spec, "calculations")
        ],
        filters=[_filter(v, f"filters[{i}]") for i, v in _items(spec, "filters")],
        breakdowns=[_text(v, f"breakdowns[{i}]") for i, v in _items(spec, "breakdowns")],
        orders=[_order(v, f"orders[{i}]") for i, v in _items(spec, "orders")],
        limit=_whole(spec.get("limit"), "limit"),
        any_filter=_any_filter(spec),
        start_ns=_nanos(spec.get("start_time"), "start_time"),
        end_ns=_nanos(spec.get("end_time"), "end_time"),
        time_range_ns=_nanos(spec.get("time_range"), "time_range"),
        granularity_ns=_nanos(spec.get("granularity"), "granularity"),
        now_ns=now_ns,
    )


def _any_filter(spec: Mapping[str, Any]) -> bool:
    combination = spec.get("filter_combination", "AND")
    if combination not in ("AND", "OR"):
        raise QueryError('filter_combination must be "AND" or "OR"')
    return bool(combination == "OR")


def _items(spec: Mapping[str, Any], key: str) -> list[tuple[int, Any]]:
    value = spec.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise QueryError(f"{key} must be a list")
    return list(enumerate(value))


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise QueryError(f"{where} must be a string")
    return value


def _optional_text(item: Mapping[str, Any], key: str, where: str) -> str | None:
    value = item.get(key)
    return None if value is None else _text(value, f"{where}.{key}")


def _calculation(value: object, where: str) -> Calculation:
    item = as_mapping(value, where)
    op = _text(item.get("op", "COUNT"), f"{where}.op").upper()
    return Calculation(op, _optional_text(item, "column", where))


def _filter(value: object, where: str) -> Filter:
    item = as_mapping(value, where)
    column = _text(item.get("column"), f"{where}.column")
    op = _text(item.get("op"), f"{where}.op").lower()
    return Filter(column, op, item.get("value"))


def _order(value: object, where: str) -> Order:
    item = as_mapping(value, where)
    op = _optional_text(item, "op", where)
    column = _optional_text(item, "column", where)
    if op is None and column is None:
        raise QueryError(f"{where} needs an op (a calculation) or a column (a breakdown)")
    direction = item.get("order")
    if direction is None:
        descending = op is not None
    elif direction in _DIRECTIONS:
        descending = _DIRECTIONS[direction]
    else:
        raise QueryError(f'{where}.order must be "ascending" or "descending"')
    return Order(column, None if op is None else op.upper(), descending)


def _whole(value: object, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise QueryError(f"{where} must be a whole number")
    return value


def _nanos(value: object, where: str) -> int | None:
    """Seconds, a whole number or with a fraction, as nanoseconds."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise QueryError(f"{where} must be a number of seconds")
    if isinstance(value, int):
        return value * SECOND_NS
    if not math.isfinite(value) or abs(value) > 1e13:
        raise QueryError(f"{where} is out of range")
    return round(value * SECOND_NS)


@dataclass(frozen=True, slots=True)
class EventsRequest:
    """Which stored events to list: those the filters keep (all of them, or any with
    `any_filter`) between `start_ns` and `end_ns` (None: unbounded), the first `limit`."""

    filters: tuple[Filter, ...] = ()
    any_filter: bool = False
    start_ns: int | None = None
    end_ns: int | None = None
    limit: int | None = None

    def to_json(self) -> dict[str, Any]:
        json: dict[str, Any] = {"filters": [item.to_json() for item in self.filters]}
        if self.any_filter:
            json["filter_combination"] = "OR"
        for key, nanos in (("start_time", self.start_ns), ("end_time", self.end_ns)):
            if nanos is not None:
                json[key] = seconds(nanos)
        if self.limit is not None:
            json["limit"] = self.limit
        return json


def events_request_from_json(body: object) -> EventsRequest:
    """An `EventsRequest` from ``{"filters", "filter_combination", "start_time", "end_time",
    "limit"}`` (all optional; times in seconds). Raises `QueryError`."""
    spec = as_mapping(body, "the request")
    unknown = [key for key in spec if key not in _EVENTS_KEYS]
    if unknown:
        shown = ", ".join(repr(str(key)[:50]) for key in unknown[:5])
        raise QueryError(f"unsupported keys: {shown}; supported: {', '.join(_EVENTS_KEYS)}")
    limit = _whole(spec.get("limit"), "limit")
    if limit is not None and limit < 0:
        raise QueryError("limit must not be negative")
    return EventsRequest(
        tuple(_filter(v, f"filters[{i}]") for i, v in _items(spec, "filters")),
        _any_filter(spec),
        _nanos(spec.get("start_time"), "start_time"),
        _nanos(spec.get("end_time"), "end_time"),
        limit,
    )
