"""Shutdown and interpreter exit finish within 2 s of the application's end whatever the
backend does and whatever HONEYCOMB_TIMEOUT says, and with a spool nothing that could not be
sent is lost."""

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

EXPORT_TIMEOUT = 30.0  # patience for answers, which must not hold up the exit
EXIT_BOUND = 2.0


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
    import time
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
    print(time.time(), flush=True)
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
    completed = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(EXPORT_TIMEOUT)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    took = time.time() - float(completed.stdout)
    assert completed.returncode == 0, completed.stderr
    assert took < EXIT_BOUND, f"the exit took {took:.2f} s after the application's end"
    spooled = sum(len(lease.events) for lease in Spool(spool_dir).leases())
    assert spooled == 300
    assert API_KEY not in completed.stderr
    # One line says where they wait (and nothing else goes to stderr but notices).
    exit_lines = [line for line in completed.stderr.splitlines() if "at shutdown" in line]
    assert len(exit_lines) == 1, completed.stderr
    assert f"the spool in {spool_dir} holds 1 batch for the next process" in exit_lines[0]
    assert "Traceback" not in completed.stderr
