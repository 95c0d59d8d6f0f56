"""The query page, ``GET /query``, against the query endpoint it draws, on the database of
`bench_receiver_query`.

    python benchmarks/bench_query_page.py [--events 1000000] [--spread 3600] [--db PATH]

Fills an SQLite file as `bench_receiver_query` does (spans of 20 fields, 20 routes, four
services, spread over the `--spread` seconds before now: by default every one in the last
hour), serves it with ``honeycomb-events serve --db`` in a subprocess and times, on 127.0.0.1,
each query as JSON (``POST /_receiver/query/<dataset>``, the engine alone) and as the page
(``GET /query``: the engine, the first matching events and the drawing): the first request and
the best of five. The answer's size is printed beside it. ``--db`` keeps the file, or measures
one made before (whose hour has passed: it then holds fewer events of the last hour).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

from _harness import machine
from bench_receiver_pages import serve_database
from bench_receiver_query import DATASET, populate

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
        ("where", "http.route=/api/v1/reports"),
    ],
}


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
    process, url = serve_database(path)
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
    options.add_argument("--spread", type=int, default=3600, help="seconds (default: an hour)")
    options.add_argument("--db", type=Path, help="measure this file, made first if missing")
    args = options.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        path = args.db or Path(directory) / "events.sqlite3"
        if not path.exists():
            took = populate(path, args.events, args.spread)
            print(f"populated {args.events:,} events in {took:.1f} s")
        rows = measure(path)
    print(machine())
    print(f"{'what':52} {'first s':>8} {'best s':>8} {'bytes':>10}")
    for what, first, best, size in rows:
        print(f"{what:52} {first:>8} {best:>8} {size:>10}")


if __name__ == "__main__":
    main()
