"""The web pages' reads: bounded SQL on the span columns and their indexes (`_schema.py`).

Nothing here reads more than a page's worth: the trace list is read newest first from the
index of root spans, a page at a time, with keyset cursors (the time and id of the last root
listed, or of the first for the page before) rather than offsets; a search (`TraceSearch`)
adds terms the same walk checks, stopping at a page of matches, so that no term needs an index
of its own (a trace id uses the trace index). A trace's spans and marks come from the index by
trace id, at most a given number of each, and the JSON of its spans only up to a byte budget;
what a row needs of every span and mark (a service, a severity, an exception) is read by SQLite,
cut to a few hundred characters, whatever the budget.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

_SERVICE: Final = "json_extract(data, '$.\"service.name\"')"
_ROOTS: Final = (
    "SELECT id, time_ns, trace_id, name, duration_ms, dataset, "  # noqa: S608
    f"substr({_SERVICE}, 1, 200) FROM events WHERE is_root = 1"
)
_NEWEST: Final = " ORDER BY time_ns DESC, id DESC LIMIT ?"
_OLDER: Final = " AND (time_ns, id) < (?, ?) ORDER BY time_ns DESC, id DESC LIMIT ?"
_NEWER: Final = " AND (time_ns, id) > (?, ?) ORDER BY time_ns, id LIMIT ?"
# The planner would rather use events_by_trace, which matches more terms, and then read every
# span of the trace to look at its error column: the partial index answers from one entry.
_FAILED: Final = (
    "EXISTS (SELECT 1 FROM events AS failed INDEXED BY events_failed_spans "
    "WHERE failed.trace_id = {trace} AND failed.is_span = 1 AND failed.error = 1)"
)
RECENT_ROOTS_SQL: Final = _ROOTS + _NEWEST
TRACE_SPAN_COUNT_SQL: Final = "SELECT COUNT(*) FROM events WHERE trace_id = ? AND is_span = 1"
LISTED_SPAN_COUNT_SQL: Final = (
    "SELECT COUNT(*) FROM (SELECT 1 FROM events WHERE trace_id = ? AND is_span = 1 LIMIT ?)"
)
LISTED_SPAN_COUNT_CAP: Final = 100_000
"""The trace list counts a trace's spans up to this many, and shows more as "100000+"."""
TRACE_FAILED_SQL: Final = f"SELECT {_FAILED.format(trace='?')}"
TRACE_SPANS_SQL: Final = (
    "SELECT span_id, parent_id, time_ns, duration_ms, error, name, dataset, "  # noqa: S608
    f"substr({_SERVICE}, 1, 200), data FROM events "
    "WHERE trace_id = ? AND is_span = 1 ORDER BY time_ns, id LIMIT ?"
)
TRACE_MARKS_SQL: Final = (
    "SELECT parent_id, time_ns, json_extract(data, '$.\"meta.annotation_type\"'), "
    "json_extract(data, '$.\"meta.signal_type\"'), "
    "substr(COALESCE(NULLIF(json_extract(data, '$.name'), ''), json_extract(data, '$.body')), "
    "1, 500), "
    "substr(COALESCE(json_extract(data, '$.severity'), json_extract(data, '$.severity_text')), "
    "1, 40), "
    "substr(json_extract(data, '$.\"exception.type\"'), 1, 200), "
    "substr(json_extract(data, '$.\"exception.message\"'), 1, 500), "
    "COALESCE(json_type(data, '$.error') = 'true', 0) "
    "FROM events WHERE trace_id = ? AND is_span = 0 ORDER BY time_ns, id LIMIT ?"
)
TRACE_MARK_COUNT_SQL: Final = "SELECT COUNT(*) FROM events WHERE trace_id = ? AND is_span = 0"


class Cursor(NamedTuple):
    """Where a page of the trace list starts or ends: the time and id of a root span."""

    time_ns: int
    id: int

    @property
    def text(self) -> str:
        return f"{self.time_ns}:{self.id}"

    @classmethod
    def parse(cls, text: str | None) -> Cursor | None:
        """The cursor `text` names, or None (the first page) for anything else, such as
        numbers SQLite's 64-bit integers cannot hold."""
        time_text, _, id_text = (text or "").partition(":")
        try:
            cursor = cls(int(time_text), int(id_text))
        except ValueError:
            return None
        return cursor if all(-(2**63) <= part < 2**63 for part in cursor) else None


@dataclass(frozen=True, slots=True)
class TraceSearch:
    """What the trace list is narrowed to, all of it by the root span; empty narrows nothing.

    `trace_id` is the trace's id; `service` the root span's ``service.name``, exactly;
    `name` a part of the root span's name, in any ASCII casing; `dataset` the dataset's name,
    in any casing; `errors_only` keeps traces with a failed span (``error: true``).
    """

    trace_id: str = ""
    service: str = ""
    name: str = ""
    dataset: str = ""
    errors_only: bool = False

    def terms(self) -> tuple[str, list[object]]:
        """The SQL that narrows the root spans (`_ROOTS`), and its parameters."""
        terms: list[str] = []
        params: list[object] = []
        if self.trace_id:
            # With is_span, the trace index (trace_id, is_span, time_ns) gives the list's order.
            terms.append("is_span = 1 AND trace_id = ?")
            params.append(self.trace_id)
        if self.dataset:
            # "+" keeps the planner off events_by_dataset, from which it would sort every event
            # of the dataset: the roots' index, newest first, stops at a page. Lowercase is the
            # dataset's key (`_stored_event.dataset_key`).
            terms.append("+dataset = ?")
            params.append(self.dataset.lower())
        if self.service:
            terms.append(f"{_SERVICE} = ?")
            params.append(self.service)
        if self.name:
            terms.append("name LIKE ? ESCAPE '\\'")
            escaped = self.name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params.append(f"%{escaped}%")
        if self.errors_only:
            terms.append(_FAILED.format(trace="events.trace_id"))
        return "".join(f" AND {term}" for term in terms), params


NO_SEARCH: Final = TraceSearch()
"""The whole list."""


def _sample_queries() -> dict[str, tuple[str, tuple[object, ...]]]:
    everything = TraceSearch("t", "shop", "GET", "d", errors_only=True)
    searches = {
        "roots of a trace id": TraceSearch(trace_id="t"),
        "roots of a dataset": TraceSearch(dataset="d"),
        "roots of a service": TraceSearch(service="shop"),
        "roots by name": TraceSearch(name="GET"),
        "failed roots": TraceSearch(errors_only=True),
        "roots by every term": everything,
    }
    queries: dict[str, tuple[str, tuple[object, ...]]] = {
        "recent roots": (RECENT_ROOTS_SQL, (50,)),
        "older roots": (_ROOTS + _OLDER, (0, 0, 50)),
        "newer roots": (_ROOTS + _NEWER, (0, 0, 50)),
    }
    for name, search in searches.items():
        terms, params = search.terms()
        queries[name] = (_ROOTS + terms + _NEWEST, (*params, 50))
    terms, params = everything.terms()
    queries["older roots by every term"] = (_ROOTS + terms + _OLDER, (*params, 0, 0, 50))
    queries["newer roots by every term"] = (_ROOTS + terms + _NEWER, (*params, 0, 0, 50))
    return queries


PAGE_QUERIES: Final = {
    **_sample_queries(),
    "listed span count": (LISTED_SPAN_COUNT_SQL, ("t", 10)),
    "trace span count": (TRACE_SPAN_COUNT_SQL, ("t",)),
    "trace failed": (TRACE_FAILED_SQL, ("t",)),
    "trace spans": (TRACE_SPANS_SQL, ("t", 10)),
    "trace marks": (TRACE_MARKS_SQL, ("t", 10)),
    "trace mark count": (TRACE_MARK_COUNT_SQL, ("t",)),
}
"""Every query the pages run, with sample parameters: for ``EXPLAIN QUERY PLAN`` checks."""


@dataclass(frozen=True, slots=True)
class TraceSummary:
    """One root span in the trace list, with its trace's span count (at most
    `LISTED_SPAN_COUNT_CAP` + 1) and failure flag."""

    trace_id: str
    dataset: str
    time_ns: int
    name: str | None
    service: str | None
    duration_ms: float | None
    spans: int
    failed: bool


@dataclass(frozen=True, slots=True)
class TraceList:
    """A page of the trace list, and the cursors of the pages older and newer than it (None
    when there is none)."""

    traces: list[TraceSummary]
    older: Cursor | None
    newer: Cursor | None


@dataclass(frozen=True, slots=True)
class SpanRow:
    """A span of a trace page; `data` is its JSON text, None past the page's byte budget.
    `service` is its ``service.name`` (as text, its first 200 characters), read whatever the
    budget."""

    span_id: str | None
    parent_id: str | None
    time_ns: int
    duration_ms: float | None
    error: bool
    name: str | None
    dataset: str
    service: str | None
    data: str | None


@dataclass(frozen=True, slots=True)
class MarkRow:
    """A span event, link or log record of a trace: `label` is its name, else its body;
    `severity` a log's ``severity`` (else ``severity_text``); `exception_type` and
    `exception_message` an exception event's; `error` whether it has ``error: true``. Texts
    are cut to a few hundred characters."""

    parent_id: str | None
    time_ns: int
    annotation_type: object
    signal_type: object
    label: object
    severity: object
    exception_type: object
    exception_message: object
    error: bool


@dataclass(frozen=True, slots=True)
class TraceRows:
    """What a trace page draws: the first spans and marks by time, and how many there are."""

    spans: list[SpanRow]
    span_total: int
    marks: list[MarkRow]
    mark_total: int


def recent_traces(
    conn: sqlite3.Connection,
    names: dict[str, str],
    search: TraceSearch,
    *,
    before: Cursor | None = None,
    after: Cursor | None = None,
    limit: int,
) -> TraceList:
    """Up to `limit` root spans matching `search`, newest first: the newest, those older than
    `before`, or (when given) those just newer than `after`. `names` maps dataset keys to
    display names."""
    terms, params = search.terms()
    if after is not None:
        sql = _ROOTS + terms + _NEWER
        rows = conn.execute(sql, (*params, after.time_ns, after.id, limit + 1)).fetchall()
        rows, more = rows[:limit][::-1], len(rows) > limit
        # The root at `after` is older than this page: there is an older page.
        return TraceList(
            _summaries(conn, names, rows),
            older=_cursor(rows[-1]) if rows else after,
            newer=_cursor(rows[0]) if more else None,
        )
    if before is None:
        rows = conn.execute(_ROOTS + terms + _NEWEST, (*params, limit + 1)).fetchall()
    else:
        sql = _ROOTS + terms + _OLDER
        rows = conn.execute(sql, (*params, before.time_ns, before.id, limit + 1)).fetchall()
    rows, more = rows[:limit], len(rows) > limit
    # Likewise the root at `before` is newer than this page.
    return TraceList(
        _summaries(conn, names, rows),
        older=_cursor(rows[-1]) if more else None,
        newer=None if before is None else _cursor(rows[0]) if rows else before,
    )


def _cursor(row: tuple[Any, ...]) -> Cursor:
    return Cursor(row[1], row[0])


def _summaries(
    conn: sqlite3.Connection, names: dict[str, str], rows: list[tuple[Any, ...]]
) -> list[TraceSummary]:
    return [
        TraceSummary(
            trace_id=trace_id,
            dataset=names.get(dataset, dataset),
            time_ns=time_ns,
            name=name,
            service=service,
            duration_ms=duration_ms,
            spans=int(
                conn.execute(
                    LISTED_SPAN_COUNT_SQL, (trace_id, LISTED_SPAN_COUNT_CAP + 1)
                ).fetchone()[0]
            ),
            failed=bool(conn.execute(TRACE_FAILED_SQL, (trace_id,)).fetchone()[0]),
        )
        for _, time_ns, trace_id, name, duration_ms, dataset, service in rows
    ]


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
    for *columns, dataset, service, data in conn.execute(TRACE_SPANS_SQL, (trace_id, max_spans)):
        span_id, parent_id, time_ns, duration_ms, error, name = columns
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
                service,
                data if budget >= 0 else None,
            )
        )
    span_total = len(spans)
    if span_total == max_spans:
        span_total = int(conn.execute(TRACE_SPAN_COUNT_SQL, (trace_id,)).fetchone()[0])
    marks = [
        MarkRow(parent, at, annotation, signal, label, severity, kind, message, bool(error))
        for parent, at, annotation, signal, label, severity, kind, message, error in conn.execute(
            TRACE_MARKS_SQL, (trace_id, max_marks)
        )
    ]
    mark_total = len(marks)
    if mark_total == max_marks:
        mark_total = int(conn.execute(TRACE_MARK_COUNT_SQL, (trace_id,)).fetchone()[0])
    return TraceRows(spans, span_total, marks, mark_total)
