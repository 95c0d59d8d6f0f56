"""``demo``: a sample workload through the client and the exporters into a receiver started in
this process, or, with ``--to-honeycomb``, the exporters' part to the configured endpoint."""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import sys
import time
from typing import TYPE_CHECKING, Any, Final, TextIO
from urllib.parse import urlencode

from honeycomb_events._client import HoneycombClient
from honeycomb_events._config import ENV_API_KEY
from honeycomb_events._errors import ConfigurationError
from honeycomb_events._model import BatchEvent
from honeycomb_events._transport import RetryPolicy

from ._common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Commands, add_command, fail, require_receiver
from ._demo_shop import (
    DEMO_METRICS_DATASET,
    DEMO_SERVICE,
    DemoWorkload,
    make_demo_exporters,
    run_otel_workload,
)

if TYPE_CHECKING:
    from honeycomb_events.receiver import Receiver

DEMO_KEY: Final = "demo-key"

_DEMO_QUERY: Final = urlencode(
    [
        ("dataset", "demo-requests"),
        ("calc", "P99(duration_ms)"),
        ("calc", "COUNT"),
        ("by", "endpoint"),
        ("since", "1h"),
    ]
)
"""The question the query page answers of the demo's requests: their p99 duration by endpoint."""


def _describe(workload: DemoWorkload) -> str:
    parts = ", ".join(
        f"{name} {stats['events_accepted']}/{stats['events_submitted']}"
        for name, stats in workload.stats.items()
    )
    return (
        f"OpenTelemetry: {len(workload.trace_ids)} traces of service {DEMO_SERVICE!r} "
        f"through the exporters; events accepted: {parts}\n"
    )


def _demo_to_honeycomb(out: TextIO, err: TextIO, seed: int) -> int:
    if not os.environ.get(ENV_API_KEY, "").strip():
        return fail(
            err,
            "demo",
            f"--to-honeycomb sends to your Honeycomb environment: set {ENV_API_KEY} to an "
            "ingest key (and HONEYCOMB_API_ENDPOINT for another region, such as "
            "https://api.eu1.honeycomb.io)",
            EXIT_USAGE,
        )
    try:
        exporters = make_demo_exporters(None, None)
    except ConfigurationError as problem:
        return fail(err, "demo", str(problem), EXIT_USAGE)
    settings = exporters[0].settings
    out.write(
        f"sending the OpenTelemetry demo to {settings.endpoint} (key from "
        f"{settings.api_key.source}), not to a local receiver\n"
    )
    out.flush()
    workload = run_otel_workload(exporters, seed)
    out.write(_describe(workload))
    out.write(
        f"datasets: {DEMO_SERVICE!r} (spans and logs) and {DEMO_METRICS_DATASET!r} (metrics)\n"
    )
    out.write(f"failing trace: trace.trace_id = {workload.failing_trace_id} in {DEMO_SERVICE!r}\n")
    if workload.failed:
        return fail(err, "demo", f"{workload.failed} events were not accepted (see above)")
    return EXIT_OK


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _wait_for_interrupt() -> None:
    """Block until Ctrl-C or SIGTERM."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _request_events(rng: random.Random, count: int) -> list[BatchEvent]:
    return [
        BatchEvent(
            {
                "endpoint": rng.choice(["/api/users", "/api/posts", "/api/comments"]),
                "method": "GET",
                "duration_ms": round(rng.lognormvariate(3, 0.6), 2),
                "status_code": rng.choice([200] * 9 + [500]),
            }
        )
        for _ in range(count)
    ]


def _run_client(
    receiver: Receiver, args: argparse.Namespace, out: TextIO
) -> tuple[bool, dict[str, Any]]:
    """A batch and a buffered sender's events through the client: whether every event was
    accepted, and the client's stats."""
    from honeycomb_events.receiver import Fault

    rng = random.Random(args.seed)
    # One injected 503 shows the retry path: the batch still lands exactly once.
    receiver.faults.push(Fault(status=503, path="batch"))
    retry = RetryPolicy(initial_backoff=0.05)
    with HoneycombClient(api_key=DEMO_KEY, endpoint=receiver.url, retry=retry) as client:
        results = client.events.send_batch("demo-requests", _request_events(rng, args.events))
        accepted = sum(result.ok for result in results)
        out.write(f"batch: {accepted}/{len(results)} accepted (after one retried 503)\n")

        with client.events.buffered("demo-logs", batch_size=50, flush_interval=0.5) as sender:
            for n in range(args.events):
                sender.send({"level": "info", "message": f"request {n} handled", "n": n})
        buffered = sender.stats
        out.write(f"buffered sender: {buffered['accepted']} accepted\n")
        stats = client.stats
    return (accepted == len(results) and buffered["failed"] == 0), stats


def _print_stored(
    receiver: Receiver, stats: dict[str, Any], workload: DemoWorkload, out: TextIO
) -> None:
    """What the receiver holds, and where to look at the failing trace."""
    for dataset in receiver.datasets():
        events = receiver.events(dataset)
        traces = {e.data["trace.trace_id"] for e in events if "trace.trace_id" in e.data}
        in_traces = f" ({len(traces)} traces)" if traces else ""
        out.write(f"dataset {dataset!r}: {len(events)} events stored{in_traces}\n")
    sample = receiver.events("demo-requests", limit=1)[0]
    out.write(f"sample event: time={sample.time} data={sample.data}\n")
    out.write(
        f"client stats: {stats['requests']} requests, {stats['events_retried']} events "
        f"retried, {stats['events_failed']} failed\n"
    )
    out.write(
        f"failing trace (a declined payment): {workload.failing_trace_id}\n"
        f"open the trace view: {receiver.url}/trace/{workload.failing_trace_id}\n"
        f"list: {receiver.url}/\n"
        f"query: {receiver.url}/query?{_DEMO_QUERY}\n"
    )


def demo(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Start a receiver in this process, send a small workload through the client and the
    OpenTelemetry exporters, report; with --to-honeycomb, send the OpenTelemetry part to the
    configured endpoint instead."""
    out = out or sys.stdout
    err = err or sys.stderr
    if args.to_honeycomb:
        return _demo_to_honeycomb(out, err, args.seed)
    require_receiver()
    from honeycomb_events.receiver import Receiver

    with Receiver() as receiver:
        out.write(f"local receiver: {receiver.url}\n")
        all_accepted, stats = _run_client(receiver, args, out)
        workload = run_otel_workload(make_demo_exporters(DEMO_KEY, receiver.url), args.seed)
        out.write(_describe(workload))
        _print_stored(receiver, stats, workload, out)
        ok = all_accepted and workload.failed == 0 and workload.accepted > 0
        if args.keep_running:
            out.write(f"the receiver keeps running at {receiver.url}; press Ctrl-C to stop\n")
            out.flush()
            _wait_for_interrupt()
            out.write("stopped\n")
        else:
            out.write("the receiver stops now: add --keep-running to keep it up for the pages\n")
        out.flush()
    return EXIT_OK if ok else EXIT_FAILED


def add_parser(commands: Commands) -> None:
    parser = add_command(
        commands,
        "demo",
        demo,
        "send a sample workload (events, traces, metrics, logs) to a local receiver",
    )
    parser.add_argument("--events", type=int, default=200, help="default: %(default)s")
    parser.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="keep the local receiver up until Ctrl-C, to open the printed pages",
    )
    parser.add_argument(
        "--to-honeycomb",
        action="store_true",
        help=f"send the OpenTelemetry part to the endpoint configured by {ENV_API_KEY} and "
        "HONEYCOMB_API_ENDPOINT instead of a local receiver",
    )
