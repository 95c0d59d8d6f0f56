"""``query``: a dataset's events, or a query's groups (`_query_groups`), from a receiver's
database or a running receiver (`_query_source`)."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from honeycomb_events._query_json import EventsRequest
from honeycomb_events._query_spec import DEFAULT_LIMIT
from honeycomb_events._query_text import parse_filter

from ._common import (
    EXIT_OK,
    EXIT_USAGE,
    JSON_ESCAPES,
    PROG,
    CommandError,
    Commands,
    add_command,
    error,
    fail,
    json_encoder,
)
from ._query_groups import add_group_options, add_repeatable, query_groups
from ._query_source import (
    ReceiverClient,
    key_help,
    open_database,
    parse_time_ns,
    term_argument,
    time_argument,
    unknown_dataset,
)
from ._serve import DEFAULT_PORT
from ._table import TABLE_COLUMNS, Row, choose_columns, render_table

__all__ = ["parse_time_ns", "query"]


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    return value


def _rows_from_db(args: argparse.Namespace) -> tuple[list[Row], list[str]]:
    with open_database(args.db) as store:
        events = store.events(
            args.dataset,
            since_ns=args.since,
            until_ns=args.until,
            limit=args.limit,
            filters=args.where,
            any_filter=args.any,
        )
        known = store.datasets()
    return [Row(e.time, e.samplerate, e.data) for e in events], known


def _rows_from_url(args: argparse.Namespace) -> tuple[list[Row], list[str]]:
    client = ReceiverClient(args)
    if args.where:
        wanted = EventsRequest(tuple(args.where), args.any, args.since, args.until, args.limit)
        path = client.dataset_path("/_receiver/query", args.dataset, "/events")
        status, items = client.request("POST", path, body=wanted.to_json(), accept=(200, 404))
        items = items if status == 200 else []
    else:
        window = {"since_ns": args.since, "until_ns": args.until, "limit": args.limit}
        params = {name: str(value) for name, value in window.items() if value is not None}
        path = client.dataset_path("/_receiver/events", args.dataset)
        _, items = client.request("GET", path, params=params)
    if not isinstance(items, list):
        raise CommandError(
            f"{client.base} answered with an unexpected shape: is it a {PROG} receiver?"
        )
    rows = [
        Row(str(item.get("time")), int(item.get("samplerate") or 1), item.get("data") or {})
        for item in items
        if isinstance(item, dict)
    ]
    return rows, client.datasets()


def _write_rows(args: argparse.Namespace, rows: list[Row], out: TextIO, err: TextIO) -> None:
    if args.format == "jsonl":
        for row in rows:
            line = {"time": row.time, "samplerate": row.samplerate, "data": row.data}
            out.write(json_encoder.encode(line).decode("utf-8").translate(JSON_ESCAPES) + "\n")
        return
    if args.fields:
        columns = [name.strip() for name in args.fields.split(",") if name.strip()]
    else:
        columns = choose_columns(rows)
    for text in render_table(rows, columns):
        out.write(text + "\n")
    hidden = {name for row in rows for name in row.data} - set(columns)
    if hidden and not args.fields:
        error(
            err,
            "query",
            f"{len(rows)} events; {len(hidden)} more fields not shown "
            "(--fields a,b,c to choose them, --format jsonl for all)",
        )


def query(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Print a dataset's events, or a query's groups with ``--calc`` or ``--by``, from a
    SQLite file written by ``serve --db``, or from a running receiver."""
    out = out or sys.stdout
    err = err or sys.stderr
    if args.db is None and args.url is None:
        return fail(
            err,
            "query",
            "say where the events are: --db FILE (a database written by "
            f"`{PROG} serve --db FILE`) or --url URL (a running receiver, such as "
            f"http://127.0.0.1:{DEFAULT_PORT})",
            EXIT_USAGE,
        )
    if args.calc or args.by:
        return query_groups(args, out, err)
    if args.order or args.granularity is not None:
        return fail(err, "query", "--order and --granularity need --calc or --by", EXIT_USAGE)
    return _list_events(args, out, err)


def _list_events(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        rows, known = _rows_from_db(args) if args.db is not None else _rows_from_url(args)
    except CommandError as problem:
        return fail(err, "query", str(problem), problem.code)
    if unknown_dataset(err, args.dataset, known, str(args.db or args.url)):
        return EXIT_OK
    if not rows:
        error(err, "query", f"no events in {args.dataset!r} match")
        return EXIT_OK
    _write_rows(args, rows, out, err)
    out.flush()
    return EXIT_OK


def add_parser(commands: Commands) -> None:
    parser = add_command(
        commands,
        "query",
        query,
        "print a dataset's events, or a query's groups, from a receiver's database or a "
        "running receiver",
        "Print a dataset's events, in the order they were stored; with --calc or --by, the "
        "groups of a query in Honeycomb's model (VISUALIZE, WHERE, GROUP BY, ORDER BY, LIMIT).",
    )
    parser.add_argument("dataset", metavar="DATASET", help="dataset name (any casing)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--db",
        metavar="PATH",
        help="SQLite file written by `serve --db PATH` (read only, also while it is served)",
    )
    source.add_argument(
        "--url", metavar="URL", help=f"a running receiver, e.g. http://127.0.0.1:{DEFAULT_PORT}"
    )
    parser.add_argument("--api-key-env", metavar="NAME", help=key_help())
    add_repeatable(
        parser,
        "--where",
        "FILTER",
        "keep events that match: FIELD=VALUE, FIELD!=VALUE (differs or is missing), "
        "FIELD>VALUE (>=, <, <=), 'FIELD exists', 'FIELD does-not-exist', "
        "'FIELD contains TEXT', 'FIELD starts-with TEXT', 'FIELD in A,B' (and not-in, "
        "does-not-contain, does-not-start-with); repeatable, all must hold",
        term_argument(parse_filter),
    )
    parser.add_argument(
        "--any", action="store_true", help="keep events matching any --where, not all"
    )
    _add_window_options(parser)
    parser.add_argument(
        "--format", choices=["table", "jsonl"], default="table", help="default: %(default)s"
    )
    parser.add_argument(
        "--json", action="store_const", const="jsonl", dest="format", help="--format jsonl"
    )
    parser.add_argument(
        "--fields",
        metavar="A,B,...",
        help="the table's columns after the time (default: the most common fields, "
        f"up to {TABLE_COLUMNS - 1})",
    )
    add_group_options(parser)


def _add_window_options(parser: argparse.ArgumentParser) -> None:
    """``--since``, ``--until`` and ``--limit``: which of the stored events to read."""
    parser.add_argument(
        "--since",
        type=time_argument,
        metavar="TIME",
        help="events at or after TIME: RFC3339, or a time ago such as 15m, 2h, 1d "
        "(queries: the last 2h by default)",
    )
    parser.add_argument(
        "--until", type=time_argument, metavar="TIME", help="events before TIME (as --since)"
    )
    parser.add_argument(
        "--limit",
        type=_non_negative,
        metavar="N",
        help="at most N events (the first stored); with --calc or --by, N groups "
        f"(default {DEFAULT_LIMIT})",
    )
