"""The web pages' reads: bounded SQL on the span columns and their indexes (`_schema.py`).

Nothing here reads more than a page's worth: the trace list is read newest first from the
index of root spans, a page at a time, with a keyset cursor (the time and id of the last root
listed) rather than an offset; a trace's spans and marks come from the index by trace id, at
most a given number of each, and the JSON of its spans only up to a byte budget.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Final, NamedTuple

RECENT_ROOTS_SQL: Final = (
    "SELECT id, time_ns, trace_id, name, duration_ms, dataset FROM events "
    "WHERE is_root = 1 ORDER BY time_ns DESC, id DESC LIMIT ?"
)
OLDER_ROOTS_SQL: Final = (
    "SELECT id, time_ns, trace_id, name, duration_ms, dataset FROM events "
    "WHERE is_root = 1 AND (time_ns, id) < (?, ?) ORDER BY time_ns DESC, id DESC LIMIT ?"
)
TRACE_SPAN_COUNT_SQL: Final = "SELECT COUNT(*) FROM events WHERE trace_id = ? AND is_span = 1"
LISTED_SPAN_COUNT_SQL: Final = (
    "SELECT COUNT(*) FROM (SELECT 1 FROM events WHERE trace_id = ? AND is_span = 1 LIMIT ?)"
)
LISTED_SPAN_COUNT_CAP: Final = 100_000
"""The trace list counts a trace's spans up to this many, and shows more as "100000+"."""
# The planner would rather use events_by_trace, which matches more terms, and then read every
# span of the trace to look at its error column: the partial index answers from one entry.
TRACE_FAILED_SQL: Final = (
    "SELECT EXISTS (SELECT 1 FROM events INDEXED BY events_failed_spans "
    "WHERE trace_id = ? AND is_span = 1 AND error = 1)"
)
TRACE_SPANS_SQL: Final = (
    "SELECT span_id, parent_id, time_ns, duration_ms, error, name, dataset, data FROM events "
    "WHERE trace_id = ? AND is_span = 1 ORDER BY time_ns, id LIMIT ?"
)
TRACE_MARKS_SQL: Final = (
    "SELECT parent_id, time_ns, json_extract(data, '$.\"meta.annotation_type\"'), "
    "json_extract(data, '$.\"meta.signal_type\"'), "
    "substr(COALESCE(NULLIF(json_extract(data, '$.name'), ''), json_extract(data, '$.body')), "
    "1, 500) "
    "FROM events WHERE trace_id = ? AND is_span = 0 ORDER BY time_ns, id LIMIT ?"
)
TRACE_MARK_COUNT_SQL: Final = "SELECT COUNT(*) FROM events WHERE trace_id = ? AND is_span = 0"
PAGE_QUERIES: Final = {
    "recent roots": (RECENT_ROOTS_SQL, (50,)),
    "older roots": (OLDER_ROOTS_SQL, (0, 0, 50)),
    "listed span count": (LISTED_SPAN_COUNT_SQL, ("t", 10)),
    "trace span count": (TRACE_SPAN_COUNT_SQL, ("t",)),
    "trace failed": (TRACE_FAILED_SQL, ("t",)),
    "trace spans": (TRACE_SPANS_SQL, ("t", 10)),
    "trace marks": (TRACE_MARKS_SQL, ("t", 10)),
    "trace mark count": (TRACE_MARK_COUNT_SQL, ("t",)),
}
"""Every query the pages run, with sample parameters: for ``EXPLAIN QUERY PLAN`` checks."""


class Cursor(NamedTuple):
    """Where a page of the trace list ends: the time and id of its last root span."""

    time_ns: int
    id: int

    @property
    def text(self) -> str:
        return f"{self.time_ns}:{self.id}"

    @classmethod
    def parse(cls, text: str | None) -> Cursor | None:
        """The cursor `text` names, or None (the first page) for anything else."""
        time_text, _, id_text = (text or "").partition(":")
        try:
            return cls(int(time_text), int(id_text))
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class TraceSummary:
    """One root span in the trace list, with its trace's span count (at most
    `LISTED_SPAN_COUNT_CAP` + 1) and failure flag."""

    trace_id: str
    dataset: str
    time_ns: int
    name: str | None
    duration_ms: float | None
    spans: int
    failed: bool


@dataclass(frozen=True, slots=True)
class SpanRow:
    """A span of a trace page; `data` is its JSON text, None past the page's byte budget."""

    span_id: str | None
    parent_id: str | None
    time_ns: int
    duration_ms: float | None
    error: bool
    name: str | None
    dataset: str
    data: str | None


@dataclass(frozen=True, slots=True)
class MarkRow:
    """A span event, link or log record of a trace: `label` is its name, else its body."""

    parent_id: str | None
    time_ns: int
    annotation_type: object
    signal_type: object
    label: object


@dataclass(frozen=True, slots=True)
class TraceRows:
    """What a trace page draws: the first spans and marks by time, and how many there are."""

    spans: list[SpanRow]
    span_total: int
    marks: list[MarkRow]
    mark_total: int


def recent_traces(
    conn: sqlite3.Connection, names: dict[str, str], before: Cursor | None, limit: int
) -> tuple[list[TraceSummary], Cursor | None]:
    """Up to `limit` root spans older than `before`, newest first, and the cursor of the next
    page (None on the last). `names` maps dataset keys to display names."""
    if before is None:
        rows = conn.execute(RECENT_ROOTS_SQL, (limit + 1,)).fetchall()
    else:
        rows = conn.execute(OLDER_ROOTS_SQL, (before.time_ns, before.id, limit + 1)).fetchall()
    listed = [
        TraceSummary(
            trace_id=trace_id,
            dataset=names.get(dataset, dataset),
            time_ns=time_ns,
            name=name,
            duration_ms=duration_ms,
            spans=int(
                conn.execute(
                    LISTED_SPAN_COUNT_SQL, (trace_id, LISTED_SPAN_COUNT_CAP + 1)
                ).fetchone()[0]
            ),
            failed=bool(conn.execute(TRACE_FAILED_SQL, (trace_id,)).fetchone()[0]),
        )
        for _, time_ns, trace_id, name, duration_ms, dataset in rows[:limit]
    ]
    after = Cursor(rows[limit - 1][1], rows[limit - 1][0]) if len(rows) > limit else None
    return listed, after


def trace_rows(
    conn: sqlite3.Connection,
    names: dict[str, str],
    trace_id: str,
    *,
    max_spans: int,
    max_marks: int,
    data_budget: int,
) -> TraceRows:
    """The first `max_spans` spans and `max_marks` other events of a trace by time, with the
    JSON of spans while their total length stays within `data_budget` characters."""
    spans: list[SpanRow] = []
    budget = data_budget
    for span_id, parent_id, time_ns, duration_ms, error, name, dataset, data in conn.execute(
        TRACE_SPANS_SQL, (trace_id, max_spans)
    ):
        budget -= len(data)
        spans.append(
            SpanRow(
                span_id,
                parent_id,
                time_ns,
                duration_ms,
                bool(error),
                name,
                names.get(dataset, dataset),
                data if budget >= 0 else None,
            )
        )
    span_total = len(spans)
    if span_total == max_spans:
        span_total = int(conn.execute(TRACE_SPAN_COUNT_SQL, (trace_id,)).fetchone()[0])
    marks = [MarkRow(*row) for row in conn.execute(TRACE_MARKS_SQL, (trace_id, max_marks))]
    mark_total = len(marks)
    if mark_total == max_marks:
        mark_total = int(conn.execute(TRACE_MARK_COUNT_SQL, (trace_id,)).fetchone()[0])
    return TraceRows(spans, span_total, marks, mark_total)
