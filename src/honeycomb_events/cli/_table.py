"""`query`'s table: which fields become columns, and cells safe to print to a terminal."""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Sequence
from typing import Any, Final

from ._common import TERMINAL_ESCAPES, value_text

TABLE_COLUMNS: Final = 8
"""The most columns `query` shows in a table, the time included."""
TABLE_CELL_WIDTH: Final = 40
"""The widest a table cell gets; longer values are cut, ending in an ellipsis."""


@dataclasses.dataclass(frozen=True, slots=True)
class Row:
    """One stored event as `query` prints it."""

    time: str
    samplerate: int
    data: dict[str, Any]


def cell(value: Any) -> str:
    """A value as a table shows it: as `value_text`, escaped, cut to the cell width."""
    text = value_text(value).translate(TERMINAL_ESCAPES)
    if len(text) > TABLE_CELL_WIDTH:
        return text[: TABLE_CELL_WIDTH - 1] + "…"
    return text


def _short_time(text: str) -> str:
    """``2024-05-01T12:00:00.123456789Z`` as ``2024-05-01T12:00:00.123Z``."""
    if len(text) == 30 and text.endswith("Z") and text[19] == ".":
        return text[:23] + "Z"
    return text


def choose_columns(rows: Sequence[Row], width: int = TABLE_COLUMNS - 1) -> list[str]:
    """Up to `width` fields for the table: those whose value differs between events come
    first, then those that are the same in every event (a resource's service.name, the SDK's
    version); each group by how many events have the field, then in the order first seen."""
    counts: collections.Counter[str] = collections.Counter()
    first_value: dict[str, str] = {}
    varies: set[str] = set()
    for row in rows:
        counts.update(row.data.keys())
        for name, value in row.data.items():
            text = value_text(value)
            if first_value.setdefault(name, text) != text:
                varies.add(name)
    varies.update(name for name, count in counts.items() if count < len(rows))
    order = {name: index for index, name in enumerate(first_value)}
    ranked = sorted(counts, key=lambda name: (name not in varies, -counts[name], order[name]))
    return ranked[:width]


def render_table(rows: Sequence[Row], columns: Sequence[str]) -> list[str]:
    """The table's lines, header first: the time, then `columns`; a missing field is blank."""
    header = [name.translate(TERMINAL_ESCAPES) for name in ["time", *columns]]
    body = [
        [
            _short_time(row.time).translate(TERMINAL_ESCAPES),
            *(cell(row.data[c]) if c in row.data else "" for c in columns),
        ]
        for row in rows
    ]
    return aligned([header, *body])


def aligned(lines: Sequence[Sequence[str]]) -> list[str]:
    """Cells already safe to print, each column as wide as its widest cell."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    ]
