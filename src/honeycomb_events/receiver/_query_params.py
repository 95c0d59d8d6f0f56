"""The query string of ``/query``, which mirrors the command line's options:
``?dataset=web-shop&calc=P99(duration_ms)&calc=COUNT&where=status_code%3D200&by=http.route
&order=COUNT+desc&limit=10&since=1h&granularity=1m``. Read into a `QuerySpec`, and written back
for the form and for the links that narrow a query to a group or a heatmap cell.

A ``where`` is the command line's text (``status_code=200``, ``http.route exists``), or, where
a value does not survive as text (spaces around it, a list), Honeycomb's JSON filter object.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final
from urllib.parse import urlencode

from honeycomb_events._query_spec import (
    LIST_FILTER_OPS,
    SECOND_NS,
    VALUELESS_FILTER_OPS,
    Filter,
    QueryError,
    QuerySpec,
)
from honeycomb_events._query_text import parse_calculation, parse_filter, parse_order
from honeycomb_events._query_time import duration_ns, moment_ns, rfc3339

_LISTS: Final = ("calc", "where", "by", "order")
_SINGLES: Final = ("dataset", "limit", "since", "until", "granularity", "match")


def _granularity_ns(text: str) -> int | None:
    if not text:
        return None
    found = duration_ns(text)
    if found is None:
        try:
            seconds = float(text)
        except ValueError:
            seconds = math.nan
        if not math.isfinite(seconds):
            raise QueryError(f"the granularity {text[:100]!r} is not a duration such as 1m")
        found = round(seconds * SECOND_NS)
    return found


def read_filter(text: str) -> Filter:
    """A ``where``: Honeycomb's JSON filter object, or the command line's text."""
    if text.lstrip().startswith("{"):
        try:
            item = json.loads(text)
        except (ValueError, RecursionError):
            item = None
        if isinstance(item, dict):
            column, op = item.get("column"), item.get("op")
            if not isinstance(column, str) or not isinstance(op, str):
                raise QueryError("a JSON filter needs a column and an op, both strings")
            return Filter(column, op.lower(), item.get("value"))
    return parse_filter(text)


def _value_text(value: Any) -> str | None:
    """A filter value as the command line writes it, or None where text cannot say it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return repr(value)
    return None


def filter_text(item: Filter) -> str:
    """`item` as a ``where``: the command line's text when it reads back as the same filter,
    else the JSON filter object."""
    text, expected = None, item
    if item.op in VALUELESS_FILTER_OPS:
        text = f"{item.column} {item.op}"
    elif item.op in LIST_FILTER_OPS:
        texts = [_value_text(value) for value in item.value]
        if None not in texts:
            text = f"{item.column} {item.op} {','.join(map(str, texts))}"
            expected = Filter(item.column, item.op, texts)
    elif (value := _value_text(item.value)) is not None:
        gap = " " if item.op[0].isalpha() else ""
        text = f"{item.column}{gap}{item.op}{gap}{value}"
        expected = Filter(item.column, item.op, value)
    try:
        if text is not None and parse_filter(text) == expected:
            return text
    except QueryError:
        pass
    return json.dumps(item.to_json(), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class QueryParams:
    """What ``/query``'s query string asks, as text: what the form shows again."""

    dataset: str = ""
    calc: tuple[str, ...] = ()
    where: tuple[str, ...] = ()
    by: tuple[str, ...] = ()
    order: tuple[str, ...] = ()
    limit: str = ""
    since: str = ""
    until: str = ""
    granularity: str = ""
    match: str = ""
    """``any`` keeps events matching any filter (Honeycomb's ``filter_combination: OR``)."""

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> QueryParams:
        """From the query string's pairs; blank values (the form's empty inputs) are
        dropped, unknown names ignored."""
        lists: dict[str, list[str]] = {name: [] for name in _LISTS}
        singles: dict[str, str] = {}
        for name, value in pairs:
            if not value.strip():
                continue
            if name in lists:
                lists[name].append(value.strip())
            elif name in _SINGLES:
                singles[name] = value.strip()
        return cls(
            dataset=singles.get("dataset", ""),
            calc=tuple(lists["calc"]),
            where=tuple(lists["where"]),
            by=tuple(lists["by"]),
            order=tuple(lists["order"]),
            **{name: singles.get(name, "") for name in _SINGLES[1:]},
        )

    @property
    def match_any(self) -> bool:
        return self.match.lower() == "any"

    def spec(self, now_ns: int | None = None) -> QuerySpec:
        """The query these parameters ask; raises `QueryError` saying what is wrong."""
        now = time.time_ns() if now_ns is None else now_ns
        try:
            limit = int(self.limit) if self.limit else None
        except ValueError:
            raise QueryError(f"the limit {self.limit[:100]!r} is not a whole number") from None
        return QuerySpec.create(
            calculations=[parse_calculation(text) for text in self.calc],
            filters=[read_filter(text) for text in self.where],
            breakdowns=self.by,
            orders=[parse_order(text) for text in self.order],
            limit=limit,
            start_ns=moment_ns(self.since, now) if self.since else None,
            end_ns=moment_ns(self.until, now) if self.until else None,
            granularity_ns=_granularity_ns(self.granularity),
            any_filter=self.match_any,
            now_ns=now,
        )

    def query_string(self) -> str:
        """The parameters as ``/query``'s query string, in the form's order."""
        pairs = [("dataset", self.dataset)]
        pairs += [("calc", text) for text in self.calc]
        pairs += [("where", text) for text in self.where] + [("match", self.match)]
        pairs += [("by", text) for text in self.by] + [("order", text) for text in self.order]
        pairs += [(name, getattr(self, name)) for name in ("limit", "since", "until")]
        pairs.append(("granularity", self.granularity))
        return urlencode([(name, value) for name, value in pairs if value], safe="()")


class Links:
    """Links to a query narrowed by more filters, and to a time range, for the many rows and
    cells of a page: the query's own part of the query string is written once, and each set
    of filters and each time range once."""

    def __init__(self, params: QueryParams) -> None:
        self._query = params.query_string()
        # A narrower time range gets the granularity such a range gets by default.
        self._untimed = replace(params, since="", until="", granularity="").query_string()
        self._wheres: dict[tuple[str, ...], str] = {}
        self._times: dict[tuple[int, int], str] = {}

    def narrowed(
        self, filters: Sequence[str], *, start_ns: int | None = None, end_ns: int | None = None
    ) -> str:
        """``/query?...`` with the ``where`` texts `filters` added and, when given, the time
        range replaced by ``start_ns`` to ``end_ns``."""
        key = tuple(filters)
        wheres = self._wheres.get(key)
        if wheres is None:
            wheres = self._wheres[key] = "".join(
                "&" + urlencode([("where", text)], safe="()") for text in key
            )
        if start_ns is None or end_ns is None:
            return f"/query?{self._query}{wheres}"
        times = self._times.get((start_ns, end_ns))
        if times is None:
            moments = [("since", rfc3339(start_ns)), ("until", rfc3339(end_ns))]
            times = self._times[start_ns, end_ns] = "&" + urlencode(moments)
        return f"/query?{self._untimed}{wheres}{times}"
