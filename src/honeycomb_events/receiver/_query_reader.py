"""Where a query reads: a file database on read-only connections of its own, several at once
and without the store's lock (the receiver goes on storing events meanwhile, as WAL allows); a
database in memory on the store's only connection, under its lock, one part after another."""

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

_BUSY_TIMEOUT_S: Final = 10.0


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

    @property
    def parallel(self) -> int:
        return 1 if self._path is None else PARALLEL_READS

    def run(self, works: Sequence[Callable[[sqlite3.Connection], T]]) -> list[T]:
        """Each of `works` run on a connection, their results in the same order."""
        if self._path is None:
            with self._lock:
                conn = self._connection()
                return [work(conn) for work in works]
        if len(works) == 1:
            return [self._on_own_connection(works[0])]
        with ThreadPoolExecutor(max_workers=len(works), thread_name_prefix="query") as pool:
            return list(pool.map(self._on_own_connection, works))

    def _on_own_connection(self, work: Callable[[sqlite3.Connection], T]) -> T:
        # SQLite releases the GIL while it steps, so parts on connections of their own parse
        # their events' JSON on a core each.
        uri = Path(self._path or "").resolve().as_uri() + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=_BUSY_TIMEOUT_S)
        try:
            return work(conn)
        finally:
            conn.close()
