"""Shutdown and interpreter exit finish within the configured timeout whatever the backend
does, and with a spool nothing that could not be sent is lost."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest

from honeycomb_events._spool import Spool
from honeycomb_events.receiver import Fault, Receiver

from .conftest import API_KEY

EXPORT_TIMEOUT = 2.0


@pytest.fixture(params=["stalled", "half-open", "down"])
def bad_backend(request, receiver: Receiver, closed_port: int) -> Iterator[str]:
    """The URL of a backend that never answers in time: a receiver stalling every request, a
    socket that accepts connections and never reads them, or nothing listening at all."""
    if request.param == "stalled":
        receiver.faults.push(Fault(delay=30.0, times=1000))
        yield receiver.url
    elif request.param == "half-open":
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(64)  # the kernel completes handshakes; nobody ever reads
            yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    else:
        yield f"http://127.0.0.1:{closed_port}"


PROGRAM = textwrap.dedent(
    """
    import sys
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from honeycomb_events.otel import HoneycombEventsExporter

    provider = TracerProvider(resource=Resource.create({"service.name": "exit"}))
    exporter = HoneycombEventsExporter(timeout=float(sys.argv[1]))
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=60_000))
    tracer = provider.get_tracer("exit")
    for n in range(300):
        with tracer.start_as_current_span(f"span {n}"):
            pass
    # No shutdown call: the SDK's exit hook flushes the processor, then shuts it down.
    """
)


def test_interpreter_exit_finishes_in_time_and_spools_what_it_could_not_send(bad_backend, tmp_path):
    spool_dir = tmp_path / "spool"
    environ = {
        "HONEYCOMB_API_KEY": API_KEY,
        "HONEYCOMB_API_ENDPOINT": bad_backend,
        "HONEYCOMB_SPOOL_DIR": str(spool_dir),
        "PATH": "/usr/bin:/bin",
    }
    began = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(EXPORT_TIMEOUT)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    took = time.monotonic() - began
    assert completed.returncode == 0, completed.stderr
    # The exit flush waits for at most one export's timeout (plus interpreter start-up).
    assert took < EXPORT_TIMEOUT + 8, f"exit took {took:.1f} s"
    spooled = sum(len(lease.events) for lease in Spool(spool_dir).leases())
    assert spooled == 300
    assert API_KEY not in completed.stderr
