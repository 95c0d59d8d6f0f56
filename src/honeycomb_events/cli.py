"""The ``honeycomb-events`` command: a local receiver and a demo that needs no account."""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence
from typing import TextIO

from ._client import HoneycombClient
from ._model import BatchEvent
from ._transport import RetryPolicy
from ._version import __version__

DEFAULT_PORT = 8086


def _require_receiver() -> None:
    """Exit with the install hint when the ``receiver`` extra is missing."""
    try:
        from . import receiver  # noqa: F401
    except ImportError as error:
        raise SystemExit(f"honeycomb-events: {error}") from None


def serve(args: argparse.Namespace) -> int:
    """Run the Events-API-compatible receiver in the foreground until interrupted."""
    _require_receiver()
    import uvicorn

    from .receiver import EventStore, create_app

    store = EventStore(args.db)
    app = create_app(store, api_keys=args.api_key or None)
    where = args.db or "memory (lost on exit; use --db to keep events)"
    print(f"honeycomb-events {__version__} receiver on http://{args.host}:{args.port}")
    print(f"storing events in {where}")
    print(f"send with: HONEYCOMB_API_ENDPOINT=http://{args.host}:{args.port}")
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", lifespan="off")
    finally:
        store.close()
    return 0


def demo(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Start a receiver in this process, send a small workload through the client, report."""
    _require_receiver()
    from .receiver import Fault, Receiver

    rng = random.Random(args.seed)
    with Receiver() as receiver:
        out.write(f"local receiver: {receiver.url}\n")
        # One injected 503 shows the retry path: the batch still lands exactly once.
        receiver.faults.push(Fault(status=503, path="batch"))
        retry = RetryPolicy(initial_backoff=0.05)
        with HoneycombClient(api_key="demo-key", endpoint=receiver.url, retry=retry) as client:
            batch = [
                BatchEvent(
                    {
                        "endpoint": rng.choice(["/api/users", "/api/posts", "/api/comments"]),
                        "method": "GET",
                        "duration_ms": round(rng.lognormvariate(3, 0.6), 2),
                        "status_code": rng.choice([200] * 9 + [500]),
                    }
                )
                for _ in range(args.events)
            ]
            results = client.events.send_batch("demo-requests", batch)
            accepted = sum(result.ok for result in results)
            out.write(f"batch: {accepted}/{len(results)} accepted (after one retried 503)\n")

            with client.events.buffered("demo-logs", batch_size=50, flush_interval=0.5) as sender:
                for n in range(args.events):
                    sender.send({"level": "info", "message": f"request {n} handled", "n": n})
            out.write(f"buffered sender: {sender.stats['accepted']} accepted\n")
            stats = client.stats

        for dataset in receiver.datasets():
            out.write(f"dataset {dataset!r}: {len(receiver.events(dataset))} events stored\n")
        sample = receiver.events("demo-requests", limit=1)[0]
        out.write(f"sample event: time={sample.time} data={sample.data}\n")
        out.write(
            f"client stats: {stats['requests']} requests, {stats['events_retried']} events "
            f"retried, {stats['events_failed']} failed\n"
        )
    return 0 if accepted == len(results) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="honeycomb-events",
        description="Send events to Honeycomb's Events API, or receive them locally.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve_parser = commands.add_parser("serve", help="run a local Events API receiver")
    serve_parser.add_argument("--host", default="127.0.0.1", help="default: %(default)s")
    serve_parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="default: %(default)s")
    serve_parser.add_argument("--db", help="SQLite file to keep events in (default: memory)")
    serve_parser.add_argument(
        "--api-key",
        action="append",
        help="accept only this key (repeatable; default: any non-blank key)",
    )
    serve_parser.set_defaults(run=serve)

    demo_parser = commands.add_parser("demo", help="send a sample workload to a local receiver")
    demo_parser.add_argument("--events", type=int, default=200, help="default: %(default)s")
    demo_parser.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    demo_parser.set_defaults(run=demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
