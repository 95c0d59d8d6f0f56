"""The ``honeycomb-events`` command: a local receiver, tools to send, query and check, and a
demo that needs no account.

Exit statuses: 0 success; 1 a failure at run time (events not accepted, a bad input line, a
rejected key, an unreachable endpoint); 2 nothing was attempted because of the command line or
the configuration (argparse's own errors, a missing key, a file that cannot be opened).

Each command lives in a module of its own that adds its sub-parser (``add_parser``); this
module assembles them and re-exports what tests and tools use.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from honeycomb_events._version import __version__

from . import _check, _demo, _query, _send, _serve
from ._check import check
from ._common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, PROG, value_text
from ._demo import DEMO_KEY, demo
from ._demo_shop import (
    DEMO_METRICS_DATASET,
    DEMO_SERVICE,
    DemoWorkload,
    PaymentDeclinedError,
    make_demo_exporters,
    run_otel_workload,
)
from ._query import parse_time_ns, query
from ._send import (
    MAX_BAD_LINES_SHOWN,
    PROGRESS_EVERY_LINES,
    PROGRESS_MIN_BYTES,
    BadLine,
    parse_event_line,
    send,
)
from ._serve import DEFAULT_PORT, ENV_RECEIVER_ALLOWED_HOSTS, ENV_RECEIVER_API_KEYS, serve
from ._table import TABLE_CELL_WIDTH, TABLE_COLUMNS, Row, choose_columns, render_table

_Row = Row
"""The name `Row` had while the command line was one module, which tests still import."""

__all__ = [
    "DEFAULT_PORT",
    "DEMO_KEY",
    "DEMO_METRICS_DATASET",
    "DEMO_SERVICE",
    "ENV_RECEIVER_ALLOWED_HOSTS",
    "ENV_RECEIVER_API_KEYS",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "MAX_BAD_LINES_SHOWN",
    "PROG",
    "PROGRESS_EVERY_LINES",
    "PROGRESS_MIN_BYTES",
    "TABLE_CELL_WIDTH",
    "TABLE_COLUMNS",
    "BadLine",
    "DemoWorkload",
    "PaymentDeclinedError",
    "Row",
    "build_parser",
    "check",
    "choose_columns",
    "demo",
    "main",
    "make_demo_exporters",
    "parse_event_line",
    "parse_time_ns",
    "query",
    "render_table",
    "run_otel_workload",
    "send",
    "serve",
    "value_text",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Send events to Honeycomb's Events API, or receive them locally.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in (_serve, _query, _send, _check, _demo):
        command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except BrokenPipeError:
        # Output piped into `head` and the like: stop quietly, as other tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED
