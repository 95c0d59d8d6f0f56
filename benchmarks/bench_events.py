"""Events client benchmark: CPU per event of this package's events client.

    python benchmarks/bench_events.py [--events 50000] [--batch 500] [--rounds 3]

Every contender posts the same events, in batches, to one local HTTP sink on 127.0.0.1 that
answers as Honeycomb does (see `_harness.py`). CPU is the sending thread's own
(`time.thread_time`), and the buffered sender's worker's, so the sink, which runs in another
thread of this process, is not counted. The contenders are grouped by their size on the wire,
each group against the naive stdlib-json sender of that size: its table gives CPU microseconds
per event (median round and spread), events per second of wall time, bytes on the wire per
event, peak memory per batch, and each contender's CPU as a ratio of that naive sender's,
measured in the same interleaved rounds.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from _harness import Export, Sink, interleaved, machine, print_table
from honeycomb_events import BatchEvent, Compression, Encoding, EventResult, HoneycombClient


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


def _all_accepted(results: Sequence[EventResult]) -> bool:
    """Whether Honeycomb took every event. One C-level count (identity first: an accepted
    batch's results are one shared object) and one property: checking, which the naive
    sender does not do per event, is not what is measured."""
    return bool(results) and results.count(results[0]) == len(results) and results[0].ok


def ours(url: str, encoding: Encoding, compression: Compression) -> Callable[..., None]:
    """`client.events.send_batch`: events stamped with one float time each, as a caller's."""
    client = HoneycombClient("bench", url, sync=True, encoding=encoding, compression=compression)

    def send(items: Sequence[dict[str, Any]]) -> None:
        now = time.time()
        results = client.events.send_batch("bench", [BatchEvent(item, now) for item in items])
        assert _all_accepted(results)

    return send


def buffered(url: str, batch: int) -> Callable[..., None]:
    """`client.events.buffered`: each event queued with `send()`, the batch flushed, from the
    worker thread, whose CPU counts too (it is named ``honeycomb-events-sender-*``)."""
    client = HoneycombClient("bench", url, sync=True, compression=Compression.NONE)
    sender = client.events.buffered("bench", batch_size=batch, max_queue_size=batch)

    def send(items: Sequence[dict[str, Any]]) -> None:
        now = time.time()
        for item in items:
            assert sender.send(item, now)
        assert sender.flush(timeout=60)
        assert sender.stats["failed"] == 0

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


class NaiveBuffered:
    """What a straightforward hand-written buffered sender does, as the client documentation's
    `ProductionEventSender` sketches it: `send()` appends to a list under a lock, a worker
    thread posts the list with stdlib json once `batch` events wait or on `flush()`. No
    bounds, checks, limits or results. Its worker is named ``honeycomb-events-*`` so that the
    harness counts its CPU, as it counts the buffered sender's."""

    def __init__(self, url: str, batch: int) -> None:
        self.url = f"{url}/1/batch/bench"
        self.batch = batch
        self.client = httpx.Client()
        self.headers = {"X-Honeycomb-Team": "bench", "Content-Type": "application/json"}
        self.cond = threading.Condition()
        self.events: list[dict[str, Any]] = []
        self.queued = self.sent = 0
        self.flushing = False
        self.stamp: tuple[float, str] = (0.0, "")
        threading.Thread(target=self._run, name="honeycomb-events-bench-naive", daemon=True).start()

    def send(self, data: dict[str, Any], timestamp: float) -> None:
        # A time text per event, as a per-event API needs; kept for the next event of the
        # same second, which flatters the naive sender.
        if self.stamp[0] != timestamp:
            moment = datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc)
            self.stamp = (timestamp, moment.isoformat())
        with self.cond:
            self.events.append({"time": self.stamp[1], "data": data})
            self.queued += 1
            if len(self.events) >= self.batch:
                self.cond.notify_all()

    def flush(self) -> None:
        with self.cond:
            self.flushing = True
            self.cond.notify_all()
            self.cond.wait_for(lambda: self.sent >= self.queued)

    def _run(self) -> None:
        while True:
            with self.cond:
                self.cond.wait_for(
                    lambda: len(self.events) >= self.batch or (self.flushing and self.events)
                )
                events, self.events = self.events, []
            body = json.dumps(events).encode()
            self.client.post(self.url, content=body, headers=self.headers).raise_for_status()
            with self.cond:
                self.sent += len(events)
                self.flushing = self.sent < self.queued
                self.cond.notify_all()


def naive_buffered(url: str, batch: int) -> Callable[..., None]:
    sender = NaiveBuffered(url, batch)

    def send(items: Sequence[dict[str, Any]]) -> None:
        now = time.time()
        for item in items:
            sender.send(item, now)
        sender.flush()

    return send


def groups(url: str, batch: int) -> dict[str, dict[str, Export]]:
    """The contenders by wire size and shape, each group's naive sender first: its baseline.
    The buffered sender is one contender, shown in two groups."""
    ours_buffered = buffered(url, batch)
    return {
        "No compression, about 400 bytes an event on the wire": {
            "naive stdlib json + httpx": naive(url, compress=False),
            "honeycomb-events json, none": ours(url, Encoding.JSON, Compression.NONE),
            "honeycomb-events buffered, none": ours_buffered,
        },
        "Queued one by one, sent from a worker thread, no compression": {
            "naive buffered, stdlib json + httpx": naive_buffered(url, batch),
            "honeycomb-events buffered, none": ours_buffered,
        },
        "Compressed, about 50-70 bytes an event on the wire": {
            "naive stdlib json + gzip": naive(url, compress=True),
            "honeycomb-events json + zstd": ours(url, Encoding.JSON, Compression.ZSTD),
            "honeycomb-events json + gzip": ours(url, Encoding.JSON, Compression.GZIP),
            "honeycomb-events msgpack + zstd": ours(url, Encoding.MSGPACK, Compression.ZSTD),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument(
        "--rounds", type=int, default=3, help="the median of this many rounds, with their spread"
    )
    args = parser.parse_args()

    sink = Sink()
    data = workload(args.events)
    grouped = groups(sink.url, args.batch)
    batches = [data[start : start + args.batch] for start in range(0, len(data), args.batch)]
    print(machine())
    print(
        f"{args.events} events in batches of {args.batch}, "
        f"median of {args.rounds} interleaved rounds"
    )
    contenders = {name: send for group in grouped.values() for name, send in group.items()}
    try:
        outcomes = {
            outcome.name: outcome for outcome in interleaved(contenders, batches, sink, args.rounds)
        }
    finally:
        sink.shutdown()
    for title, group in grouped.items():
        print(f"\n{title}: CPU ratio against the naive sender of the same size")
        print_table("event", args.events, [outcomes[name] for name in group])


if __name__ == "__main__":
    main()
