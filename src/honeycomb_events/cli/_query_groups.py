"""``query --calc ... --by ...``: a query in Honeycomb's model, computed by the receiver's
engine on the database file or by a running receiver, printed as a table of its groups (with
each one's first time series drawn in a line of blocks) or as JSON lines."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any, Final, TextIO

from honeycomb_events._query_spec import QueryError, QuerySpec
from honeycomb_events._query_text import parse_calculation, parse_order

from ._common import (
    EXIT_OK,
    EXIT_USAGE,
    JSON_ESCAPES,
    TERMINAL_ESCAPES,
    CommandError,
    error,
    fail,
    json_encoder,
)
from ._query_source import (
    ReceiverClient,
    duration_argument,
    open_database,
    term_argument,
    unknown_dataset,
)
from ._table import aligned, cell

_BLOCKS: Final = "▁▂▃▄▅▆▇█"
SPARKLINE_BUCKETS: Final = 100
"""The most time buckets the table draws as a line of blocks; --json has them all."""


def add_repeatable(
    parser: argparse.ArgumentParser,
    flag: str,
    metavar: str,
    help_text: str,
    kind: Callable[[str], Any] = str,
) -> None:
    """An option that may be given many times, collected in a list."""
    parser.add_argument(
        flag, action="append", default=[], type=kind, metavar=metavar, help=help_text
    )


def add_group_options(parser: argparse.ArgumentParser) -> None:
    add_repeatable(
        parser,
        "--calc",
        "CALC",
        "a calculation over the matching events: COUNT, COUNT_DISTINCT(F), SUM(F), "
        "AVG(F), MIN(F), MAX(F), P50(F) (P001 to P999), HEATMAP(F); repeatable",
        term_argument(parse_calculation),
    )
    add_repeatable(
        parser, "--by", "FIELD", "group by this field (repeatable); with no --calc, COUNT"
    )
    add_repeatable(
        parser,
        "--order",
        "TERM",
        "order groups by a calculation ('P99(duration_ms) desc') or a --by field "
        "('http.route asc'); default: the first calculation, descending",
        term_argument(parse_order),
    )
    parser.add_argument(
        "--granularity",
        type=duration_argument,
        metavar="DURATION",
        help="the time series' buckets: 30s, 1m, 1h (default: about a hundredth of the range)",
    )


def _spec(args: argparse.Namespace) -> QuerySpec:
    return QuerySpec.create(
        calculations=args.calc,
        filters=args.where,
        breakdowns=args.by,
        orders=args.order,
        limit=args.limit,
        start_ns=args.since,
        end_ns=args.until,
        granularity_ns=args.granularity,
        any_filter=args.any,
    )


def _result(args: argparse.Namespace, spec: QuerySpec) -> tuple[dict[str, Any] | None, list[str]]:
    """The query's answer in the endpoint's JSON form (None for an unknown dataset), and the
    datasets there are."""
    if args.db is not None:
        with open_database(args.db) as store:
            known = store.datasets()
            if args.dataset.lower() not in {name.lower() for name in known}:
                return None, known
            return store.query(args.dataset, spec).to_json(), known
    client = ReceiverClient(args)
    path = client.dataset_path("/_receiver/query", args.dataset)
    status, answer = client.request("POST", path, body=spec.to_json(), accept=(200, 404))
    if status == 404:
        return None, client.datasets()
    if not isinstance(answer, dict) or not isinstance(answer.get("groups"), list):
        raise CommandError(f"{client.base} answered a query with an unexpected shape")
    return answer, []


def query_groups(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Print the groups of the query the options make."""
    try:
        spec = _spec(args)
    except QueryError as problem:
        return fail(err, "query", str(problem), EXIT_USAGE)
    try:
        result, known = _result(args, spec)
    except CommandError as problem:
        return fail(err, "query", str(problem), problem.code)
    if result is None:
        unknown_dataset(err, args.dataset, known, str(args.db or args.url))
        return EXIT_OK
    groups = result["groups"]
    if not groups:
        error(err, "query", f"no events in {args.dataset!r} match")
        return EXIT_OK
    if args.format == "jsonl":
        _write_json_lines(result, out)
    else:
        for line in _table(result):
            out.write(line + "\n")
    out.flush()
    total = result.get("total_groups", len(groups))
    if total > len(groups):
        error(err, "query", f"the first {len(groups)} of {total} groups (--limit N for more)")
    return EXIT_OK


def _write_json_lines(result: dict[str, Any], out: TextIO) -> None:
    edges = {label: heatmap["edges"] for label, heatmap in result.get("heatmaps", {}).items()}
    for group in result["groups"]:
        line = {**group, "times": result["times"]}
        if edges:
            line["heatmap_edges"] = edges
        out.write(json_encoder.encode(line).decode("utf-8").translate(JSON_ESCAPES) + "\n")


def number_text(value: Any) -> str:
    """A calculation's value as the table shows it: floats to three decimals."""
    if value is None:
        return ""
    if isinstance(value, float) and (value == 0 or 1e-3 <= abs(value) < 1e15):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def sparkline(values: Sequence[Any]) -> str:
    """A line of blocks, one a value, from the lowest (or 0) to the highest; a space where
    there is none."""
    numbers = [value for value in values if _is_number(value)]
    if not numbers:
        return " " * len(values)
    low = min(0, *numbers)
    span = (max(numbers) - low) or 1
    top = len(_BLOCKS) - 1
    return "".join(
        _BLOCKS[round((value - low) / span * top)] if _is_number(value) else " " for value in values
    )


def _table(result: dict[str, Any]) -> list[str]:
    breakdowns, labels = result["breakdowns"], result["calculations"]
    heatmaps = result.get("heatmaps", {})
    timed = [label for label in labels if label not in heatmaps]
    drawn = timed[0] if timed and len(result["times"]) <= SPARKLINE_BUCKETS else None
    header = [name.translate(TERMINAL_ESCAPES) for name in [*breakdowns, *labels]]
    for index, label in enumerate(labels, start=len(breakdowns)):
        edges = heatmaps.get(label, {}).get("edges")
        if edges:
            header[index] += f" {number_text(edges[0])}…{number_text(edges[-1])}"
    if drawn is not None:
        header.append(f"{drawn} over time".translate(TERMINAL_ESCAPES))
    body = []
    for group in result["groups"]:
        values = group["values"]
        line = [
            "" if group["group"].get(name) is None else cell(group["group"][name])
            for name in breakdowns
        ]
        line += [
            sparkline(values[label]) if label in heatmaps else number_text(values.get(label))
            for label in labels
        ]
        if drawn is not None:
            line.append(sparkline(group["series"][drawn]))
        body.append(line)
    return aligned([header, *body])
