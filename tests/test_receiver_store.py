"""The receiver's store: the span columns and indexes the web pages read, the migration of
databases written by the previous version, per-dataset counts, and read-only opening."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest

from honeycomb_events.receiver import EventStore, StoredEvent

ROOT = Path(__file__).resolve().parents[1]

# What the previous version (no span columns, user_version 0) created.
PREVIOUS_SCHEMA = (
    "CREATE TABLE datasets (key TEXT PRIMARY KEY, name TEXT NOT NULL, created_ns INTEGER NOT NULL)",
    "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "dataset TEXT NOT NULL REFERENCES datasets (key), time_ns INTEGER NOT NULL, "
    "samplerate INTEGER NOT NULL, data TEXT NOT NULL, received_ns INTEGER NOT NULL)",
    "CREATE INDEX events_by_dataset ON events (dataset, id)",
    "CREATE TABLE columns (dataset TEXT NOT NULL REFERENCES datasets (key), "
    "name TEXT NOT NULL, PRIMARY KEY (dataset, name)) WITHOUT ROWID",
)

SPAN_COLUMNS = "trace_id, span_id, parent_id, is_span, is_root, error, duration_ms, name"

# Events whose fields test every rule of the span columns, the odd values included.
ODD_EVENTS: list[dict[str, Any]] = [
    {"trace.trace_id": "t1", "trace.span_id": "a", "name": "root", "duration_ms": 12.5},
    {"trace.trace_id": "t1", "trace.span_id": "b", "trace.parent_id": "a", "error": True},
    {"trace.trace_id": "t1", "trace.parent_id": "b", "meta.annotation_type": "span_event"},
    {"trace.trace_id": "t1", "trace.span_id": 7, "trace.parent_id": 8, "duration_ms": 10**30},
    {"trace.trace_id": 5, "trace.span_id": "c", "name": ["not", "a", "string"]},
    {"trace.trace_id": "t2", "trace.span_id": None, "duration_ms": "12"},
    {"trace.trace_id": "t2", "trace.span_id": "d", "trace.parent_id": None, "error": "true"},
    {"trace.trace_id": "t2", "trace.span_id": "e", "duration_ms": 1e303, "name": "x" * 600},
    {"trace.trace_id": "t2", "trace.span_id": "f", "duration_ms": -3, "error": 1},
    {"trace.trace_id": "t2", "trace.span_id": "g", "duration_ms": True, "name": {"k": 1}},
    {"trace.trace_id": "t3", "trace.span_id": "h", "trace.parent_id": "", "duration_ms": 0},
    {"trace.trace_id": "t3", "trace.span_id": {"id": 1}, "trace.parent_id": ["a"]},
    {"plain": "event", "duration_ms": 3, "error": True, "name": "no trace"},
]


def previous_version_file(path: Path, events: list[dict[str, Any]]) -> None:
    """A database as the previous version left it, holding `events` in dataset "Old"."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        for statement in PREVIOUS_SCHEMA:
            conn.execute(statement)
        conn.execute("INSERT INTO datasets VALUES ('old', 'Old', 1)")
        conn.executemany(
            "INSERT INTO columns VALUES ('old', ?)", [(k,) for k in {k for e in events for k in e}]
        )
        conn.executemany(
            "INSERT INTO events (dataset, time_ns, samplerate, data, received_ns) "
            "VALUES ('old', ?, 1, ?, 1)",
            [(1000 + n, msgspec.json.encode(data).decode()) for n, data in enumerate(events)],
        )
    conn.close()


def span_columns_of(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(f"SELECT {SPAN_COLUMNS} FROM events ORDER BY id").fetchall()  # noqa: S608
    conn.close()
    return rows


def index_names(conn: sqlite3.Connection) -> set[str]:
    return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}


def test_a_version_1_file_gets_the_index_queries_read_by_time(tmp_path):
    path = tmp_path / "v1.sqlite3"
    with EventStore(path) as store:
        store.add("d", [StoredEvent.create("d", 1, {"n": 1})])
    with sqlite3.connect(path) as conn:  # as version 1 left it: no time index
        conn.execute("DROP INDEX events_by_time")
        conn.execute("PRAGMA user_version = 1")
    conn.close()
    with EventStore.open_read_only(path) as store:  # read-only: left as it is, still counted
        assert store.count("d") == 1
    with sqlite3.connect(path) as conn:
        assert "events_by_time" not in index_names(conn)
    conn.close()
    with EventStore(path) as store:
        assert store.count("d") == 1
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (2,)
        assert "events_by_time" in index_names(conn)
        plan = conn.execute(
            "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM events WHERE dataset = 'd' AND time_ns >= 0"
        ).fetchall()
    conn.close()
    assert "events_by_time" in str(plan)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_previous_version_file_is_migrated_on_open_as_new_events_are_stored(tmp_path):
    migrated, fresh = tmp_path / "old.sqlite3", tmp_path / "new.sqlite3"
    previous_version_file(migrated, ODD_EVENTS)
    with EventStore(migrated) as store:
        assert [event.data for event in store.events("old")] == ODD_EVENTS
        assert store.count() == store.count("OLD") == len(ODD_EVENTS)
        assert store.dataset_counts() == [("Old", len(ODD_EVENTS))]
        store.add("old", [StoredEvent.create("old", 5000, {"n": 1})])
        assert store.count() == len(ODD_EVENTS) + 1
    with EventStore(fresh) as store:
        store.add("old", [StoredEvent.create("old", 1000 + n, e) for n, e in enumerate(ODD_EVENTS)])
    with sqlite3.connect(migrated) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (2,)
        assert "events_by_time" in index_names(conn)
    conn.close()
    # SQLite's reading of the JSON (old rows) and the store's (new rows) agree on every value.
    assert span_columns_of(migrated)[: len(ODD_EVENTS)] == span_columns_of(fresh)
    assert span_columns_of(fresh)[:3] == [
        ("t1", "a", None, 1, 1, 0, 12.5, "root"),
        ("t1", "b", "a", 1, 0, 1, None, None),
        ("t1", None, "b", 0, 0, 0, None, None),
    ]
    durations = [row[6] for row in span_columns_of(fresh)]
    assert durations[3:11] == [1e30, None, None, None, 1e303, -3.0, None, 0.0]
    with EventStore(migrated) as again:  # opening a migrated file changes nothing more
        assert again.count() == len(ODD_EVENTS) + 1


def test_event_counts_are_kept_with_the_datasets(tmp_path):
    with EventStore(tmp_path / "events.sqlite3") as store:
        assert store.admit("A", [StoredEvent.create("A", 1, {"x": 1})] * 3) == [True] * 3
        admitted = store.admit(
            "a",
            [StoredEvent.create("a", 2, {"y": 1}), StoredEvent.create("a", 3, {"x": 2})],
            max_columns=1,
        )
        assert admitted == [False, True]
        store.add("b", [StoredEvent.create("b", 4, {"z": 1})])
        assert store.dataset_counts() == [("A", 4), ("b", 1)]
        assert (store.count(), store.count("a"), store.count("missing")) == (5, 4, 0)
        assert store.admit("c", [StoredEvent.create("c", 5, {"p": 1, "q": 2})], max_columns=1) == [
            False
        ]
        assert store.dataset_counts() == [("A", 4), ("b", 1)]
        store.clear()
        assert (store.dataset_counts(), store.count()) == ([], 0)


def test_read_only_opening_never_writes(tmp_path):
    old = tmp_path / "old.sqlite3"
    previous_version_file(old, ODD_EVENTS[:3])
    assert not (tmp_path / "old.sqlite3-wal").exists()  # as a receiver leaves it when it stops
    digest = sha256(old)
    with EventStore.open_read_only(old) as store:
        assert [event.data for event in store.events("OLD")] == ODD_EVENTS[:3]
        assert (store.datasets(), store.count(), store.count("old")) == (["Old"], 3, 3)
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store.add("old", [StoredEvent.create("old", 1, {"n": 1})])
    assert sha256(old) == digest  # not migrated

    foreign = tmp_path / "notes.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    conn.close()
    digest = sha256(foreign)
    with pytest.raises(ValueError, match="no datasets and no events table"):
        EventStore.open_read_only(foreign)
    assert sha256(foreign) == digest

    text = tmp_path / "odd ?name#.txt"
    text.write_text("not a database, but long enough to have a header" * 10)
    with pytest.raises(sqlite3.DatabaseError, match="not a database"):
        EventStore.open_read_only(text)


def test_the_page_queries_are_index_searches():
    from honeycomb_events.receiver._trace_queries import PAGE_QUERIES

    with EventStore() as store:
        store.add("d", [StoredEvent.create("d", n, e) for n, e in enumerate(ODD_EVENTS)])
        conn = store._connection()
        for name, (sql, params) in PAGE_QUERIES.items():
            plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
            scans = [step for step in plan if step.startswith("SCAN events")]
            assert all("USING INDEX events_recent_roots" in step for step in scans), (name, plan)
            assert not any("TEMP B-TREE" in step for step in plan), (name, plan)


def test_the_pages_benchmark_runs_and_its_queries_use_indexes():
    from honeycomb_events.receiver._trace_queries import PAGE_QUERIES

    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_receiver_pages.py"),
            "--events",
            "100000",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    output = completed.stdout
    assert "populate (100,0" in output
    assert "GET / (first request)" in output
    assert "serve RSS growth after all of them" in output
    assert "(5,000 spans drawn)" in output
    plans = [line for line in output.splitlines() if line.startswith("plan ")]
    assert len(plans) == len(PAGE_QUERIES)
    for line in plans:
        for step in line.split(": ", 1)[1].split("; "):
            if step.startswith("SCAN events"):
                assert "USING INDEX" in step, line
            assert "TEMP B-TREE" not in step, line
