"""A bounded soak: spans flow through the exporter while the backend has a bad minute.

The application thread makes spans at a steady rate through a `BatchSpanProcessor` while the
local receiver goes through: healthy, a 429 storm, 503s, 5-second stalls, dropped connections,
down entirely (stopped, then started again on the same port and store), per-event failures,
and healthy again. With a spool, every span must then be stored exactly once, the application
thread must never have waited long, memory must stay bounded and the counters must add up.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from pathlib import Path

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from honeycomb_events import RetryPolicy
from honeycomb_events.otel import HoneycombEventsExporter
from honeycomb_events.receiver import EventStore, Fault, Receiver

from .conftest import API_KEY

SPANS_PER_SECOND = 150
PHASE_SECONDS = 5.0


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class Backend:
    """The receiver, stopped and started again on the same port and store."""

    def __init__(self) -> None:
        self.store = EventStore()
        self.receiver = Receiver(store=self.store).start()
        self.port = self.receiver.port

    def go_down(self) -> None:
        self.receiver.stop()

    def come_back(self) -> None:
        self.receiver = Receiver(store=self.store, port=self.port).start()

    def close(self) -> None:
        self.receiver.stop()
        self.store.close()


def test_every_span_is_stored_exactly_once_through_a_bad_minute(tmp_path, monkeypatch):
    monkeypatch.setenv("HONEYCOMB_SPOOL_DIR", str(tmp_path / "spool"))
    backend = Backend()
    exporter = HoneycombEventsExporter(
        api_key=API_KEY,
        endpoint=backend.receiver.url,
        timeout=8,  # longer than a stall: a stalled request is answered, not abandoned
        retry=RetryPolicy(max_attempts=4, initial_backoff=0.05, max_backoff=0.5),
    )
    provider = TracerProvider(resource=Resource.create({"service.name": "soak"}))
    processor = BatchSpanProcessor(
        exporter, max_queue_size=8192, max_export_batch_size=256, schedule_delay_millis=200
    )
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("soak")

    made = 0
    waits: list[float] = []
    rss_before = rss_bytes()
    rss_peak = rss_before

    def make_spans_for(seconds: float) -> None:
        nonlocal made, rss_peak
        ends = time.monotonic() + seconds
        while time.monotonic() < ends:
            span = tracer.start_span(f"work {made}")
            span.set_attributes({"n": made, "route": "/api/items", "ok": made % 7 != 0})
            began = time.perf_counter()
            span.end()
            waits.append(time.perf_counter() - began)
            made += 1
            if made % 500 == 0:
                rss_peak = max(rss_peak, rss_bytes())
            time.sleep(1 / SPANS_PER_SECOND)

    faults = backend.receiver.faults
    phases = [
        ("healthy", lambda: None),
        ("429 storm", lambda: faults.push(Fault(status=429, times=10_000))),
        ("503s", lambda: faults.push(Fault(status=503, times=10_000))),
        ("5-second stalls", lambda: faults.push(Fault(delay=5.0, times=2))),
        ("connection resets", lambda: faults.push(Fault(drop_connection=True, times=10_000))),
        ("down", backend.go_down),
        (
            "per-event failures",
            lambda: faults.push(Fault(event_statuses=(202, 503, 429), times=10_000)),
        ),
        ("healthy again", lambda: None),
    ]
    try:
        for name, start_phase in phases:
            if name == "per-event failures":
                backend.come_back()
                faults = backend.receiver.faults
            faults.clear()
            start_phase()
            make_spans_for(PHASE_SECONDS)
        faults.clear()
        make_spans_for(2.0)
        assert processor.force_flush(30_000)
        # The spool is drained by the next accepted batch or a flush of the exporter.
        deadline = time.monotonic() + 60
        while not exporter.force_flush(10_000) and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        provider.shutdown()

    try:
        stored = backend.store.events("soak")
        span_numbers = Counter(event.data["n"] for event in stored)
        assert len(span_numbers) == made, "spans lost"
        assert max(span_numbers.values()) == 1, "spans stored twice"
        assert len(stored) == made

        stats = exporter.stats
        assert stats["events_accepted"] == made, stats
        assert stats["events_spooled"] == stats["events_unspooled"] > 0, stats
        assert stats["events_dropped_spool_full"] == stats["events_dropped_expired"] == 0
        assert list((tmp_path / "spool").iterdir()) == []

        # The application thread only queued spans: it never waited on the network.
        waits.sort()
        print(  # the figures docs/reliability.md quotes (pytest -s shows them)
            f"soak: {made} spans, {stats['events_spooled']} spooled and resent, "
            f"end() median {statistics.median(waits) * 1e6:.0f} µs, "
            f"p99 {waits[int(len(waits) * 0.99)] * 1e6:.0f} µs, max {waits[-1] * 1e3:.1f} ms, "
            f"RSS growth {(rss_peak - rss_before) / 2**20:.1f} MiB, "
            f"{stats['requests']} requests, {stats['failed_by_status']}"
        )
        assert statistics.median(waits) < 0.001
        assert waits[int(len(waits) * 0.99)] < 0.005
        assert waits[-1] < 0.1, f"span.end() once took {waits[-1] * 1000:.1f} ms"
        assert rss_peak - rss_before < 100 * 1024 * 1024
    finally:
        backend.close()
