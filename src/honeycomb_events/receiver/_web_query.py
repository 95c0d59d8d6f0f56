"""The query page, ``/query``: a form for a query in Honeycomb's model and its answer drawn on
the server, a line chart per calculation with a line per group, a heatmap per ``HEATMAP(f)``,
a table of the groups, and the first matching events with links to their traces.

Every table row and heatmap cell links to this page again, narrowed: a row adds its group's
values as filters, a cell its value range and its time range; the narrowed page lists the
events (and so the traces) behind the row or the cell. Stored values of any type or size
render, escaped and cut; at most `MAX_LINES_DRAWN` groups are drawn as lines.
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final
from urllib.parse import quote

import msgspec

from honeycomb_events._query_spec import (
    ALL_CALCULATION_OPS,
    FILTER_OPS,
    Filter,
    QueryError,
    QuerySpec,
    group_filters,
)
from honeycomb_events._query_time import rfc3339

from ._query_params import Links, QueryParams, filter_text
from ._query_result import QueryResult
from ._store import EventStore
from ._stored_event import StoredEvent, dataset_key
from ._svg_charts import Line, heatmap_chart, line_chart, mini_histogram, moment_text, swatch
from ._web_page import page

MAX_LINES_DRAWN: Final = 50
"""A chart draws the first this many groups; the table lists every group the query keeps."""
EVENTS_LISTED: Final = 20
"""The matching events listed under the answer, the earliest."""
_EVENT_READS: Final = 64
MAX_LINK_CHARS: Final = 4000
"""A row whose group values make a longer link gets none."""
_CELL_CHARS: Final = 200
_TITLE_CHARS: Final = 1000
_LEGEND_CHARS: Final = 80

_STYLE: Final = """
form.query { display: grid; gap: 8px; max-width: 1100px; }
form.query fieldset { border: 1px solid #ddd; padding: 6px 10px; display: flex;
  flex-wrap: wrap; gap: 6px; align-items: center; }
form.query legend { font-weight: 600; font-size: 12px; letter-spacing: .04em; }
form.query input[type=text] { width: 220px; } .times { display: flex; gap: 12px;
  flex-wrap: wrap; align-items: center; }
.problem { color: #c62828; font-weight: 600; white-space: pre-wrap; }
svg.chart { width: 100%; max-width: 1100px; height: auto; display: block; }
svg.chart text { font: 12px system-ui, sans-serif; fill: #444; }
svg.chart .axis { stroke: #888; } svg.chart .grid { stroke: #eee; }
svg.chart .axis-name { font-weight: 600; }
.lines path { fill: none; stroke-width: 2; stroke-linecap: round; stroke-linejoin: round; }
.lines circle { opacity: 0; } .lines.dots circle { opacity: 1; } .lines circle:hover { opacity: 1; }
.lines:hover .series { opacity: .3; } .lines .series:hover { opacity: 1; }
.lines .series:hover path { stroke-width: 3.5; }
ul.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 4px 16px;
  max-width: 1100px; font-size: 13px; }
ul.legend li { display: flex; align-items: center; gap: 4px; }
.heatmap a:hover rect { stroke: #f57c00; stroke-width: 2; }
.heat-scale { font-size: 12px; color: #555; } .heat { display: inline-block; width: 18px;
  height: 10px; }
table.groups td { max-width: 420px; overflow-wrap: anywhere; }
table.groups td.number { text-align: right; font-variant-numeric: tabular-nums; }
.none { color: #999; font-style: italic; }
td.fields { font: 12px ui-monospace, monospace; color: #444; max-width: 600px;
  overflow-wrap: anywhere; } td.when, td.name { white-space: nowrap; }
"""


def value_text(value: Any, limit: int = _CELL_CHARS) -> str:
    """A stored value as plain text, cut to `limit` characters: text as it is, numbers
    short, anything else as JSON."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, int) and not isinstance(value, bool):
        text = _int_text(value)
    else:
        try:
            text = msgspec.json.encode(value, enc_hook=str).decode("utf-8")
        except (msgspec.EncodeError, RecursionError, OverflowError):
            text = repr(type(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _int_text(value: int) -> str:
    """Digits up to 15 of them; past that, as a float would show it, or its power of ten
    where no float holds it (and where Python refuses to write its digits)."""
    if abs(value) < 10**15:
        return str(value)
    try:
        return f"{float(value):.6g}"
    except OverflowError:
        return f"{'-' if value < 0 else ''}~1e+{math.floor(math.log10(abs(value)))}"


def _shown(value: Any) -> str:
    """A value for a cell: escaped, cut, the longer text (also cut) on hover; a missing
    value and an empty string in grey, so that they show."""
    if value is None:
        return "<span class=none>(none)</span>"
    if value == "":
        return '<span class=none>""</span>'
    short = value_text(value)
    if len(short) < _CELL_CHARS:
        return html.escape(short)
    return (
        f"<span title='{html.escape(value_text(value, _TITLE_CHARS))}'>{html.escape(short)}</span>"
    )


def group_name(breakdowns: Sequence[str], key: Sequence[Any]) -> str:
    """A group as plain text: its values joined, ``all events`` without breakdowns."""
    if not breakdowns:
        return "all events"
    return ", ".join(
        "(none)" if v is None else '""' if v == "" else value_text(v, _LEGEND_CHARS) for v in key
    )


def query_page(
    store: EventStore, pairs: Iterable[tuple[str, str]], *, now_ns: int | None = None
) -> tuple[int, str]:
    """The page for the query string's `pairs`, and its status: 400 with the problem for a
    query that cannot run, 404 for an unknown dataset, the form alone without a dataset."""
    params = QueryParams.from_pairs(pairs)
    datasets = store.datasets()
    form = _form(params, datasets)
    status, answer = 200, "<p class=note>Choose a dataset and run a query.</p>"
    if params.dataset:
        status, answer = _answer(
            store, params, datasets, time.time_ns() if now_ns is None else now_ns
        )
    title = f"query {params.dataset}" if params.dataset else "query"
    body = (
        "<p><a href='/'>traces</a> · <a href='/query'>new query</a></p>"
        f"<h1>Query</h1>{form}{answer}"
    )
    return status, page(title, body, style=_STYLE)


def _answer(
    store: EventStore, params: QueryParams, datasets: Sequence[str], now_ns: int
) -> tuple[int, str]:
    if dataset_key(params.dataset) not in {dataset_key(name) for name in datasets}:
        return 404, f"<p class=problem>No dataset {html.escape(params.dataset)!s} is stored.</p>"
    try:
        spec = params.spec(now_ns)
        result = store.query(params.dataset, spec)
        events = _matching_events(store, params.dataset, spec)
    except QueryError as problem:
        return 400, f"<p class=problem>{html.escape(str(problem))}</p>"
    except (ArithmeticError, ValueError) as problem:
        # The engine computes in floats: values at the ends of their range can defeat it
        # (HEATMAP over 1e308 and -1e308); the page says so rather than fail.
        return 500, (
            "<p class=problem>This query could not be computed over the stored values: "
            f"{html.escape(type(problem).__name__)}: {html.escape(str(problem)[:500])}</p>"
        )
    # Rows and cells narrow with a further filter, which would widen an any-of query.
    links = None if params.match_any else Links(params)
    return 200, (
        _summary(result)
        + _charts(result, links)
        + _table(result, links)
        + _events_list(events, spec)
    )


def _matching_events(store: EventStore, dataset: str, spec: QuerySpec) -> list[StoredEvent]:
    """The first `EVENTS_LISTED` matching events from the start of the query's time range.

    Read a time bucket at a time (the rest of the range at once after `_EVENT_READS`): the
    store lists events in the order stored, which it sorts, so one read of the whole range
    would filter and sort every event in it (0.9 s for a million) to keep twenty.
    """
    found: list[StoredEvent] = []
    start = spec.start_ns
    for read in range(1, _EVENT_READS + 1):
        if start >= spec.end_ns or len(found) >= EVENTS_LISTED:
            break
        end = spec.end_ns if read == _EVENT_READS else min(start + spec.granularity_ns, spec.end_ns)
        found += store.events(
            dataset,
            since_ns=start,
            until_ns=end,
            limit=EVENTS_LISTED - len(found),
            filters=spec.filters,
            any_filter=spec.any_filter,
        )
        start = end
    return found


def _inputs(name: str, values: Sequence[str], placeholder: str, blanks: int) -> str:
    """An input per value, and blank ones to add more (the page drops blank values)."""
    shown = [*values, *[""] * max(1, blanks - len(values))]
    return "".join(
        f"<input type=text name={name} value='{html.escape(value)}' "
        f"placeholder='{html.escape(placeholder)}'>"
        for value in shown
    )


def _form(params: QueryParams, datasets: Sequence[str]) -> str:
    names = list(datasets)
    if params.dataset and dataset_key(params.dataset) not in map(dataset_key, names):
        names.append(params.dataset)
    options = "".join(
        f"<option{' selected' if dataset_key(name) == dataset_key(params.dataset) else ''}>"
        f"{html.escape(name)}</option>"
        for name in names
    )
    checked = " checked" if params.match_any else ""
    return (
        "<form class=query method=get action='/query'>"
        f"<div class=times><label>Dataset <select name=dataset>{options}</select></label>"
        f"<label>Since <input type=text name=since value='{html.escape(params.since)}' "
        "placeholder='2h (or RFC3339)'></label>"
        f"<label>Until <input type=text name=until value='{html.escape(params.until)}' "
        "placeholder=now></label>"
        "<label>Granularity <input type=text name=granularity "
        f"value='{html.escape(params.granularity)}' size=6 placeholder=auto></label>"
        f"<label>Limit <input type=number name=limit min=1 value='{html.escape(params.limit)}' "
        "placeholder=100></label></div>"
        "<fieldset><legend>VISUALIZE</legend>"
        f"{_inputs('calc', params.calc, 'COUNT, P99(duration_ms), HEATMAP(duration_ms)', 2)}"
        "</fieldset><fieldset><legend>WHERE</legend>"
        f"{_inputs('where', params.where, 'status_code=200, duration_ms>100', 2)}"
        f"<label><input type=checkbox name=match value=any{checked}> any (OR)</label>"
        "</fieldset><fieldset><legend>GROUP BY</legend>"
        f"{_inputs('by', params.by, 'http.route', 2)}"
        "</fieldset><fieldset><legend>ORDER BY</legend>"
        f"{_inputs('order', params.order, 'P99(duration_ms) desc', 1)}"
        "</fieldset><div><button type=submit>Run query</button></div></form>"
        f"<details class=note><summary>Syntax</summary><p>Calculations: "
        f"{html.escape(', '.join(sorted(ALL_CALCULATION_OPS)))}, as COUNT or OP(field). "
        f"Filters: field OP value, with OP one of {html.escape(' '.join(FILTER_OPS))}; "
        "exists and does-not-exist take no value, in and not-in a comma-separated list. "
        "Orders: a calculation or a breakdown, then asc or desc. Since and until: now, a "
        "time ago (15m, 2h, 1d) or an RFC3339 time (UTC).</p></details>"
    )


def _duration_text(nanos: int) -> str:
    for unit, name in ((604800, "w"), (86400, "d"), (3600, "h"), (60, "m"), (1, "s")):
        if nanos % (unit * 1_000_000_000) == 0:
            return f"{nanos // (unit * 1_000_000_000)}{name}"
    return f"{nanos / 1e9:g}s"


def _summary(result: QueryResult) -> str:
    spec = result.spec
    kept = len(result.groups)
    groups = f"{result.total_groups} group{'' if result.total_groups == 1 else 's'}"
    if kept < result.total_groups:
        groups += f", the first {kept} shown (limit {spec.limit})"
    return (
        f"<p class=summary>{result.events} matching event{'' if result.events == 1 else 's'} "
        f"from {moment_text(spec.start_ns)} to {moment_text(spec.end_ns)} UTC, every "
        f"{_duration_text(spec.granularity_ns)}; {groups}.</p>"
    )


def _bounded(url: str) -> str | None:
    """`url`, or None when it is too long to offer (a group value of many kilobytes)."""
    return url if len(url) <= MAX_LINK_CHARS else None


def _legend(names: Sequence[str]) -> str:
    items = "".join(
        f"<li>{swatch(index)}<span>{html.escape(name)}</span></li>"
        for index, name in enumerate(names)
    )
    return f"<ul class=legend>{items}</ul>"


def _charts(result: QueryResult, links: Links | None) -> str:
    """A section per calculation: its lines and their legend, or its heatmap."""
    spec = result.spec
    drawn = result.groups[:MAX_LINES_DRAWN]
    names = [group_name(spec.breakdowns, group.key) for group in drawn]
    legend = _legend(names)
    sections = []
    if len(result.groups) > len(drawn):
        sections.append(
            f"<p class=note>The charts draw the first {len(drawn)} of the "
            f"{len(result.groups)} groups; the table lists them all.</p>"
        )
    for calc in spec.calculations:
        label = calc.label
        if calc.op == "HEATMAP":
            heatmap = result.heatmaps.get(label)
            chart = (
                ""
                if heatmap is None
                else heatmap_chart(
                    result.bucket_starts_ns,
                    spec.granularity_ns,
                    heatmap.edges,
                    heatmap.counts,
                    value_name=calc.column or label,
                    cell_href=_cell_links(links, spec, calc.column or "", heatmap.edges),
                )
            )
        else:
            lines = [
                Line(name, index, group.series.get(label, ()))
                for index, (name, group) in enumerate(zip(names, drawn, strict=True))
            ]
            chart = line_chart(result.bucket_starts_ns, lines, value_name=label) + legend
        sections.append(
            f"<section class=calculation><h2>{html.escape(label)}</h2>{chart}</section>"
        )
    return "".join(sections)


def _cell_links(
    links: Links | None, spec: QuerySpec, column: str, edges: Sequence[float]
) -> Callable[[int, int, int], str | None] | None:
    """A heatmap cell's link: this query narrowed to the cell's value range and time range."""
    if links is None:
        return None
    ranges = [_value_range(column, edges, row) for row in range(len(edges) - 1)]

    def href(start_ns: int, end_ns: int, row: int) -> str | None:
        wheres = ranges[row]
        if wheres is None:
            return None
        start, end = max(start_ns, spec.start_ns), min(end_ns, spec.end_ns)
        return _bounded(links.narrowed(wheres, start_ns=start, end_ns=end) + "#events")

    return href


def _value_range(column: str, edges: Sequence[float], row: int) -> list[str] | None:
    """The filters of value bucket `row`, the last one including its top; None where its
    bounds are not finite."""
    low, high = edges[row], edges[row + 1]
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    top = "<=" if row == len(edges) - 2 else "<"
    return [filter_text(Filter(column, ">=", low)), filter_text(Filter(column, top, high))]


def _table(result: QueryResult, links: Links | None) -> str:
    """The groups, in the query's order: each one's values, calculations, event count, and
    a link to its events."""
    spec = result.spec
    labels = result.labels
    head = "".join(
        f"<th>{html.escape(name)}</th>" for name in [*spec.breakdowns, *labels, "events"]
    )
    rows = []
    for index, group in enumerate(result.groups):
        keys = "".join(f"<td>{_shown(value)}</td>" for value in group.key)
        values = "".join(_calculation_cell(label, group.values.get(label)) for label in labels)
        link = None if links is None else _row_link(links, spec, group.key)
        rows.append(
            f"<tr class=group><td>{swatch(index) if index < MAX_LINES_DRAWN else ''}</td>"
            f"{keys}{values}<td class=number>{group.events}</td>"
            f"<td>{f'<a href={_attr(link)}>events</a>' if link else ''}</td></tr>"
        )
    if not rows:
        rows.append(f"<tr><td colspan={len(spec.breakdowns) + len(labels) + 3}>no events</td></tr>")
    return (
        f"<h2>Groups</h2><table class='list groups'><tr><th></th>{head}<th></th></tr>"
        f"{''.join(rows)}</table>"
    )


def _attr(text: str) -> str:
    return f"'{html.escape(text)}'"


def _row_link(links: Links, spec: QuerySpec, key: Sequence[Any]) -> str | None:
    wheres = [filter_text(item) for item in group_filters(spec.breakdowns, key)]
    return _bounded(links.narrowed(wheres) + "#events")


def _calculation_cell(label: str, value: Any) -> str:
    if isinstance(value, list):  # a HEATMAP's counts per value bucket
        return f"<td>{mini_histogram(value)}</td>"
    return f"<td class=number>{_shown(value)}</td>"


def _events_list(events: Sequence[StoredEvent], spec: QuerySpec) -> str:
    """The first matching events, each linked to its trace when it has one."""
    rows = "".join(_event_row(event) for event in events)
    if not rows:
        rows = "<tr><td colspan=6>no matching events</td></tr>"
    return (
        f"<h2 id=events>Events and their traces</h2><p class=note>The first "
        f"{EVENTS_LISTED} events the filters keep from {rfc3339(spec.start_ns)} to "
        f"{rfc3339(spec.end_ns)}.</p><table class=list><tr><th>time (UTC)</th><th>trace</th>"
        f"<th>name</th><th>service.name</th><th>duration_ms</th><th>fields</th></tr>{rows}</table>"
    )


def _event_row(event: StoredEvent) -> str:
    data = event.data
    trace_id = data.get("trace.trace_id")
    trace = ""
    if isinstance(trace_id, str) and trace_id:
        trace = (
            f"<a href={_attr('/trace/' + quote(trace_id, safe=''))}>"
            f"{html.escape(value_text(trace_id, 40))}</a>"
        )
    fields = html.escape(value_text(data, _CELL_CHARS))
    return (
        f"<tr><td class=when>{moment_text(event.time_ns)}</td><td>{trace}</td>"
        f"<td class=name>{_shown(data.get('name'))}</td>"
        + "".join(f"<td>{_shown(data.get(name))}</td>" for name in ("service.name", "duration_ms"))
        + f"<td class=fields>{fields}</td></tr>"
    )
