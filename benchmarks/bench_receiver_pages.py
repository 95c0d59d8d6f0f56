"""The receiver's web pages and ``query --db`` on a large database.

    python benchmarks/bench_receiver_pages.py [--events 1000000] [--keep PATH]

Fills an SQLite file with `--events` events through `EventStore.add` (batches of 10,000): about
a tenth of them traces of 8 spans (about 20 fields each, as an instrumented service sends: its
resource, HTTP and database fields) with a span event and a log record, spread over the last
hour across three services (one dataset each); one trace of 1,000 spans; and one trace holding
a twentieth of all events as spans. Then it serves the file with ``honeycomb-events serve
--db`` in a subprocess and times, on 127.0.0.1, ``GET /`` (first and best of five), the next
and previous pages of the list, the list searched each way (trace id, service, root span name,
dataset, errors only, all at once, and searches that match nothing, which read every root), the
page of an 8-span trace, of the 1,000-span trace and of the large trace; reads the server's
resident memory (VmRSS in /proc) before and after those requests; times ``honeycomb-events
query <dataset> --db FILE --limit 20`` (the whole process, interpreter start included); times
opening a copy of the file in the format of the previous version (the migration); and prints
the ``EXPLAIN QUERY PLAN`` of every query the pages run, one ``plan <query>: ...`` line each,
so that a scan of the events table shows.
"""

from __future__ import annotations

import argparse
import random
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx

from _harness import machine
from honeycomb_events.receiver import EventStore
from honeycomb_events.receiver._trace_queries import PAGE_QUERIES

DATASETS = ("shop-frontend", "shop-backend", "shop-payments")
ROUTES = ("/checkout", "/cart", "/products/{id}", "/search", "/login", "/orders", "/", "/health")
SPANS_PER_TRACE = 8
EVENTS_PER_TRACE = SPANS_PER_TRACE + 2  # a span event and a log record
WIDE_TRACE_SPANS = 1_000
BATCH = 10_000
COMMAND = [sys.executable, "-m", "honeycomb_events"]


class Event(NamedTuple):
    time_ns: int
    samplerate: int
    data: dict[str, Any]


def _resource(service: str, number: int) -> dict[str, Any]:
    return {
        "service.name": service,
        "service.instance.id": f"{service}-{number % 4}",
        "telemetry.sdk.language": "python",
        "telemetry.sdk.name": "opentelemetry",
        "telemetry.sdk.version": "1.27.0",
        "host.name": f"web-{number % 17}",
    }


def _span_fields(index: int, route: str, failed: bool) -> dict[str, Any]:
    """A span's own fields: the server span's HTTP fields, or a database client's."""
    if index == 0:
        return {
            "name": f"GET {route}",
            "span.kind": "server",
            "http.method": "GET",
            "http.route": route,
            "http.target": route,
            "http.status_code": 500 if failed else 200,
            "library.name": "opentelemetry.instrumentation.flask",
        }
    return {
        "name": f"SELECT orders {index}",
        "span.kind": "client",
        "db.system": "postgresql",
        "db.statement": "SELECT * FROM orders WHERE customer_id = $1 LIMIT 20",
        "server.address": "db.local",
        "library.name": "opentelemetry.instrumentation.psycopg2",
    }


def _trace_events(rng: random.Random, number: int, start_ns: int) -> list[Event]:
    """One request through a service: a server span, its children, a span event, a log."""
    trace_id = f"{rng.getrandbits(128):032x}"
    span_ids = [f"{rng.getrandbits(64):016x}" for _ in range(SPANS_PER_TRACE)]
    failed = number % 50 == 0
    route = ROUTES[number % len(ROUTES)]
    resource = _resource(DATASETS[number % len(DATASETS)], number)
    events = []
    for index, span_id in enumerate(span_ids):
        data: dict[str, Any] = {
            **resource,
            **_span_fields(index, route, failed),
            "trace.trace_id": trace_id,
            "trace.span_id": span_id,
            "duration_ms": round(rng.uniform(0.2, 40.0), 3),
            "meta.signal_type": "trace",
            "status_code": 2 if failed else 0,
            "span.num_events": 0,
        }
        if index:
            data["trace.parent_id"] = span_ids[0 if index < 4 else index - 3]
        if failed and index in (0, 5):
            data["error"] = True
        events.append(Event(start_ns + index * 1_000_000, 1, data))
    links = {**resource, "trace.trace_id": trace_id, "trace.parent_id": span_ids[1]}
    events.append(
        Event(
            start_ns + 2_000_000,
            1,
            {**links, "name": "rows read", "meta.annotation_type": "span_event"},
        )
    )
    log = {**links, "body": "cart loaded", "severity": "info", "meta.signal_type": "log"}
    events.append(Event(start_ns + 3_000_000, 1, log))
    return events


def _wide_trace(rng: random.Random, start_ns: int) -> list[Event]:
    """A trace of `WIDE_TRACE_SPANS` spans: a request fanning out, four levels deep."""
    trace_id = "e" * 32
    resource = _resource(DATASETS[0], 0)
    events = []
    for index in range(WIDE_TRACE_SPANS):
        data = {
            **resource,
            **_span_fields(index, "/reports", index == 500),
            "trace.trace_id": trace_id,
            "trace.span_id": f"{index:016x}",
            "duration_ms": round(rng.uniform(0.2, 40.0), 3),
        }
        if index:
            data["trace.parent_id"] = f"{(index - 1) // 10:016x}"
        events.append(Event(start_ns + index * 100_000, 1, data))
    return events


def _large_trace(rng: random.Random, spans: int, start_ns: int) -> Iterator[Event]:
    trace_id = "f" * 32
    yield Event(
        start_ns,
        1,
        {
            "trace.trace_id": trace_id,
            "trace.span_id": "0" * 16,
            "name": "nightly import",
            "duration_ms": 60_000.0,
        },
    )
    for index in range(1, spans):
        yield Event(
            start_ns + index * 1_000,
            1,
            {
                "trace.trace_id": trace_id,
                "trace.span_id": f"{index:016x}",
                "trace.parent_id": "0" * 16,
                "name": f"import row {index}",
                "duration_ms": round(rng.uniform(0.1, 2.0), 3),
            },
        )


def populate(path: Path, count: int) -> tuple[str, str, str]:
    """Fill `path` with about `count` events; the ids of an 8-span trace, the 1,000-span trace
    and the large one."""
    rng = random.Random(15)
    large = count // 20
    traces = max((count - large - WIDE_TRACE_SPANS) // EVENTS_PER_TRACE, 1)
    now = time.time_ns()
    step = 3600 * 10**9 // traces  # the traces of the last hour
    pending: dict[str, list[Event]] = {name: [] for name in DATASETS}
    sample = ""
    with EventStore(path) as store:
        for number in range(traces):
            events = _trace_events(rng, number, now - (traces - number) * step)
            if number == traces // 2:
                sample = events[0].data["trace.trace_id"]
            dataset = DATASETS[number % len(DATASETS)]
            pending[dataset].extend(events)
            if len(pending[dataset]) >= BATCH:
                store.add(dataset, pending[dataset])
                pending[dataset] = []
        for dataset, events in pending.items():
            if events:
                store.add(dataset, events)
        wide = _wide_trace(rng, now - 1800 * 10**9)
        store.add(DATASETS[0], wide)
        batch: list[Event] = []
        for event in _large_trace(rng, max(large, 1), now - 3600 * 10**9):
            batch.append(event)
            if len(batch) >= BATCH:
                store.add("imports", batch)
                batch = []
        if batch:
            store.add("imports", batch)
    return sample, wide[0].data["trace.trace_id"], "f" * 32


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="utf-8") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def serve_database(path: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen(
        [*COMMAND, "serve", "--db", str(path), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"serve exited: {process.stderr.read() if process.stderr else ''!r}")
        try:
            if httpx.get(f"{url}/_receiver/datasets").status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("serve did not answer within 60 s")


def _timed_get(
    http: httpx.Client, path: str, params: dict[str, str] | None = None
) -> tuple[float, str]:
    started = time.perf_counter()
    response = http.get(path, params=params)
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed, response.text


def _link(page: str, direction: str) -> str | None:
    """The path of the page's "older" or "newer" link, unescaped."""
    found = re.search(rf"class={direction} href='([^']+)'", page)
    return None if found is None else found.group(1).replace("&amp;", "&")


def _paging(http: httpx.Client, page: str) -> list[tuple[str, str]]:
    """The list's second page through the first page's link, and back to the first."""
    older = _link(page, "older")
    if older is None:
        return [("GET /?before=... (no second page)", "-")]
    elapsed, second = _timed_get(http, older)
    rows = [("GET /?before=... (the next page)", f"{elapsed:.3f} s")]
    newer = _link(second, "newer")
    if newer is not None:
        elapsed, _ = _timed_get(http, newer)
        rows.append(("GET /?after=... (back to the first page)", f"{elapsed:.3f} s"))
    return rows


def _searches(sample: str) -> dict[str, dict[str, str]]:
    return {
        "trace id": {"trace_id": sample},
        "service": {"service": DATASETS[1]},
        "root span name contains 'search'": {"name": "search"},
        "dataset": {"dataset": DATASETS[2]},
        "errors only": {"errors": "1"},
        "service, name and errors only": {
            "service": DATASETS[0],
            "name": "checkout",
            "errors": "1",
        },
        "a service no root has (reads every root)": {"service": "nobody"},
        "a name no root has (reads every root)": {"name": "nothing like this"},
        "dataset of a single root (reads every root)": {"dataset": "imports"},
    }


def _searched(http: httpx.Client, sample: str) -> list[tuple[str, str]]:
    rows = []
    for what, params in _searches(sample).items():
        first, page = _timed_get(http, "/", params)
        best = min(_timed_get(http, "/", params)[0] for _ in range(3))
        listed = page.count("<tr class=trace>")
        rows.append((f"GET /?... {what} ({listed} listed)", f"{first:.3f} / {best:.3f} s"))
    return rows


def measure_pages(path: Path, traces: tuple[str, str, str]) -> list[tuple[str, str]]:
    sample, wide, large = traces
    process, url = serve_database(path)
    rows: list[tuple[str, str]] = []
    try:
        before = _rss_mib(process.pid)
        with httpx.Client(base_url=url, timeout=120) as http:
            first, page = _timed_get(http, "/")
            rows.append(("GET / (first request)", f"{first:.3f} s"))
            again = min(_timed_get(http, "/")[0] for _ in range(5))
            rows.append(("GET / (best of 5 more)", f"{again:.3f} s"))
            rows += _paging(http, page)
            rows += _searched(http, sample)
            after_list = _rss_mib(process.pid)
            elapsed = _timed_get(http, f"/trace/{sample}")[0]
            rows.append((f"GET /trace/<{SPANS_PER_TRACE}-span trace>", f"{elapsed:.3f} s"))
            elapsed, page = _timed_get(http, f"/trace/{wide}")
            rows.append(
                (
                    f"GET /trace/<{WIDE_TRACE_SPANS:,}-span trace> ({len(page) / 2**20:.1f} MiB)",
                    f"{elapsed:.3f} s",
                )
            )
            elapsed, page = _timed_get(http, f"/trace/{large}")
            drawn = page.count("class='span-bar")
            rows.append((f"GET /trace/<large trace> ({drawn:,} spans drawn)", f"{elapsed:.3f} s"))
        after = _rss_mib(process.pid)
        rows.append(("serve RSS before the requests", f"{before:.1f} MiB"))
        rows.append(("serve RSS growth after the list pages", f"{after_list - before:.1f} MiB"))
        rows.append(("serve RSS growth after all of them", f"{after - before:.1f} MiB"))
    finally:
        process.terminate()
        process.wait(timeout=30)
    return rows


def measure_query(path: Path) -> tuple[str, str]:
    started = time.perf_counter()
    completed = subprocess.run(
        [*COMMAND, "query", DATASETS[0], "--db", str(path), "--limit", "20"],
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.perf_counter() - started
    lines = len(completed.stdout.splitlines())
    return (f"query {DATASETS[0]} --db FILE --limit 20 ({lines} lines)", f"{elapsed:.3f} s")


_PREVIOUS_SCHEMA = (
    "CREATE TABLE datasets (key TEXT PRIMARY KEY, name TEXT NOT NULL, created_ns INTEGER NOT NULL)",
    "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, dataset TEXT NOT NULL, "
    "time_ns INTEGER NOT NULL, samplerate INTEGER NOT NULL, data TEXT NOT NULL, "
    "received_ns INTEGER NOT NULL)",
    "CREATE INDEX events_by_dataset ON events (dataset, id)",
    "CREATE TABLE columns (dataset TEXT NOT NULL, name TEXT NOT NULL, "
    "PRIMARY KEY (dataset, name)) WITHOUT ROWID",
)


def measure_migration(path: Path, directory: Path) -> tuple[str, str]:
    """Open a copy of the events in the previous version's format: the migration's time."""
    old = directory / "previous.sqlite3"
    with sqlite3.connect(old) as conn:
        for statement in _PREVIOUS_SCHEMA:
            conn.execute(statement)
        conn.execute("ATTACH DATABASE ? AS new", (str(path),))
        conn.execute("INSERT INTO datasets SELECT key, name, created_ns FROM new.datasets")
        conn.execute(
            "INSERT INTO events SELECT id, dataset, time_ns, samplerate, data, received_ns "
            "FROM new.events"
        )
        conn.execute("INSERT INTO columns SELECT * FROM new.columns")
    conn.close()
    started = time.perf_counter()
    EventStore(old).close()
    elapsed = time.perf_counter() - started
    old.unlink()
    return ("open a file of the previous version (migration)", f"{elapsed:.2f} s")


def query_plans(path: Path, sample: str) -> list[str]:
    """``plan <query>: <steps>`` for every query of the pages, on the populated file."""
    lines = []
    with sqlite3.connect(path) as conn:
        for name, (sql, params) in PAGE_QUERIES.items():
            real = tuple(sample if value == "t" else value for value in params)
            steps = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", real)]
            lines.append(f"plan {name}: {'; '.join(steps)}")
    conn.close()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="build the database at this path and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        path = args.keep or Path(directory) / "events.sqlite3"
        started = time.perf_counter()
        traces = populate(path, args.events)
        populated = time.perf_counter() - started
        with EventStore.open_read_only(path) as store:
            stored = store.count()
        size = sum(f.stat().st_size for f in path.parent.glob(path.name + "*")) / 2**20
        rows = [(f"populate ({stored:,} events, {size:,.0f} MiB on disk)", f"{populated:.1f} s")]
        rows += measure_pages(path, traces)
        rows.append(measure_query(path))
        rows.append(measure_migration(path, Path(directory)))
        plans = query_plans(path, traces[0])
    print(machine())
    print(f"{'what':72} {'figure':>16}")
    for what, figure in rows:
        print(f"{what:72} {figure:>16}")
    for line in plans:
        print(line)


if __name__ == "__main__":
    main()
