"""Where the receiver keeps what it accepted: SQLite, in memory or in a file.

A file database is in WAL mode with a busy timeout, so it survives restarts and several
processes (a receiver, a CLI reading it, a second receiver) can use it at once. Every write is
one transaction, and the per-dataset column limit is checked inside that transaction, so two
writers cannot together push a dataset past it.

What the web pages need of a span is also kept in indexed columns, and each dataset's event
count in its row (`_schema.py`), so that no page reads every event (`_trace_queries.py`).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any, Final

import msgspec

from honeycomb_events._model import format_time_ns
from honeycomb_events._query_spec import Filter, QuerySpec

from ._query_engine import run_query
from ._query_reader import BUSY_TIMEOUT_S, StoreReader, read_only_connection
from ._query_result import QueryResult
from ._query_sql import Sql, where_sql
from ._schema import (
    COUNTS_VERSION,
    SPAN_COLUMN_NAMES,
    check_receiver_database,
    prepare,
    span_columns,
)
from ._stored_event import EventLike, StoredEvent, dataset_key
from ._trace_queries import (
    NO_SEARCH,
    Cursor,
    TraceList,
    TraceRows,
    TraceSearch,
    recent_traces,
    trace_rows,
)

MAX_DATASET_COLUMNS: Final = 10_000
"""Honeycomb's limit on distinct columns (fields) in one dataset."""


_json_encoder: Final = msgspec.json.Encoder(enc_hook=str)
_json_decoder: Final = msgspec.json.Decoder()


class EventStore:
    """Events by dataset, in SQLite. Safe to share between threads; a file may be shared
    between processes.

    `path=None` keeps everything in a private in-memory database that disappears on `close()`.
    A path opens (or creates) a file database that keeps its events across restarts; a file
    written by an older version is migrated to the current schema when opened.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = None if path is None else os.fspath(path)
        # One connection, serialized by a lock: SQLite connections are not safe to use from
        # two threads at once, and ":memory:" is private to its connection anyway.
        self._lock = threading.Lock()
        self.read_only = False
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            ":memory:" if self.path is None else self.path,
            check_same_thread=False,
            isolation_level=None,
            timeout=BUSY_TIMEOUT_S,
        )
        with self._lock:
            conn = self._conn
            if self.path is not None:
                conn.execute(f"PRAGMA busy_timeout = {round(BUSY_TIMEOUT_S * 1000)}")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
            self._version = prepare(conn)

    @classmethod
    def open_read_only(cls, path: str | os.PathLike[str]) -> EventStore:
        """A receiver's database file opened without writing to it: no table is created, no
        migration or journal mode change made, and every write raises `sqlite3.Error`.

        A file being written by a receiver (in WAL mode) can be read; when such a file's
        ``-wal`` and ``-shm`` companions are missing, SQLite creates them beside it to read
        through (the file itself is not written). Raises `ValueError` when the file is an
        SQLite database without the receiver's tables, and `sqlite3.Error` when it cannot be
        read as SQLite at all.
        """
        store = cls.__new__(cls)
        store.path = os.fspath(path)
        store._lock = threading.Lock()
        store.read_only = True
        conn = read_only_connection(store.path)
        try:
            store._version = check_receiver_database(conn)
        except BaseException:
            conn.close()
            raise
        store._conn = conn
        return store

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the event store is closed")
        return self._conn

    def add(self, dataset: str, events: Sequence[EventLike]) -> None:
        """Store `events` in `dataset` in one transaction, without any column limit."""
        self.admit(dataset, events, max_columns=None)

    def admit(
        self,
        dataset: str,
        events: Sequence[EventLike],
        *,
        max_columns: int | None = MAX_DATASET_COLUMNS,
    ) -> list[bool]:
        """Store the events that keep `dataset` within `max_columns` distinct columns.

        Events are taken in order, in one transaction: each one is stored if the columns the
        dataset already has plus its new ones fit, and its entry in the returned list says
        whether it was. The dataset is created, with `dataset` as its display name, when the
        first event is stored in it.
        """
        key = dataset_key(dataset)
        now = time.time_ns()
        admitted: list[bool] = []
        rows: list[tuple[object, ...]] = []
        with self._lock:
            conn = self._connection()
            # IMMEDIATE takes the write lock before the column count is read, so another
            # process cannot add columns between the check and the insert.
            conn.execute("BEGIN IMMEDIATE")
            try:
                known = {
                    row[0]
                    for row in conn.execute("SELECT name FROM columns WHERE dataset = ?", (key,))
                }
                new_columns: list[str] = []
                for event in events:
                    new = [name for name in event.data if name not in known]
                    if max_columns is not None and len(known) + len(new) > max_columns:
                        admitted.append(False)
                        continue
                    new_columns.extend(new)
                    known.update(new)
                    rows.append(_event_row(key, event, now))
                    admitted.append(True)
                if rows:
                    self._insert(
                        conn, key=key, dataset=dataset, now=now, new_columns=new_columns, rows=rows
                    )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        return admitted

    @staticmethod
    def _insert(
        conn: sqlite3.Connection,
        *,
        key: str,
        dataset: str,
        now: int,
        new_columns: list[str],
        rows: list[tuple[object, ...]],
    ) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO datasets (key, name, created_ns) VALUES (?, ?, ?)",
            (key, dataset, now),
        )
        conn.executemany(
            "INSERT OR IGNORE INTO columns (dataset, name) VALUES (?, ?)",
            [(key, name) for name in new_columns],
        )
        conn.executemany(_INSERT_EVENT, rows)
        # The pages show per-dataset counts: kept here, in the same transaction, rather than
        # counted over every event on each request.
        conn.execute("UPDATE datasets SET events = events + ? WHERE key = ?", (len(rows), key))

    def events(
        self,
        dataset: str,
        *,
        since_ns: int | None = None,
        until_ns: int | None = None,
        limit: int | None = None,
        filters: Sequence[Filter] = (),
        any_filter: bool = False,
    ) -> list[StoredEvent]:
        """The events of `dataset` (any casing) in the order they were stored.

        `since_ns` and `until_ns` keep events with ``since_ns <= time_ns < until_ns``;
        `filters` those they all match (any one, with `any_filter`), as a query's filters;
        `limit` keeps the first that many. An unknown dataset has no events.
        """
        where = where_sql(
            dataset_key(dataset), filters, any_filter=any_filter, start_ns=since_ns, end_ns=until_ns
        )
        return [event for _, event in self._read(where, limit)]

    def event_pages(
        self,
        dataset: str,
        *,
        since_ns: int | None = None,
        until_ns: int | None = None,
        limit: int | None = None,
        page_size: int = 1000,
    ) -> Iterator[list[StoredEvent]]:
        """`events`, `page_size` at a time, each page read when the one before was taken (under
        the store's lock only while it is read): what the events endpoint streams, so that no
        number of stored events is ever held at once."""
        where = where_sql(dataset_key(dataset), (), start_ns=since_ns, end_ns=until_ns)
        left = limit
        after = None
        while left is None or left > 0:
            size = page_size if left is None else min(page_size, left)
            keyed = where
            if after is not None:
                keyed = Sql(f"{where.text} AND e.id > ?", (*where.params, after))
            rows = self._read(keyed, size)
            if not rows:
                return
            after = rows[-1][0]
            if left is not None:
                left -= len(rows)
            yield [event for _, event in rows]
            if len(rows) < size:
                return

    def _read(self, where: Sql, limit: int | None) -> list[tuple[int, StoredEvent]]:
        """The events `where` keeps, in the order they were stored, with their ids."""
        sql = (
            "SELECT e.id, d.name, e.time_ns, e.samplerate, e.data FROM events e "  # noqa: S608
            f"JOIN datasets d ON d.key = e.dataset WHERE {where.text} ORDER BY e.id"
        )
        params = list(where.params)
        if limit is not None:
            sql += " LIMIT ?"
            params.append(max(limit, 0))
        with self._lock:
            rows = self._connection().execute(sql, params).fetchall()
        return [
            (row_id, StoredEvent(name, time_ns, format_time_ns(time_ns), samplerate, _decode(data)))
            for row_id, name, time_ns, samplerate, data in rows
        ]

    def query(self, dataset: str, spec: QuerySpec) -> QueryResult:
        """The answer to `spec` over the events of `dataset` (any casing): `_query_engine`."""
        reader = StoreReader(self.path, self._lock, self._connection)
        return run_query(reader, dataset_key(dataset), spec)

    def datasets(self) -> list[str]:
        """Display names of the datasets that hold events, oldest first."""
        with self._lock:
            rows = self._connection().execute(
                "SELECT name FROM datasets ORDER BY created_ns, rowid"
            )
            return [row[0] for row in rows]

    def count(self, dataset: str | None = None) -> int:
        """How many events `dataset` (any casing) holds, or all datasets together."""
        with self._lock:
            conn = self._connection()
            if self._version < COUNTS_VERSION:
                # A database opened read-only before it was ever migrated has no counts.
                sql, where = "SELECT COUNT(*) FROM events", "dataset"
            else:
                sql, where = "SELECT COALESCE(SUM(events), 0) FROM datasets", "key"
            if dataset is None:
                row = conn.execute(sql).fetchone()
            else:
                row = conn.execute(f"{sql} WHERE {where} = ?", (dataset_key(dataset),)).fetchone()
        return int(row[0])

    def dataset_counts(self) -> list[tuple[str, int]]:
        """Display names of the datasets with their event counts, oldest dataset first."""
        with self._lock:
            rows = self._connection().execute(
                "SELECT name, events FROM datasets ORDER BY created_ns, rowid"
            )
            return [(name, int(events)) for name, events in rows]

    def recent_traces(
        self,
        search: TraceSearch = NO_SEARCH,
        *,
        before: Cursor | None = None,
        after: Cursor | None = None,
        limit: int = 50,
    ) -> TraceList:
        """Root spans matching `search` newest first, `limit` at a time, as
        `_trace_queries.recent_traces` reads them."""
        with self._lock:
            conn = self._connection()
            names = self._display_names(conn)
            return recent_traces(conn, names, search, before=before, after=after, limit=limit)

    def trace(
        self, trace_id: str, *, max_spans: int, max_marks: int, data_budget: int
    ) -> TraceRows:
        """A trace's spans and other events, bounded as `_trace_queries.trace_rows` says."""
        with self._lock:
            conn = self._connection()
            return trace_rows(
                conn,
                self._display_names(conn),
                trace_id,
                max_spans=max_spans,
                max_marks=max_marks,
                data_budget=data_budget,
            )

    @staticmethod
    def _display_names(conn: sqlite3.Connection) -> dict[str, str]:
        return dict(conn.execute("SELECT key, name FROM datasets").fetchall())

    def columns(self, dataset: str) -> set[str]:
        """The distinct field names stored events of `dataset` (any casing) have used."""
        with self._lock:
            rows = self._connection().execute(
                "SELECT name FROM columns WHERE dataset = ?", (dataset_key(dataset),)
            )
            return {row[0] for row in rows}

    def clear(self) -> None:
        """Forget every dataset, event and column."""
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("DELETE FROM events")
                conn.execute("DELETE FROM columns")
                conn.execute("DELETE FROM datasets")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        """Close the database; later calls other than `close` raise `RuntimeError`."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    @property
    def closed(self) -> bool:
        return self._conn is None

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = "memory" if self.path is None else repr(self.path)
        return f"EventStore({where})"


_INSERT_EVENT: Final = (
    "INSERT INTO events (dataset, time_ns, samplerate, data, received_ns, "  # noqa: S608
    + ", ".join(SPAN_COLUMN_NAMES)
    + ") VALUES (?, ?, ?, ?, ?, "
    + ", ".join("?" for _ in SPAN_COLUMN_NAMES)
    + ")"
)


def _event_row(key: str, event: EventLike, received_ns: int) -> tuple[object, ...]:
    data = event.data
    return (
        key,
        event.time_ns,
        event.samplerate,
        _json_encoder.encode(dict(data)).decode("utf-8"),
        received_ns,
        *span_columns(data),
    )


def _decode(text: str) -> dict[str, Any]:
    value = _json_decoder.decode(text)
    return value if isinstance(value, dict) else {}
