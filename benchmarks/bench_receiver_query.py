"""Queries on a large receiver database: a grouped P99, COUNT by service, a HEATMAP and a
filtered query, over the last hour.

    python benchmarks/bench_receiver_query.py [--events 1000000] [--spread 86400]
        [--keep PATH [--again]]

Fills an SQLite file with `--events` spans through `EventStore.add` (batches of 20,000): 20
fields each, 20 routes (a few much more common than the rest), four services, times spread
evenly over the `--spread` seconds before now (a day by default, so that the hour is a
twenty-fourth of the events; ``--spread 3600`` puts every event in the hour). Then it times each
query over the hour up to the newest event, through `EventStore.query` on the file opened
read-only, as ``query --db`` does (the first run and the best of three), the grouped P99
through the command line (the whole process, interpreter start included), and prints the plan
SQLite chose for the reading statement (one a time bucket) and the load average around the
measurements. The file is made in a temporary directory unless `--keep` names one (under
build/ or /tmp), which `--again` measures again without filling it.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

from _harness import machine
from honeycomb_events._model import format_time_ns
from honeycomb_events._query_spec import QuerySpec
from honeycomb_events._query_text import parse_calculation, parse_filter
from honeycomb_events.receiver import EventStore
from honeycomb_events.receiver._query_sql import cells_sql, where_sql

DATASET = "shop"
ROUTES = [
    f"/api/v1/{name}"
    for name in (
        "orders", "cart", "checkout", "search", "items", "users", "login", "logout",
        "profile", "settings", "payments", "refunds", "shipping", "reviews", "wishlist",
        "coupons", "inventory", "reports", "health", "metrics",
    )
]  # fmt: skip
SERVICES = ("frontend", "backend", "payments", "search")
BATCH = 20_000
HOUR_NS = 3600 * 10**9
COMMAND = [sys.executable, "-m", "honeycomb_events"]


class Event(NamedTuple):
    time_ns: int
    samplerate: int
    data: dict[str, Any]


def _span(rng: random.Random, number: int) -> dict[str, Any]:
    route = ROUTES[int(rng.paretovariate(1.2)) % len(ROUTES)]
    failed = rng.random() < 0.02
    data: dict[str, Any] = {
        "service.name": SERVICES[number % len(SERVICES)],
        "name": f"GET {route}",
        "http.route": route,
        "http.method": rng.choice(("GET", "POST", "PUT")),
        "http.status_code": 500 if failed else 200,
        "status_code": 2 if failed else 0,
        "duration_ms": round(rng.lognormvariate(3, 1), 3),
        "trace.trace_id": f"{rng.getrandbits(128):032x}",
        "trace.span_id": f"{rng.getrandbits(64):016x}",
        "span.kind": "server",
        "host.name": f"web-{number % 17}",
        "db.system": "postgresql",
        "user.id": f"user-{rng.randrange(5000)}",
        "http.response.size": rng.randrange(100, 100_000),
        "net.peer.name": f"10.0.0.{rng.randrange(255)}",
        "cloud.region": rng.choice(("eu-west-1", "us-east-1")),
        "telemetry.sdk.language": "python",
        "library.name": "opentelemetry.instrumentation.flask",
        "deployment.environment": "production",
        "meta.signal_type": "trace",
    }
    if failed:
        data["error"] = True
    return data


def populate(path: Path, count: int, spread_s: int) -> float:
    """Fill `path`; the seconds it took."""
    rng = random.Random(19)
    started = time.perf_counter()
    now = time.time_ns()
    step = spread_s * 10**9 // max(count, 1)
    with EventStore(path) as store:
        batch: list[Event] = []
        for number in range(count):
            batch.append(Event(now - (count - number) * step, 1, _span(rng, number)))
            if len(batch) >= BATCH:
                store.add(DATASET, batch)
                batch = []
        if batch:
            store.add(DATASET, batch)
    return time.perf_counter() - started


QUERIES = {
    "P99(duration_ms) by http.route": (["P99(duration_ms)"], ["http.route"], []),
    "COUNT by service.name": (["COUNT"], ["service.name"], []),
    "HEATMAP(duration_ms)": (["HEATMAP(duration_ms)"], [], []),
    "COUNT, AVG(duration_ms) by http.route where status_code=2, duration_ms>100": (
        ["COUNT", "AVG(duration_ms)"],
        ["http.route"],
        ["status_code=2", "duration_ms>100"],
    ),
}


def _spec(calcs: list[str], breakdowns: list[str], filters: list[str], end_ns: int) -> QuerySpec:
    return QuerySpec.create(
        calculations=[parse_calculation(text) for text in calcs],
        breakdowns=breakdowns,
        filters=[parse_filter(text) for text in filters],
        end_ns=end_ns,
        time_range_ns=HOUR_NS,
    )


def last_time_ns(path: Path) -> int:
    """Just after the newest event: the queries cover the hour up to it, which is the last
    hour when the file was filled, and stays the same hour when it is measured again."""
    conn = sqlite3.connect(path)
    try:
        newest = conn.execute("SELECT MAX(time_ns) FROM events WHERE dataset = ?", (DATASET,))
        return int(newest.fetchone()[0]) + 1
    finally:
        conn.close()


def measure_queries(path: Path, end_ns: int) -> list[tuple[str, str]]:
    rows = []
    with EventStore.open_read_only(path) as store:
        for label, (calcs, breakdowns, filters) in QUERIES.items():
            times, events, groups = [], 0, 0
            for _ in range(4):
                started = time.perf_counter()
                result = store.query(DATASET, _spec(calcs, breakdowns, filters, end_ns))
                times.append(time.perf_counter() - started)
                events, groups = result.events, len(result.groups)
            rows.append(
                (
                    f"{label} ({events:,} events, {groups} groups)",
                    f"first {times[0]:.3f} s, best {min(times[1:]):.3f} s",
                )
            )
    return rows


def measure_command(path: Path, end_ns: int) -> tuple[str, str]:
    since, until = format_time_ns(end_ns - HOUR_NS), format_time_ns(end_ns)
    arguments = ["--calc", "P99(duration_ms)", "--by", "http.route", "--since", since]
    arguments += ["--until", until]
    started = time.perf_counter()
    completed = subprocess.run(
        [*COMMAND, "query", DATASET, "--db", str(path), *arguments],
        capture_output=True,
        text=True,
        check=True,
    )
    elapsed = time.perf_counter() - started
    lines = len(completed.stdout.splitlines())
    shown = " ".join(arguments[:4])
    return (f"query --db FILE {shown} (that hour; {lines} lines)", f"{elapsed:.3f} s")


def query_plan(path: Path, end_ns: int) -> str:
    spec = _spec(["P99(duration_ms)"], ["http.route"], [], end_ns)
    first_bucket_end = spec.origin_ns + spec.granularity_ns
    where = where_sql(DATASET, [], start_ns=spec.start_ns, end_ns=first_bucket_end)
    sql = cells_sql(where, breakdowns=["http.route"], fields=["duration_ms"])
    with EventStore.open_read_only(path) as store:
        found = store.count()
    conn = sqlite3.connect(path)
    try:
        plan = conn.execute(f"EXPLAIN QUERY PLAN {sql.text}", sql.params).fetchall()
    finally:
        conn.close()
    return f"{found:,} events stored; plan: " + "; ".join(row[-1] for row in plan)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--spread", type=int, default=86400, help="seconds (default: a day)")
    parser.add_argument("--keep", type=Path, help="make the database here and keep it")
    parser.add_argument(
        "--again", action="store_true", help="with --keep: measure the file kept before"
    )
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as directory:
        path = args.keep or Path(directory) / "events.sqlite3"
        if not (args.again and path.exists()):
            path.unlink(missing_ok=True)
            filled = populate(path, args.events, args.spread)
            print(f"filled {args.events:,} events over {args.spread} s in {filled:.1f} s")
        end_ns = last_time_ns(path)
        print(query_plan(path, end_ns))
        load = os.getloadavg()[0]
        rows = [*measure_queries(path, end_ns), measure_command(path, end_ns)]
        print(f"load average before the queries {load:.2f}, after {os.getloadavg()[0]:.2f}")
    width = max(len(label) for label, _ in rows)
    for label, figure in rows:
        print(f"{label:<{width}}  {figure}")


if __name__ == "__main__":
    main()
