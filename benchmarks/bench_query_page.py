"""The query page, ``GET /query``, against the query endpoint it draws, on a large database.

    python benchmarks/bench_query_page.py [--events 1000000] [--db PATH]

Fills an SQLite file with `--events` events of one dataset spread over the last hour (ten
routes, each with its own latency, one in fifty failing), serves it with ``honeycomb-events
serve --db`` in a subprocess and times, on 127.0.0.1, each query as JSON
(``POST /_receiver/query/<dataset>``, the engine alone) and as the page (``GET /query``, the
engine, the matching events listed and the drawing): the first request and the best of five.
The page's size is printed beside it. ``--db`` keeps the file, or measures one made before
(whose hour has passed: it then holds fewer events of the last hour).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

from _harness import machine
from bench_receiver_pages import BATCH, Event, _serve
from honeycomb_events.receiver import EventStore

DATASET = "shop"
ROUTES = tuple(f"/route/{n}" for n in range(10))
QUERIES: dict[str, list[tuple[str, str]]] = {
    "P99(duration_ms), COUNT by http.route, 1 h": [
        ("calc", "P99(duration_ms)"),
        ("calc", "COUNT"),
        ("by", "http.route"),
    ],
    "+ HEATMAP(duration_ms)": [
        ("calc", "P99(duration_ms)"),
        ("calc", "COUNT"),
        ("calc", "HEATMAP(duration_ms)"),
        ("by", "http.route"),
    ],
    "one route (a row's link)": [
        ("calc", "P99(duration_ms)"),
        ("calc", "COUNT"),
        ("by", "http.route"),
        ("where", "http.route=/route/3"),
    ],
}


def populate(path: Path, count: int) -> None:
    rng = random.Random(19)
    now = time.time_ns()
    step = 3600 * 10**9 // max(count, 1)
    with EventStore(path) as store:
        batch = []
        for number in range(count):
            route = number % len(ROUTES)
            data = {
                "http.route": ROUTES[route],
                "duration_ms": round(rng.lognormvariate(2 + route * 0.2, 0.5), 3),
                "status_code": 500 if number % 50 == 0 else 200,
                "trace.trace_id": f"{number:032x}",
                "trace.span_id": f"{number:016x}",
                "name": f"GET {ROUTES[route]}",
            }
            batch.append(Event(now - 3600 * 10**9 + number * step, 1, data))
            if len(batch) >= BATCH:
                store.add(DATASET, batch)
                batch = []
        if batch:
            store.add(DATASET, batch)


def _spec(pairs: list[tuple[str, str]]) -> dict[str, object]:
    """The query as Honeycomb's JSON, for the endpoint."""
    calcs = []
    for name, text in pairs:
        if name == "calc":
            op, _, column = text.rstrip(")").partition("(")
            calcs.append({"op": op, "column": column} if column else {"op": op})
    filters = [
        {"column": text.split("=")[0], "op": "=", "value": text.split("=")[1]}
        for name, text in pairs
        if name == "where"
    ]
    breakdowns = [text for name, text in pairs if name == "by"]
    spec = {"calculations": calcs, "filters": filters, "breakdowns": breakdowns}
    return {**spec, "time_range": 3600}


def _times(request: object) -> tuple[float, float, int]:
    """The first and the best of five times, and the answer's size."""
    times, size = [], 0
    for _ in range(6):
        started = time.perf_counter()
        response = request()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
        response.raise_for_status()
        size = len(response.content)
    return times[0], min(times[1:]), size


def measure(path: Path) -> list[tuple[str, str, str, str]]:
    process, url = _serve(path)
    rows = []
    try:
        with httpx.Client(base_url=url, timeout=120) as http:
            for what, pairs in QUERIES.items():
                body = _spec(pairs)
                first, best, size = _times(
                    lambda body=body: http.post(f"/_receiver/query/{DATASET}", json=body)
                )
                rows.append((f"JSON  {what}", f"{first:.3f}", f"{best:.3f}", f"{size:,}"))
                page = "/query?" + urlencode([("dataset", DATASET), *pairs, ("since", "1h")])
                first, best, size = _times(lambda page=page: http.get(page))
                rows.append((f"page  {what}", f"{first:.3f}", f"{best:.3f}", f"{size:,}"))
    finally:
        process.terminate()
        process.wait()
    return rows


def main() -> None:
    options = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    options.add_argument("--events", type=int, default=1_000_000, help="events to store")
    options.add_argument("--db", type=Path, help="measure this file, made first if missing")
    args = options.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        path = args.db or Path(directory) / "events.sqlite3"
        if not path.exists():
            started = time.perf_counter()
            populate(path, args.events)
            print(f"populated {args.events:,} events in {time.perf_counter() - started:.1f} s")
        rows = measure(path)
    print(machine())
    print(f"{'what':52} {'first s':>8} {'best s':>8} {'bytes':>10}")
    for what, first, best, size in rows:
        print(f"{what:52} {first:>8} {best:>8} {size:>10}")


if __name__ == "__main__":
    main()
