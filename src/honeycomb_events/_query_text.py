"""The command line's query terms read into `_query_spec`'s: ``P99(duration_ms)``,
``status_code=2``, ``http.route exists``, ``P99(duration_ms) desc``."""

from __future__ import annotations

import re
from typing import Final

from ._query_spec import (
    ALL_CALCULATION_OPS,
    FILTER_OPS,
    LIST_FILTER_OPS,
    Calculation,
    Filter,
    Order,
    QueryError,
)

_CALCULATION: Final = re.compile(r"\s*(?P<op>[A-Za-z0-9_]+)\s*(?:\((?P<column>.*)\))?\s*", re.S)
_WORD_OPS: Final = [op for op in FILTER_OPS if op[0].isalpha()]
_WORD_FILTER: Final = re.compile(
    rf"\s*(?P<column>\S+)\s+(?P<op>{'|'.join(_WORD_OPS)})(?:\s+(?P<value>.*))?",
    re.S | re.I,
)
_SYMBOL_OPS: Final = ("!=", ">=", "<=", "=", ">", "<")
_DIRECTIONS: Final = {"asc": False, "ascending": False, "desc": True, "descending": True}


def parse_calculation(text: str) -> Calculation:
    """``COUNT``, ``COUNT_DISTINCT(user.id)``, ``P99(duration_ms)`` (any case for the
    operator; the field is everything between the outer parentheses, spaces trimmed)."""
    match = _CALCULATION.fullmatch(text)
    if match is None:
        raise QueryError(f"{text!r} is not a calculation such as COUNT or P99(duration_ms)")
    column = (match["column"] or "").strip()
    return Calculation(match["op"].upper(), column or None)


def parse_filter(text: str) -> Filter:
    """``FIELD=VALUE`` (also ``!=``, ``>``, ``>=``, ``<``, ``<=``), ``FIELD exists``,
    ``FIELD does-not-exist``, ``FIELD contains VALUE`` (``does-not-contain``, ``starts-with``,
    ``does-not-start-with``), ``FIELD in A,B,C`` (``not-in``).

    Spaces around a symbol are ignored; values stay text, which the engine reads as a number
    where it compares with numbers."""
    word = _WORD_FILTER.fullmatch(text)
    if word is not None:
        op, value = word["op"].lower(), word["value"]
        if op in LIST_FILTER_OPS and value is not None:
            return Filter(word["column"], op, [item.strip() for item in value.split(",")])
        return Filter(word["column"], op, value)
    found = [(text.find(op), -len(op), op) for op in _SYMBOL_OPS if op in text]
    if found:
        position, _, op = min(found)
        column, value = text[:position].strip(), text[position + len(op) :].strip()
        if column:
            return Filter(column, op, value)
    raise QueryError(
        f"{text!r} is not a filter such as status_code=2, 'duration_ms>100', "
        "'http.route exists' or 'name contains checkout'"
    )


def parse_order(text: str) -> Order:
    """``P99(duration_ms) desc``, ``COUNT``, ``http.route asc``: a calculation (descending
    unless ``asc``) or a breakdown field (ascending unless ``desc``)."""
    term, _, last = text.strip().rpartition(" ")
    if last.lower() in _DIRECTIONS and term.strip():
        term, descending = term.strip(), _DIRECTIONS[last.lower()]
    else:
        term, descending = text.strip(), None
    match = _CALCULATION.fullmatch(term)
    if match is not None and match["op"].upper() in ALL_CALCULATION_OPS:
        calc = parse_calculation(term)
        return Order(calc.column, calc.op, True if descending is None else descending)
    if not term:
        raise QueryError("an order needs a calculation or a breakdown field")
    return Order(term, None, False if descending is None else descending)
