"""The store's tables, the span columns the web pages read, and the migration of databases
written before those columns existed.

The pages never read the events' JSON to find traces: when an event is stored, what they need
(trace, span and parent ids, span and root flags, the error flag, the duration, the name) is
copied into indexed columns; queries read a dataset's events by time through an index. A
database of an older version is migrated when opened: the columns are added and filled from the
JSON by SQLite itself, and the indexes built, in one transaction, and ``PRAGMA user_version``
records the schema version. The rules below and the SQL that fills old
rows agree on every value, so an event reads the same whichever way its columns were filled.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Mapping
from typing import Any, Final

SCHEMA_VERSION: Final = 2
"""``PRAGMA user_version`` of a database with the span columns, per-dataset counts (both
since version 1) and the index of each dataset's events by time (version 2)."""

COUNTS_VERSION: Final = 1
"""The first schema version whose datasets keep their event counts."""

NAME_CHARACTERS: Final = 500
"""The span name column keeps this many characters: it is for display, the event keeps all."""

_SPAN_COLUMNS: Final = (
    ("trace_id", "TEXT"),
    ("span_id", "TEXT"),
    ("parent_id", "TEXT"),
    ("is_span", "INTEGER NOT NULL DEFAULT 0"),
    ("is_root", "INTEGER NOT NULL DEFAULT 0"),
    ("error", "INTEGER NOT NULL DEFAULT 0"),
    ("duration_ms", "REAL"),
    ("name", "TEXT"),
)

SpanColumns = tuple[str | None, str | None, str | None, int, int, int, float | None, str | None]
"""Values for the columns of `_SPAN_COLUMNS`, in that order."""

SPAN_COLUMN_NAMES: Final = tuple(name for name, _ in _SPAN_COLUMNS)

_TABLES: Final = (
    "CREATE TABLE IF NOT EXISTS datasets (key TEXT PRIMARY KEY, name TEXT NOT NULL, "
    "created_ns INTEGER NOT NULL, events INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "dataset TEXT NOT NULL REFERENCES datasets (key), time_ns INTEGER NOT NULL, "
    "samplerate INTEGER NOT NULL, data TEXT NOT NULL, received_ns INTEGER NOT NULL, "
    + ", ".join(f"{name} {kind}" for name, kind in _SPAN_COLUMNS)
    + ")",
    "CREATE INDEX IF NOT EXISTS events_by_dataset ON events (dataset, id)",
    "CREATE TABLE IF NOT EXISTS columns (dataset TEXT NOT NULL REFERENCES datasets (key), "
    "name TEXT NOT NULL, PRIMARY KEY (dataset, name)) WITHOUT ROWID",
)

# Partial indexes: events outside traces, and spans that did not fail, cost them nothing.
_INDEXES: Final = (
    "CREATE INDEX IF NOT EXISTS events_recent_roots ON events (time_ns) WHERE is_root = 1",
    "CREATE INDEX IF NOT EXISTS events_by_trace ON events (trace_id, is_span, time_ns) "
    "WHERE trace_id IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS events_failed_spans ON events (trace_id) "
    "WHERE is_span = 1 AND error = 1",
    # Queries (`_query_sql.py`) read one dataset's events over a time range.
    "CREATE INDEX IF NOT EXISTS events_by_time ON events (dataset, time_ns)",
)

_TRACE: Final = '$."trace.trace_id"'
_SPAN: Final = '$."trace.span_id"'
_PARENT: Final = '$."trace.parent_id"'


def _text_sql(path: str) -> str:
    return f"CASE WHEN json_type(data, '{path}') = 'text' THEN json_extract(data, '{path}') END"


def _present_sql(path: str) -> str:
    return f"COALESCE(json_type(data, '{path}'), 'null') != 'null'"


_IS_SPAN_SQL: Final = f"(json_type(data, '{_TRACE}') = 'text' AND {_present_sql(_SPAN)})"

# One statement, so that each row is rewritten once (SQLite reuses a row's parsed JSON across
# the calls). JSON numbers that overflow a double read as infinity: only finite ones are kept.
# Only this module's constants are interpolated into the SQL.
_BACKFILL: Final = (
    f"UPDATE events SET trace_id = {_text_sql(_TRACE)}, span_id = {_text_sql(_SPAN)}, "  # noqa: S608
    f"parent_id = {_text_sql(_PARENT)}, is_span = COALESCE({_IS_SPAN_SQL}, 0), "
    f"is_root = COALESCE({_IS_SPAN_SQL} AND NOT {_present_sql(_PARENT)}, 0), "
    "error = COALESCE(json_type(data, '$.error') = 'true', 0), "
    "duration_ms = CASE WHEN json_type(data, '$.duration_ms') IN ('integer', 'real') "
    "AND abs(json_extract(data, '$.duration_ms')) <= 1.7976931348623157e308 "
    "THEN json_extract(data, '$.duration_ms') END, "
    f"name = substr({_text_sql('$.name')}, 1, {NAME_CHARACTERS}) "
    "WHERE json_valid(data)",
    "UPDATE datasets SET events = "
    "(SELECT COUNT(*) FROM events WHERE events.dataset = datasets.key)",
)


def span_columns(data: Mapping[str, Any]) -> SpanColumns:
    """The span columns of an event's fields, by the rules `_BACKFILL` applies to old rows.

    Ids are strings (anything else is no id); an event is a span when it has a trace id and a
    span id that is not null, and a root span when it has no parent id at all; `error` is 1
    only for ``true``; the duration only when it is a finite number.
    """
    trace_id = _text(data.get("trace.trace_id"))
    is_span = trace_id is not None and data.get("trace.span_id") is not None
    is_root = is_span and data.get("trace.parent_id") is None
    name = _text(data.get("name"))
    return (
        trace_id,
        _text(data.get("trace.span_id")),
        _text(data.get("trace.parent_id")),
        int(is_span),
        int(is_root),
        int(data.get("error") is True),
        _finite(data.get("duration_ms")),
        None if name is None else name[:NAME_CHARACTERS],
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def prepare(conn: sqlite3.Connection) -> int:
    """Create or migrate the tables (`conn` in autocommit mode); the schema version after."""
    version = _user_version(conn)
    if version >= SCHEMA_VERSION and _has_table(conn, "events"):
        return version
    # IMMEDIATE: two processes opening one old file at once migrate it once.
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = _user_version(conn)
        if _has_table(conn, "events") and "trace_id" not in _columns_of(conn, "events"):
            _add_span_columns(conn)
        for statement in _TABLES + _INDEXES:
            conn.execute(statement)
        if version < SCHEMA_VERSION:
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            version = SCHEMA_VERSION
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return version


def _add_span_columns(conn: sqlite3.Connection) -> None:
    for name, kind in _SPAN_COLUMNS:
        conn.execute(f"ALTER TABLE events ADD COLUMN {name} {kind}")
    if "events" not in _columns_of(conn, "datasets"):
        conn.execute("ALTER TABLE datasets ADD COLUMN events INTEGER NOT NULL DEFAULT 0")
    for statement in _BACKFILL:
        conn.execute(statement)


def check_receiver_database(conn: sqlite3.Connection) -> int:
    """The schema version of a receiver's database; `ValueError` for any other database.

    Reading `sqlite_master` is what first reads the file: a file that is not SQLite raises
    `sqlite3.DatabaseError` here.
    """
    missing = [name for name in ("datasets", "events") if not _has_table(conn, name)]
    if missing:
        raise ValueError(f"it has no {' and no '.join(missing)} table")
    return _user_version(conn)


def _user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return row is not None


def _columns_of(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
