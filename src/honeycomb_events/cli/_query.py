"""``query``: a dataset's events from a receiver's database or a running receiver."""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final, TextIO
from urllib.parse import quote

import httpx
import msgspec

from honeycomb_events._config import ENV_API_KEY
from honeycomb_events._model import parse_rfc3339_ns

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
    json_decoder,
    json_encoder,
    require_receiver,
    value_text,
)
from ._keys import key_variable
from ._serve import DEFAULT_PORT, ENV_RECEIVER_API_KEYS
from ._table import TABLE_COLUMNS, Row, choose_columns, render_table

_RELATIVE_TIME: Final = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNIT_SECONDS: Final = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time_ns(text: str, now_ns: int | None = None) -> int:
    """Nanoseconds since the epoch for ``--since``/``--until``: RFC3339, ``now``, or a time
    ago such as ``90s``, ``15m``, ``2h``, ``1d``, ``1w`` (also ``500ms``, ``1.5h``)."""
    value = text.strip()
    now = time.time_ns() if now_ns is None else now_ns
    if value.lower() == "now":
        return now
    match = _RELATIVE_TIME.fullmatch(value.lower())
    if match is not None:
        amount, unit = float(match.group(1)), match.group(2)
        return now - round(amount * _UNIT_SECONDS[unit] * 1e9)
    try:
        return parse_rfc3339_ns(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither an RFC3339 time (2024-05-01T12:00:00Z) nor a time ago "
            "such as 15m, 2h or 1d"
        ) from None


def _time_argument(text: str) -> int:
    return parse_time_ns(text)


def _where_argument(text: str) -> tuple[str, bool, str]:
    """``FIELD=VALUE`` (equal) or ``FIELD!=VALUE`` (not equal, or missing)."""
    for operator, equal in (("!=", False), ("=", True)):
        field, found, value = text.partition(operator)
        if found and field:
            return field, equal, value
    raise argparse.ArgumentTypeError(f"{text!r} is not FIELD=VALUE or FIELD!=VALUE")


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of events")
    return value


def _matches(data: Mapping[str, Any], where: Sequence[tuple[str, bool, str]]) -> bool:
    for field, equal, expected in where:
        present = field in data and value_text(data[field]) == expected
        if present != equal:
            return False
    return True


def _rows_from_db(
    path: str, dataset: str, since: int | None, until: int | None, limit: int | None
) -> tuple[list[Row], list[str]]:
    from honeycomb_events.receiver import EventStore

    try:
        store = EventStore.open_read_only(path)
    except ValueError as problem:
        raise CommandError(f"{path} is not a receiver's database: {problem}", EXIT_USAGE) from None
    except sqlite3.Error as problem:
        raise CommandError(
            f"cannot read {path} as a receiver's database: {problem}", EXIT_USAGE
        ) from None
    try:
        with store:
            events = store.events(dataset, since_ns=since, until_ns=until, limit=limit)
            known = store.datasets()
    except sqlite3.Error as problem:
        raise CommandError(f"cannot read {path} as a receiver's database: {problem}") from None
    return [Row(e.time, e.samplerate, e.data) for e in events], known


def _get_from_receiver(
    base: str, dataset: str, params: Mapping[str, str], variable: str
) -> tuple[Any, Any]:
    """The decoded answers of the receiver's events and datasets endpoints.

    A receiver given keys wants one on these control endpoints too: the key of `variable`,
    when it is set.
    """
    key = os.environ.get(variable, "").strip()
    headers = {"X-Honeycomb-Team": key} if key else {}
    with httpx.Client(timeout=30.0, headers=headers) as http:
        response = http.get(f"{base}/_receiver/events/{quote(dataset, safe='')}", params=params)
        if response.status_code == 401:
            done = "was not one of its keys" if headers else "was not set"
            raise CommandError(
                f"the receiver at {base} accepts only its own keys, and {variable} {done}: "
                f"set {variable} to one of them (serve's {ENV_RECEIVER_API_KEYS})"
            )
        if response.status_code != 200:
            raise CommandError(
                f"{base} answered {response.status_code} to GET /_receiver/events: "
                f"{response.text[:200]}"
            )
        items = json_decoder.decode(response.content)
        known = json_decoder.decode(http.get(f"{base}/_receiver/datasets").content)
    return items, known


def _rows_from_url(
    args: argparse.Namespace, since: int | None, until: int | None, limit: int | None
) -> tuple[list[Row], list[str]]:
    params = {
        name: str(value)
        for name, value in (("since_ns", since), ("until_ns", until), ("limit", limit))
        if value is not None
    }
    base = args.url.rstrip("/")
    try:
        items, known = _get_from_receiver(base, args.dataset, params, key_variable(args))
    except httpx.HTTPError as problem:
        raise CommandError(
            f"cannot reach the receiver at {base} ({type(problem).__name__}: {problem}); "
            f"is `{PROG} serve` running there?"
        ) from None
    except msgspec.DecodeError:
        raise CommandError(f"{base} did not answer with JSON: is it a {PROG} receiver?") from None
    if not isinstance(items, list) or not isinstance(known, list):
        raise CommandError(f"{base} answered with an unexpected shape: is it a {PROG} receiver?")
    rows = [
        Row(str(item.get("time")), int(item.get("samplerate") or 1), item.get("data") or {})
        for item in items
        if isinstance(item, dict)
    ]
    return rows, [str(name) for name in known]


def _fetch(args: argparse.Namespace) -> tuple[list[Row], list[str], str]:
    """The dataset's events (`--where` not applied yet), the known datasets, and where from."""
    # --where filters here, so the store's limit may only cut when nothing else does.
    limit = args.limit if not args.where else None
    if args.db is None:
        rows, known = _rows_from_url(args, args.since, args.until, limit)
        return rows, known, str(args.url)
    if not os.path.isfile(args.db):
        raise CommandError(
            f"no database at {args.db}; `{PROG} serve --db {args.db}` creates one", EXIT_USAGE
        )
    require_receiver()
    rows, known = _rows_from_db(args.db, args.dataset, args.since, args.until, limit)
    return rows, known, str(args.db)


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
    """Print a dataset's events from a SQLite file written by ``serve --db``, or a receiver."""
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
    try:
        rows, known, source = _fetch(args)
    except CommandError as problem:
        return fail(err, "query", str(problem), problem.code)
    if args.dataset.lower() not in {name.lower() for name in known}:
        shown = ", ".join(repr(name) for name in known) or "none"
        error(err, "query", f"no dataset {args.dataset!r} in {source} (datasets: {shown})")
        return EXIT_OK
    if args.where:
        rows = [row for row in rows if _matches(row.data, args.where)]
        rows = rows if args.limit is None else rows[: args.limit]
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
        "print a dataset's events from a receiver's database or a running receiver",
        "Print a dataset's events, in the order they were stored.",
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
    parser.add_argument(
        "--api-key-env",
        metavar="NAME",
        help=f"with --url: the variable holding one of the receiver's keys, if it was given "
        f"keys (default: {ENV_API_KEY})",
    )
    parser.add_argument(
        "--where",
        action="append",
        default=[],
        type=_where_argument,
        metavar="FIELD=VALUE",
        help="keep events whose field equals the value, compared as text "
        "(FIELD!=VALUE: differs or is missing); repeatable, all must hold",
    )
    _add_window_options(parser)
    parser.add_argument(
        "--format", choices=["table", "jsonl"], default="table", help="default: %(default)s"
    )
    parser.add_argument(
        "--fields",
        metavar="A,B,...",
        help="the table's columns after the time (default: the most common fields, "
        f"up to {TABLE_COLUMNS - 1})",
    )


def _add_window_options(parser: argparse.ArgumentParser) -> None:
    """``--since``, ``--until`` and ``--limit``: which of the stored events to read."""
    parser.add_argument(
        "--since",
        type=_time_argument,
        metavar="TIME",
        help="events at or after TIME: RFC3339, or a time ago such as 15m, 2h, 1d",
    )
    parser.add_argument(
        "--until", type=_time_argument, metavar="TIME", help="events before TIME (as --since)"
    )
    parser.add_argument(
        "--limit", type=_non_negative, metavar="N", help="at most N events (the first stored)"
    )
