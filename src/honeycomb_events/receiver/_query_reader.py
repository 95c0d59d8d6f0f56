"""Where a query reads: a file database on read-only connections of its own, several at once
and without the store's lock (the receiver goes on storing events meanwhile, as WAL allows); a
database in memory on the store's only connection, under its lock, one statement after
another."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Final, TypeVar

T = TypeVar("T")

PARALLEL_READS: Final = max(1, min(4, os.cpu_count() or 1))
"""How many connections one query reads a file database on at once: a core each."""

BUSY_TIMEOUT_S: Final = 10.0
"""How long a connection waits for a writer's lock before it gives up."""


def read_only_connection(path: str) -> sqlite3.Connection:
    """A read-only connection to the database file at `path` (a URI, so that "mode=ro"
    applies; `as_uri()` escapes "?", "#" and "%" in the path), usable from any thread."""
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    return sqlite3.connect(
        uri, uri=True, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_S
    )


class StoreReader:
    """A `_query_engine.Reader` for an `EventStore`'s database."""

    def __init__(
        self,
        path: str | None,
        lock: threading.Lock,
        connection: Callable[[], sqlite3.Connection],
    ) -> None:
        self._path = path
        self._lock = lock
        self._connection = connection

    def run(self, works: Sequence[Callable[[sqlite3.Connection], T]]) -> list[T]:
        """Each of `works` run on a connection, their results in the same order. On a file,
        `PARALLEL_READS` threads take the next work as they finish one, each on a connection
        of its own."""
        if self._path is None:
            with self._lock:
                conn = self._connection()
                return [work(conn) for work in works]
        self._connection()  # a closed store refuses, as for its other reads
        opened: list[sqlite3.Connection] = []
        local = threading.local()

        def run(work: Callable[[sqlite3.Connection], T]) -> T:
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = local.conn = self._connect()
                opened.append(conn)
            return work(conn)

        try:
            if len(works) == 1:
                return [run(works[0])]
            # SQLite releases the GIL while it steps: each thread parses JSON on a core.
            threads = min(PARALLEL_READS, len(works))
            with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="query") as pool:
                return list(pool.map(run, works))
        finally:
            for conn in opened:
                conn.close()

    def _connect(self) -> sqlite3.Connection:
        return read_only_connection(self._path or "")
