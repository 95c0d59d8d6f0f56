"""Where the receiver keeps what it accepted: SQLite, in memory or in a file.

A file database is in WAL mode with a busy timeout, so it survives restarts and several
processes (a receiver, a CLI reading it, a second receiver) can use it at once. Every write is
one transaction, and the per-dataset column limit is checked inside that transaction, so two
writers cannot together push a dataset past it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import msgspec

from honeycomb_events._model import format_time_ns

MAX_DATASET_COLUMNS: Final = 10_000
"""Honeycomb's limit on distinct columns (fields) in one dataset."""

_BUSY_TIMEOUT_MS: Final = 10_000

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS datasets (
    key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset TEXT NOT NULL REFERENCES datasets (key),
    time_ns INTEGER NOT NULL,
    samplerate INTEGER NOT NULL,
    data TEXT NOT NULL,
    received_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_dataset ON events (dataset, id);
CREATE TABLE IF NOT EXISTS columns (
    dataset TEXT NOT NULL REFERENCES datasets (key),
    name TEXT NOT NULL,
    PRIMARY KEY (dataset, name)
) WITHOUT ROWID;
"""

_json_encoder: Final = msgspec.json.Encoder(enc_hook=str)
_json_decoder: Final = msgspec.json.Decoder()


class EventLike(Protocol):
    """What `EventStore.add` needs from an event; `StoredEvent` is one."""

    @property
    def time_ns(self) -> int: ...

    @property
    def samplerate(self) -> int: ...

    @property
    def data(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One event as the receiver stored it.

    `dataset` is the dataset's display name (the casing it was first received with), `time_ns`
    the event time in nanoseconds since the Unix epoch and `time` the same instant as RFC3339
    UTC text with nine fractional digits.
    """

    dataset: str
    time_ns: int
    time: str
    samplerate: int
    data: dict[str, Any]

    @classmethod
    def create(
        cls, dataset: str, time_ns: int, data: dict[str, Any], samplerate: int = 1
    ) -> StoredEvent:
        """An event with its `time` text derived from `time_ns`."""
        return cls(dataset, time_ns, format_time_ns(time_ns), samplerate, data)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form served by ``GET /_receiver/events/{dataset}``."""
        return {
            "dataset": self.dataset,
            "time": self.time,
            "time_ns": self.time_ns,
            "samplerate": self.samplerate,
            "data": self.data,
        }


def dataset_key(name: str) -> str:
    """The key a dataset name is stored under: Honeycomb's dataset names ignore case."""
    return name.lower()


class EventStore:
    """Events by dataset, in SQLite. Safe to share between threads; a file may be shared
    between processes.

    `path=None` keeps everything in a private in-memory database that disappears on `close()`.
    A path opens (or creates) a file database that keeps its events across restarts.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = None if path is None else os.fspath(path)
        # One connection, serialized by a lock: SQLite connections are not safe to use from
        # two threads at once, and ":memory:" is private to its connection anyway.
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            ":memory:" if self.path is None else self.path,
            check_same_thread=False,
            isolation_level=None,
            timeout=_BUSY_TIMEOUT_MS / 1000,
        )
        with self._lock:
            conn = self._conn
            if self.path is not None:
                conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
            conn.executescript(_SCHEMA)

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
                created = bool(known) or self._has_dataset(conn, key)
                for event in events:
                    new = [name for name in event.data if name not in known]
                    if max_columns is not None and len(known) + len(new) > max_columns:
                        admitted.append(False)
                        continue
                    if not created:
                        conn.execute(
                            "INSERT OR IGNORE INTO datasets (key, name, created_ns) "
                            "VALUES (?, ?, ?)",
                            (key, dataset, now),
                        )
                        created = True
                    if new:
                        conn.executemany(
                            "INSERT OR IGNORE INTO columns (dataset, name) VALUES (?, ?)",
                            [(key, name) for name in new],
                        )
                        known.update(new)
                    conn.execute(
                        "INSERT INTO events (dataset, time_ns, samplerate, data, received_ns) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (
                            key,
                            event.time_ns,
                            event.samplerate,
                            _json_encoder.encode(dict(event.data)).decode("utf-8"),
                            now,
                        ),
                    )
                    admitted.append(True)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        return admitted

    @staticmethod
    def _has_dataset(conn: sqlite3.Connection, key: str) -> bool:
        row = conn.execute("SELECT 1 FROM datasets WHERE key = ?", (key,)).fetchone()
        return row is not None

    def events(
        self,
        dataset: str,
        *,
        since_ns: int | None = None,
        until_ns: int | None = None,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        """The events of `dataset` (any casing) in the order they were stored.

        `since_ns` and `until_ns` keep events with ``since_ns <= time_ns < until_ns``;
        `limit` keeps the first that many. An unknown dataset has no events.
        """
        sql = (
            "SELECT d.name, e.time_ns, e.samplerate, e.data FROM events e "
            "JOIN datasets d ON d.key = e.dataset WHERE e.dataset = ?"
        )
        params: list[object] = [dataset_key(dataset)]
        if since_ns is not None:
            sql += " AND e.time_ns >= ?"
            params.append(since_ns)
        if until_ns is not None:
            sql += " AND e.time_ns < ?"
            params.append(until_ns)
        sql += " ORDER BY e.id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(max(limit, 0))
        with self._lock:
            rows = self._connection().execute(sql, params).fetchall()
        return [
            StoredEvent(name, time_ns, format_time_ns(time_ns), samplerate, _decode(data))
            for name, time_ns, samplerate, data in rows
        ]

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
            if dataset is None:
                row = conn.execute("SELECT COUNT(*) FROM events").fetchone()
            else:
                row = conn.execute(
                    "SELECT COUNT(*) FROM events WHERE dataset = ?", (dataset_key(dataset),)
                ).fetchone()
        return int(row[0])

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


def _decode(text: str) -> dict[str, Any]:
    value = _json_decoder.decode(text)
    return value if isinstance(value, dict) else {}
