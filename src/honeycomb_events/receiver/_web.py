"""The receiver's web pages: the datasets and recent traces at ``/``, and a trace's waterfall at
``/trace/<trace id>``. Server-rendered HTML with inline CSS: no build step, no script needed
(attributes open on click through ``<details>``).

Spans are the events with a ``trace.span_id``; span events and log records linked to a span
(``trace.parent_id``, ``meta.annotation_type`` "span_event") are drawn as marks on their
span's bar; errors (``error: true``) are red.

Both pages read through the store's indexes and are bounded whatever is stored: the list a
page of root spans at a time, a trace at most `MAX_SPANS_DRAWN` spans. Any stored value, of any
type or size, renders: ids and names that are not strings, durations that are huge, negative or
not numbers, parent chains of any length and parent cycles.
"""

from __future__ import annotations

import datetime as _dt
import html
from collections.abc import Iterable
from typing import Any, Final
from urllib.parse import quote

import msgspec

from ._store import EventStore
from ._trace_queries import LISTED_SPAN_COUNT_CAP, Cursor, MarkRow, SpanRow, TraceSummary
from ._trace_tree import depth_first

TRACES_PER_PAGE: Final = 50
"""Root spans listed per page of ``/``."""
MAX_SPANS_DRAWN: Final = 10_000
"""A trace page draws at most this many spans (the first by start time) and says how many more
there are."""
MAX_MARKS_DRAWN: Final = 20_000
"""A trace page reads at most this many span events, links and log records."""
SPAN_DATA_BUDGET: Final = 16 * 1024 * 1024
"""A trace page shows the fields of its spans while their JSON adds up to this many
characters; the spans after that are drawn without them."""
MAX_INDENT: Final = 16
"""Children are indented under their parents down to this depth; deeper spans align there."""
_INDENT_PX: Final = 14
_MAX_BAR_MS: Final = 1e15
"""Longer durations are drawn as this long: a bar only needs to reach the axis's end."""

_STYLE: Final = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d1d1f; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
table.list { border-collapse: collapse; } .list td, .list th { padding: 4px 12px 4px 0;
  text-align: left; border-bottom: 1px solid #eee; }
.error { color: #c62828; font-weight: 600; }
.waterfall { width: 100%; }
.row summary { display: grid; grid-template-columns: 320px 1fr 90px; align-items: center;
  cursor: pointer; list-style: none; padding: 2px 0; }
.row summary::-webkit-details-marker { display: none; }
.name { overflow: hidden; white-space: nowrap; text-overflow: ellipsis; }
.track { position: relative; height: 16px; background: #f5f5f7; }
.span-bar { position: absolute; top: 2px; height: 12px; background: #4f7ef7; border-radius: 2px;
  min-width: 2px; }
.span-bar.failed { background: #e53935; }
.mark { position: absolute; top: 0; width: 3px; height: 16px; background: #111; }
.mark.log { background: #ff9800; }
.duration { text-align: right; color: #555; }
.attributes { margin: 4px 0 8px 24px; font-size: 12px; border-collapse: collapse; }
.attributes td { padding: 1px 8px; border-bottom: 1px solid #f0f0f0; vertical-align: top; }
.axis { display: grid; grid-template-columns: 320px 1fr 90px; color: #777; font-size: 12px; }
.axis .scale { display: flex; justify-content: space-between; }
.note { color: #555; }
"""


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def _time_text(nanos: int) -> str:
    try:
        moment = _dt.datetime.fromtimestamp(nanos / 1e9, tz=_dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return f"{nanos} ns since the epoch"
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def _ms_text(duration_ms: float | None) -> str:
    if duration_ms is None:
        return ""
    return f"{duration_ms:.2f} ms" if abs(duration_ms) < 1e12 else f"{duration_ms:.3g} ms"


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return msgspec.json.encode(value, enc_hook=str).decode("utf-8")


def index_page(store: EventStore, before: str | None = None) -> str:
    """The datasets with their event counts, and root spans newest first, `TRACES_PER_PAGE` at
    a time: those older than the cursor `before` (the text the page's "older traces" link
    carries as ``?before=``); None, or text that is not a cursor, gives the newest."""
    cursor = Cursor.parse(before)
    traces, older = store.recent_traces(before=cursor, limit=TRACES_PER_PAGE)
    datasets = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{count}</td></tr>"
        for name, count in store.dataset_counts()
    )
    listed = "".join(_trace_row(summary) for summary in traces)
    empty = "no traces yet" if cursor is None else "no older traces"
    links = [] if cursor is None else ["<a href='/'>newest traces</a>"]
    if older is not None:
        # A cursor is digits, "-" and ":": nothing to escape in a query string.
        links.append(f"<a class=older href='/?before={older.text}'>older traces</a>")
    body = (
        "<h1>honeycomb-events local receiver</h1>"
        "<h2>Datasets</h2><table class=list><tr><th>dataset</th><th>events</th></tr>"
        f"{datasets or '<tr><td colspan=2>no events yet</td></tr>'}</table>"
        "<h2>Recent traces</h2><table class=list><tr><th>root span</th><th>dataset</th>"
        "<th>start</th><th>spans</th><th>duration</th><th></th></tr>"
        f"{listed or f'<tr><td colspan=6>{empty}</td></tr>'}</table>"
        f"<p>{' '.join(links)}</p>"
    )
    return _page("honeycomb-events receiver", body)


def _count(number: int, noun: str) -> str:
    """ "1 span", "2 spans": the header of a one-span trace said "1 spans"."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _trace_row(summary: TraceSummary) -> str:
    name = "(unnamed root span)" if summary.name is None else summary.name
    spans = f"{LISTED_SPAN_COUNT_CAP}+" if summary.spans > LISTED_SPAN_COUNT_CAP else summary.spans
    return (
        "<tr class=trace>"
        f"<td><a href='/trace/{html.escape(quote(summary.trace_id, safe=''))}'>"
        f"{html.escape(name)}</a></td>"
        f"<td>{html.escape(summary.dataset)}</td><td>{_time_text(summary.time_ns)}</td>"
        f"<td>{spans}</td><td>{_ms_text(summary.duration_ms)}</td>"
        f"<td>{'<span class=error>error</span>' if summary.failed else ''}</td></tr>"
    )


class _Axis:
    """The trace's time axis: where a moment falls, in percent of the track's width."""

    def __init__(self, spans: list[SpanRow]) -> None:
        self.start = min(span.time_ns for span in spans)
        self.total = max(max(_end_ns(span) for span in spans) - self.start, 1)

    def at(self, nanos: int) -> float:
        return min(max((nanos - self.start) / self.total * 100, 0.0), 100.0)


def _end_ns(span: SpanRow) -> int:
    duration = span.duration_ms
    if duration is None or duration <= 0:
        return span.time_ns
    return span.time_ns + int(min(duration, _MAX_BAR_MS) * 1e6)


def trace_page(
    store: EventStore,
    trace_id: str,
    *,
    max_spans: int = MAX_SPANS_DRAWN,
    max_marks: int = MAX_MARKS_DRAWN,
) -> str | None:
    """The waterfall of one trace, or None when no stored span carries its id.

    At most `max_spans` spans (the first by start time) and `max_marks` span events and logs
    are read and drawn; the page says how many more the trace has.
    """
    rows = store.trace(
        trace_id, max_spans=max_spans, max_marks=max_marks, data_budget=SPAN_DATA_BUDGET
    )
    if not rows.spans:
        return None
    axis = _Axis(rows.spans)
    marks = _marks_by_span(rows.marks)
    ordered = depth_first(
        rows.spans,
        span_id=lambda span: span.span_id,
        parent_id=lambda span: span.parent_id,
        start=lambda span: span.time_ns,
    )
    drawn = "".join(
        _span_row(span, depth, marks.pop(span.span_id, []) if span.span_id else [], axis)
        for span, depth in ordered
    )
    notes = []
    hidden = rows.span_total - len(rows.spans)
    if hidden > 0:
        notes.append(
            f"{_count(hidden, 'more span')} {'is' if hidden == 1 else 'are'} not drawn: "
            f"this page draws the first {len(rows.spans)} by start time."
        )
    if rows.mark_total > len(rows.marks):
        notes.append(
            f"{rows.mark_total - len(rows.marks)} more span events and logs are not drawn."
        )
    total_ms = axis.total / 1e6
    body = (
        f"<p><a href='/'>all traces</a></p><h1>Trace {html.escape(trace_id)}</h1>"
        f"<p>{_count(rows.span_total, 'span')}, {_time_text(axis.start)}, {_ms_text(total_ms)}</p>"
        + "".join(f"<p class=note>{html.escape(note)}</p>" for note in notes)
        + "<div class=axis><span></span><span class=scale><span>0 ms</span>"
        f"<span>{_ms_text(total_ms / 2)}</span><span>{_ms_text(total_ms)}</span></span>"
        "<span></span></div>"
        f"<div class=waterfall>{drawn}</div>"
    )
    return _page(f"trace {trace_id}", body)


def _marks_by_span(marks: Iterable[MarkRow]) -> dict[str, list[tuple[int, str, str]]]:
    """Span events and log records by the id of their span; links are not drawn."""
    found: dict[str, list[tuple[int, str, str]]] = {}
    for mark in marks:
        if mark.parent_id is None or mark.annotation_type == "link":
            continue
        kind = "log" if mark.signal_type == "log" else "event"
        label = "" if mark.label is None else str(mark.label)
        found.setdefault(mark.parent_id, []).append((mark.time_ns, kind, label))
    return found


def _span_row(span: SpanRow, depth: int, marks: list[tuple[int, str, str]], axis: _Axis) -> str:
    data = _fields(span.data)
    name = html.escape(_span_name(span, data))
    left = axis.at(span.time_ns)
    width = axis.at(_end_ns(span)) - left
    drawn_marks = "".join(
        f"<span class='mark {kind}' title='{html.escape(label or kind)}' "
        f"style='left:{axis.at(at):.3f}%'></span>"
        for at, kind, label in marks
    )
    deeper = f" title='depth {depth}'" if depth > MAX_INDENT else ""
    failed = " failed" if span.error else ""
    return (
        "<details class=row><summary>"
        f"<span class=name style='padding-left:{min(depth, MAX_INDENT) * _INDENT_PX}px'{deeper}>"
        f"{'<span class=error>' + name + '</span>' if span.error else name}</span>"
        f"<span class=track><span class='span-bar{failed}' "
        f"data-span-id='{html.escape(span.span_id or '')}' "
        f"style='left:{left:.3f}%;width:{width:.3f}%'></span>{drawn_marks}</span>"
        f"<span class=duration>{_ms_text(span.duration_ms)}</span>"
        f"</summary>{_attributes(data, marks)}</details>"
    )


def _fields(data: str | None) -> dict[str, Any] | str | None:
    """A span's fields; its JSON text when that does not decode; None when not read."""
    if data is None:
        return None
    try:
        value = msgspec.json.decode(data)
    except (msgspec.DecodeError, RecursionError):
        return data
    return value if isinstance(value, dict) else data


def _span_name(span: SpanRow, data: dict[str, Any] | str | None) -> str:
    if span.name is not None:
        return span.name
    if isinstance(data, dict) and "name" in data:
        return _value_text(data["name"])[:200]
    return ""


def _attributes(data: dict[str, Any] | str | None, marks: list[tuple[int, str, str]]) -> str:
    if data is None:
        cells = "<tr><td colspan=2>fields not shown: the trace's spans are too large</td></tr>"
    elif isinstance(data, str):
        cells = f"<tr><td colspan=2>{html.escape(data)}</td></tr>"
    else:
        cells = "".join(
            f"<tr><td>{html.escape(key)}</td><td>{html.escape(_value_text(value))}</td></tr>"
            for key, value in sorted(data.items())
        )
    notes = "".join(
        f"<tr><td>{kind} at {_time_text(at)}</td><td>{html.escape(label)}</td></tr>"
        for at, kind, label in marks
    )
    return f"<table class=attributes>{cells}{notes}</table>"
