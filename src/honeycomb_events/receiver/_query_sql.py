"""The SQL of queries: a field's JSON path, each filter as an expression on an event's value
read in its JSON type, and the statement that reads the matching events of a time range as
columns.

A field is a key of the event's JSON object (``http.route`` is one key, not a path). A filter
compares with each event's value in that value's type, as Honeycomb compares with a column's
type: with a number as a number (a text filter value that reads as a number is one), with a
string as text (a number's JSON text), with a boolean as ``true``/``false``; null, objects and
arrays as their JSON text. ``>``, ``>=``, ``<``, ``<=`` compare numbers with a numeric filter
value and strings (as text, by code point) with any other; ``contains`` and ``starts-with``
look at strings. ``exists`` is a value other than null; every negation (``!=``, ``not-in``,
``does-not-...``) keeps what its positive form does not, missing fields included.

The reading statement, run for each time bucket, groups the bucket's matching events by their
breakdown values, with the values of the fields the calculations read as a JSON array a group:
SQLite parses each event's JSON once for all the fields a query reads, and Python computes
the calculations from those arrays (`_query_calcs.py`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final, NamedTuple

import msgspec

from honeycomb_events._query_spec import LIST_FILTER_OPS, Filter, QueryError

_NUMBER: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_TYPE: Final = "json_type(data, ?)"
_SQL_VALUE: Final = "(data ->> ?)"
_NUMERIC_TYPES: Final = "('integer', 'real')"
_ORDERING: Final = frozenset({">", ">=", "<", "<="})
_INT64: Final = 2**63
_NEGATIONS: Final = {
    "!=": "=",
    "not-in": "in",
    "does-not-contain": "contains",
    "does-not-start-with": "starts-with",
}


class Sql(NamedTuple):
    """A piece of SQL and the values of its ``?`` placeholders, in order."""

    text: str
    params: tuple[Any, ...]


def field_path(name: str) -> str:
    """The JSON path of the top-level key `name`.

    SQLite matches a quoted path label against the key as JSON writes it (escapes included),
    and its label ends at the first double quote: a name whose JSON form holds one cannot be
    reached.
    """
    escaped = msgspec.json.encode(name).decode("utf-8")[1:-1]
    if '"' in escaped:
        raise QueryError(f"field names with a double quote cannot be queried: {name[:100]!r}")
    return f'$."{escaped}"'


class _Operand(NamedTuple):
    """A filter value in each type it can be compared in."""

    number: int | float | None
    text: str
    boolean: bool | None


def _bindable(number: int | float) -> int | float:
    """`number` as SQLite can take it: an integer beyond 64 bits as a double (or infinity)."""
    if isinstance(number, int) and not -_INT64 <= number < _INT64:
        try:
            return float(number)
        except OverflowError:
            return float("inf") if number > 0 else float("-inf")
    return number


def _operand(value: Any) -> _Operand:
    if isinstance(value, bool):
        return _Operand(None, "true" if value else "false", value)
    if isinstance(value, (int, float)):
        return _Operand(_bindable(value), msgspec.json.encode(value).decode("utf-8"), None)
    if isinstance(value, str):
        number: int | float | None = None
        if _NUMBER.fullmatch(value):
            number = _bindable(float(value) if any(c in value for c in ".eE") else int(value))
        boolean = {"true": True, "false": False}.get(value)
        return _Operand(number, value, boolean)
    return _Operand(None, msgspec.json.encode(value).decode("utf-8"), None)


def _equal_sql(path: str, values: Sequence[Any]) -> Sql:
    """An event's value equals one of `values`, each compared in the event value's type."""
    operands = [_operand(value) for value in values]
    numbers = [o.number for o in operands if o.number is not None]
    texts = [o.text for o in operands]
    booleans = {o.boolean for o in operands if o.boolean is not None}
    marks = ", ".join("?" * len(texts))
    number_sql = f"{_SQL_VALUE} IN ({', '.join('?' * len(numbers))})" if numbers else "0"
    number_params = (path, *numbers) if numbers else ()
    text = (
        f"CASE {_TYPE} WHEN 'integer' THEN {number_sql} WHEN 'real' THEN {number_sql} "
        f"WHEN 'text' THEN {_SQL_VALUE} IN ({marks}) "
        f"WHEN 'true' THEN {int(True in booleans)} WHEN 'false' THEN {int(False in booleans)} "
        f"ELSE (data -> ?) IN ({marks}) END"
    )
    params = (path, *number_params, *number_params, path, *texts, path, *texts)
    return Sql(text, params)


_PRESENCE: Final = {
    "exists": f"COALESCE({_TYPE}, 'null') != 'null'",
    "does-not-exist": f"COALESCE({_TYPE}, 'null') = 'null'",
}


def _positive_sql(item: Filter, path: str) -> Sql:
    if item.op in ("=", "in"):
        return _equal_sql(path, item.value if item.op in LIST_FILTER_OPS else [item.value])
    if item.op in _PRESENCE:
        return Sql(_PRESENCE[item.op], (path,))
    return _comparison_sql(item.op, path, _operand(item.value))


def _comparison_sql(op: str, path: str, operand: _Operand) -> Sql:
    if op in _ORDERING and operand.number is not None:
        return Sql(
            f"({_TYPE} IN {_NUMERIC_TYPES} AND {_SQL_VALUE} {op} ?)", (path, path, operand.number)
        )
    if op in _ORDERING:
        return Sql(f"({_TYPE} = 'text' AND {_SQL_VALUE} {op} ?)", (path, path, operand.text))
    if op == "contains":
        return Sql(f"({_TYPE} = 'text' AND instr({_SQL_VALUE}, ?) > 0)", (path, path, operand.text))
    # starts-with
    return Sql(
        f"({_TYPE} = 'text' AND substr({_SQL_VALUE}, 1, ?) = ?)",
        (path, path, len(operand.text), operand.text),
    )


def filter_sql(item: Filter) -> Sql:
    """The filter as an SQL condition on the ``data`` column, true or false (never NULL)."""
    path = field_path(item.column)
    positive = item.op not in _NEGATIONS
    condition = _positive_sql(
        item if positive else Filter(item.column, _NEGATIONS[item.op], item.value), path
    )
    if positive:
        return Sql(f"COALESCE({condition.text}, 0)", condition.params)
    return Sql(f"NOT COALESCE({condition.text}, 0)", condition.params)


def where_sql(
    dataset_key: str,
    filters: Sequence[Filter],
    *,
    any_filter: bool = False,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> Sql:
    """The condition on events of a dataset (its key) in ``start_ns <= time_ns < end_ns``
    (either may be None) that the filters keep: all of them, or any with `any_filter`."""
    text = "dataset = ?"
    params: list[Any] = [dataset_key]
    for bound, op in ((start_ns, ">="), (end_ns, "<")):
        if bound is not None:
            text += f" AND time_ns {op} ?"
            params.append(bound)
    conditions = [filter_sql(item) for item in filters]
    if conditions:
        joined = (" OR " if any_filter else " AND ").join(c.text for c in conditions)
        text += f" AND ({joined})"
        params.extend(param for c in conditions for param in c.params)
    return Sql(text, tuple(params))


def cells_sql(where: Sql, *, breakdowns: Sequence[str], fields: Sequence[str]) -> Sql:
    """A row per group of the events `where` keeps: each breakdown's JSON value (NULL where
    missing or null), how many events, their summed sample rates, the rates as a JSON array
    (NULL when all are 1), and a JSON array of each of `fields`' values (null where missing),
    an element per event. Without breakdowns, one row (a count of 0 when nothing matched).

    The matching events are first copied with just these values (a materialized CTE), so
    that the sort for GROUP BY moves a few values an event, not its whole JSON.
    """
    groups = [f"NULLIF(data -> ?, 'null') AS g{i}" for i in range(len(breakdowns))]
    values = [f"data -> ? AS v{i}" for i in range(len(fields))]
    picked = ", ".join([*groups, "samplerate AS w", *values])
    keys = ", ".join(f"g{i}" for i in range(len(breakdowns)))
    # The CTE keeps JSON text without its JSON subtype, so the arrays are joined as text
    # rather than by json_group_array (which would quote each value as a string).
    arrays = "".join(
        f", '[' || group_concat(COALESCE(v{i}, 'null'), ',') || ']'" for i in range(len(fields))
    )
    text = (
        f"WITH matching AS MATERIALIZED (SELECT {picked} FROM events WHERE {where.text}) "  # noqa: S608
        f"SELECT {keys + ', ' if keys else ''}COUNT(*), SUM(w), "
        f"CASE WHEN MIN(w) = 1 AND MAX(w) = 1 THEN NULL ELSE json_group_array(w) END{arrays} "
        f"FROM matching{' GROUP BY ' + keys if keys else ''}"
    )
    params = (
        *(field_path(name) for name in breakdowns),
        *(field_path(name) for name in fields),
        *where.params,
    )
    return Sql(text, params)
