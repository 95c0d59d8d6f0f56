"""A bad minute at 1,000 spans/s: an outage costs disk, not spans (reliability.md).

Two application processes (tests/soak_worker.py) each make 1,000 spans a second through the
SDK's defaults (`BatchSpanProcessor`: a queue of 2,048, batches of 512) and the exporter, both
spooling to one directory, while the local receiver goes through: healthy, a 429 storm, 503s,
5-second stalls that end in a dropped connection, connection resets, down, per-event 503s,
healthy again; and at the processes' exit, a half-open server that accepts connections and never
answers. Afterwards the backend is healthy and a third exporter drains the shared spool.

Every span must then be stored exactly once; `span.end()` must never have waited; `export()`
must not have waited on the failing backend; each exit must have taken at most about 2 s; and
memory must have stayed bounded.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from honeycomb_events.otel import HoneycombEventsExporter
from honeycomb_events.receiver import EventStore, Fault, Receiver

from .conftest import API_KEY

RATE = 1_000
WORKER = Path(__file__).with_name("soak_worker.py")
# (phase, seconds): the processes' whole run is the sum; their exit falls in the last phase.
PHASES = [
    ("healthy", 6.0),
    ("429 storm", 7.0),
    ("503s", 7.0),
    ("5-second stalls, then a dropped connection", 11.0),
    ("connection resets", 6.0),
    ("down", 8.0),
    ("per-event 503s", 6.0),
    ("healthy again", 8.0),
    ("half-open at exit", 3.0),
]
FAILING = {
    "429 storm",
    "503s",
    "5-second stalls, then a dropped connection",
    "connection resets",
    "down",
    "per-event 503s",
}


class Backend:
    """The receiver on one port and store: stopped, started again, or a half-open socket."""

    def __init__(self) -> None:
        self.store = EventStore()
        self.receiver: Receiver | None = Receiver(store=self.store).start()
        self.port = self.receiver.port
        self.url = self.receiver.url
        self._half_open: socket.socket | None = None

    def faults(self, *faults: Fault) -> None:
        assert self.receiver is not None
        self.receiver.faults.clear()
        self.receiver.faults.push(*faults)

    def go_down(self) -> None:
        if self.receiver is not None:
            self.receiver.stop()
            self.receiver = None

    def come_back(self) -> None:
        self.close_half_open()
        if self.receiver is None:
            self.receiver = Receiver(store=self.store, port=self.port).start()

    def go_half_open(self) -> None:
        """A server that accepts connections (the kernel completes the handshake) and never
        reads or answers."""
        self.go_down()
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._half_open = listener

    def close_half_open(self) -> None:
        if self._half_open is not None:
            self._half_open.close()
            self._half_open = None

    def close(self) -> None:
        self.close_half_open()
        self.go_down()
        self.store.close()


def run_phase(backend: Backend, name: str) -> None:
    if name in ("healthy", "healthy again"):
        backend.come_back()
        backend.faults()
    elif name == "429 storm":
        backend.faults(Fault(status=429, times=1_000_000))
    elif name == "503s":
        backend.faults(Fault(status=503, times=1_000_000))
    elif name.startswith("5-second stalls"):
        backend.faults(Fault(delay=5.0, drop_connection=True, times=1_000_000))
    elif name == "connection resets":
        backend.faults(Fault(drop_connection=True, times=1_000_000))
    elif name == "down":
        backend.go_down()
    elif name == "per-event 503s":
        backend.come_back()
        backend.faults(Fault(event_statuses=(202, 503), times=1_000_000))
    elif name == "half-open at exit":
        backend.go_half_open()


def test_an_outage_costs_disk_not_spans(tmp_path, monkeypatch):
    backend = Backend()
    spool = tmp_path / "spool"
    monkeypatch.setenv("HONEYCOMB_SPOOL_DIR", str(spool))  # for the drainer, at the end
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("HONEYCOMB_", "OTEL_"))},
        "HONEYCOMB_API_KEY": API_KEY,
        "HONEYCOMB_API_ENDPOINT": backend.url,
        "HONEYCOMB_SPOOL_DIR": str(spool),
    }
    seconds = sum(length for _, length in PHASES)
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), "--name", name, "--rate", str(RATE), "--seconds",
             str(seconds)],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]  # fmt: skip
    windows: list[tuple[str, float, float]] = []
    try:
        ends_at = time.time()
        for name, length in PHASES:
            started = time.time()
            run_phase(backend, name)
            ends_at += length
            time.sleep(max(0.0, ends_at - time.time()))
            windows.append((name, started, time.time()))
        outputs = [worker.communicate(timeout=60) for worker in workers]
        reports = [json.loads(stdout) for stdout, _ in outputs]

        # The backend is well again: what the processes spooled reaches it.
        backend.come_back()
        backend.faults()
        drainer = HoneycombEventsExporter(api_key=API_KEY, endpoint=backend.url)
        deadline = time.monotonic() + 30
        while not drainer.force_flush(10_000) and time.monotonic() < deadline:
            time.sleep(0.2)
        drainer.shutdown()
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()

    try:
        stored = Counter(
            (event.data["process"], event.data["n"]) for event in backend.store.events("soak")
        )
        for report in reports:
            name, made = report["name"], report["made"]
            mine = {n for (process, n) in stored if process == name}
            print(  # the figures reliability.md quotes (pytest -s shows them)
                f"soak {name}: {made} spans made, {made - len(mine)} lost, "
                f"{sum(count - 1 for (p, _), count in stored.items() if p == name)} duplicated; "
                f"end() p99 {report['end_p99'] * 1e3:.2f} ms, "
                f"export() p99 while failing {failing_p99(report, windows) * 1e3:.1f} ms, "
                f"exit {report['exit_seconds']:.2f} s, "
                f"RSS +{report['rss_growth'] / 2**20:.0f} MiB, "
                f"{report['stats']}"
            )
            assert made >= RATE * (seconds - 10), "the process could not keep the rate"
            assert len(mine) == made, f"{made - len(mine)} spans of {name} lost"
        assert max(stored.values()) == 1, "spans stored twice"
        assert sum(1 for _ in spool.glob("*.batch")) == 0
        for report in reports:
            assert report["end_p99"] < 0.005
            assert failing_p99(report, windows) < 0.05
            assert report["exit_seconds"] < 2.0
            assert report["rss_growth"] < 200 * 2**20
    finally:
        backend.close()


def failing_p99(report: dict, windows: list[tuple[str, float, float]]) -> float:
    """The 99th percentile of the process's `export()` durations that began while the
    backend was failing."""
    durations = sorted(
        seconds
        for started, seconds, _ in report["exports"]
        if any(name in FAILING and start <= started < end for name, start, end in windows)
    )
    return durations[int(len(durations) * 0.99)] if durations else 0.0
