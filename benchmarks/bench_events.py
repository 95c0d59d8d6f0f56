"""Events client benchmark: CPU per event of this package's encoder and transport.

    python benchmarks/bench_events.py [--events 50000] [--batch 500] [--rounds 3]

Every contender posts the same events, in batches, to one local HTTP sink on 127.0.0.1 that
answers as Honeycomb does (see `_harness.py`). CPU is the sending thread's own
(`time.thread_time`), so the sink, which runs in another thread of this process, is not
counted. The table gives CPU microseconds per event, events per second of wall time, bytes on
the wire per event, peak memory per batch, and each contender's CPU as a ratio of the naive
stdlib-json sender measured in the same run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from _harness import Sink, interleaved, machine, print_table
from honeycomb_events import (
    BatchEncoder,
    BatchEvent,
    Compression,
    Encoding,
    Transport,
    resolve_settings,
)


def workload(count: int) -> list[dict[str, Any]]:
    """Events shaped like HTTP request events: a dozen fields of mixed types."""
    rng = random.Random(7)
    routes = ["/api/users/{id}", "/api/posts", "/api/comments/{id}", "/health"]
    return [
        {
            "service.name": "checkout",
            "http.method": rng.choice(["GET", "POST"]),
            "http.route": rng.choice(routes),
            "http.status_code": rng.choice([200] * 18 + [404, 500]),
            "duration_ms": round(rng.lognormvariate(3, 0.7), 3),
            "user.id": f"user-{rng.randrange(10_000)}",
            "trace.trace_id": f"{rng.getrandbits(128):032x}",
            "trace.span_id": f"{rng.getrandbits(64):016x}",
            "net.peer.ip": f"10.0.{rng.randrange(256)}.{rng.randrange(256)}",
            "cache.hit": rng.random() < 0.8,
            "db.rows": rng.randrange(100),
            "message": "handled request " + "x" * rng.randrange(40),
        }
        for _ in range(count)
    ]


def ours(url: str, encoding: Encoding, compression: Compression) -> Callable[..., None]:
    settings = resolve_settings(api_key="bench", endpoint=url)
    transport = Transport(settings, encoder=BatchEncoder(encoding, compression))

    def send(items: Sequence[dict[str, Any]]) -> None:
        now = time.time()
        results = transport.send_batch("bench", [BatchEvent(item, now) for item in items])
        assert all(result.ok for result in results)

    return send


def naive(url: str, compress: bool) -> Callable[..., None]:
    """What a straightforward hand-written sender does: stdlib json, optionally gzip."""
    client = httpx.Client()
    headers = {"X-Honeycomb-Team": "bench", "Content-Type": "application/json"}
    if compress:
        headers["Content-Encoding"] = "gzip"

    def send(items: Sequence[dict[str, Any]]) -> None:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        body = json.dumps([{"time": now, "data": item} for item in items]).encode()
        if compress:
            body = gzip.compress(body)
        client.post(f"{url}/1/batch/bench", content=body, headers=headers).raise_for_status()

    return send


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument(
        "--rounds", type=int, default=3, help="the median of this many rounds, with their spread"
    )
    args = parser.parse_args()

    sink = Sink()
    url = sink.url
    data = workload(args.events)
    contenders = {
        "naive stdlib json + httpx": naive(url, compress=False),
        "naive stdlib json + gzip": naive(url, compress=True),
        "honeycomb-events json + zstd": ours(url, Encoding.JSON, Compression.ZSTD),
        "honeycomb-events json + gzip": ours(url, Encoding.JSON, Compression.GZIP),
        "honeycomb-events msgpack + zstd": ours(url, Encoding.MSGPACK, Compression.ZSTD),
        "honeycomb-events json, none": ours(url, Encoding.JSON, Compression.NONE),
    }
    batches = [data[start : start + args.batch] for start in range(0, len(data), args.batch)]
    print(machine())
    print(
        f"{args.events} events in batches of {args.batch}, "
        f"median of {args.rounds} interleaved rounds"
    )
    try:
        outcomes = interleaved(contenders, batches, sink, args.rounds)
    finally:
        sink.shutdown()
    print_table("event", args.events, outcomes)


if __name__ == "__main__":
    main()
