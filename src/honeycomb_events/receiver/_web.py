"""The receiver's web pages: the datasets and recent traces at ``/``, and a trace's waterfall at
``/trace/<trace id>``. Server-rendered HTML with inline CSS: no build step, no script needed
(attributes open on click through ``<details>``).

Spans are the events with a ``trace.span_id``; span events and log records linked to a span
(``trace.parent_id``, ``meta.annotation_type`` "span_event") are drawn as marks on their
span's bar; errors (``error: true``) are red.
"""

from __future__ import annotations

import datetime as _dt
import html
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ._store import EventStore, StoredEvent

RECENT_NS: Final = 24 * 3600 * 1_000_000_000
"""The index lists traces of the last day."""
MAX_TRACES_LISTED: Final = 100

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
"""


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def _time_text(nanos: int) -> str:
    moment = _dt.datetime.fromtimestamp(nanos / 1e9, tz=_dt.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


@dataclass
class _Span:
    event: StoredEvent
    start_ns: int
    end_ns: int
    children: list[_Span] = field(default_factory=list)
    marks: list[tuple[int, str, StoredEvent]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.event.data.get("error") is True


@dataclass
class _TraceSummary:
    trace_id: str
    dataset: str
    start_ns: int
    spans: int = 0
    failed: bool = False
    root: str | None = None
    duration_ms: float | None = None


def _span_of(event: StoredEvent) -> _Span:
    duration = event.data.get("duration_ms")
    nanos = int(duration * 1e6) if isinstance(duration, (int, float)) else 0
    return _Span(event, event.time_ns, event.time_ns + max(nanos, 0))


def index_page(store: EventStore, now_ns: int | None = None) -> str:
    """The datasets, their event counts, and the traces of the last day, newest first."""
    since = (time.time_ns() if now_ns is None else now_ns) - RECENT_NS
    rows = []
    traces: dict[str, _TraceSummary] = {}
    for dataset in store.datasets():
        rows.append(f"<tr><td>{html.escape(dataset)}</td><td>{store.count(dataset)}</td></tr>")
        for event in store.events(dataset, since_ns=since):
            trace_id = event.data.get("trace.trace_id")
            if not isinstance(trace_id, str) or "trace.span_id" not in event.data:
                continue
            summary = traces.setdefault(trace_id, _TraceSummary(trace_id, dataset, event.time_ns))
            summary.spans += 1
            summary.start_ns = min(summary.start_ns, event.time_ns)
            summary.failed = summary.failed or event.data.get("error") is True
            if "trace.parent_id" not in event.data:
                summary.root = str(event.data.get("name", ""))
                duration = event.data.get("duration_ms")
                summary.duration_ms = duration if isinstance(duration, (int, float)) else None
    listed = sorted(traces.values(), key=lambda summary: summary.start_ns, reverse=True)
    trace_rows = "".join(
        "<tr class=trace>"
        f"<td><a href='/trace/{html.escape(summary.trace_id)}'>"
        f"{html.escape(summary.root or '(no root span)')}</a></td>"
        f"<td>{html.escape(summary.dataset)}</td><td>{_time_text(summary.start_ns)}</td>"
        f"<td>{summary.spans}</td>"
        f"<td>{'' if summary.duration_ms is None else f'{summary.duration_ms:.2f} ms'}</td>"
        f"<td>{'<span class=error>error</span>' if summary.failed else ''}</td></tr>"
        for summary in listed[:MAX_TRACES_LISTED]
    )
    body = (
        "<h1>honeycomb-events local receiver</h1>"
        "<h2>Datasets</h2><table class=list><tr><th>dataset</th><th>events</th></tr>"
        f"{''.join(rows) or '<tr><td colspan=2>no events yet</td></tr>'}</table>"
        "<h2>Recent traces</h2><table class=list><tr><th>root span</th><th>dataset</th>"
        "<th>start</th><th>spans</th><th>duration</th><th></th></tr>"
        f"{trace_rows or '<tr><td colspan=6>no traces in the last day</td></tr>'}</table>"
    )
    return _page("honeycomb-events receiver", body)


def _trace_events(store: EventStore, trace_id: str) -> list[StoredEvent]:
    found: list[StoredEvent] = []
    for dataset in store.datasets():
        found.extend(
            event for event in store.events(dataset) if event.data.get("trace.trace_id") == trace_id
        )
    return found


def trace_page(store: EventStore, trace_id: str) -> str | None:
    """The waterfall of one trace, or None when no stored span carries its id."""
    events = _trace_events(store, trace_id)
    spans = {
        str(event.data["trace.span_id"]): _span_of(event)
        for event in events
        if "trace.span_id" in event.data
    }
    if not spans:
        return None
    for event in events:
        if "trace.span_id" in event.data:
            continue
        parent = spans.get(str(event.data.get("trace.parent_id")))
        if parent is None or event.data.get("meta.annotation_type") == "link":
            continue
        kind = "log" if event.data.get("meta.signal_type") == "log" else "event"
        parent.marks.append((event.time_ns, kind, event))
    roots: list[_Span] = []
    for span in spans.values():
        parent = spans.get(str(span.event.data.get("trace.parent_id")))
        (parent.children if parent is not None else roots).append(span)
    start = min(span.start_ns for span in spans.values())
    end = max(span.end_ns for span in spans.values())
    total = max(end - start, 1)
    rows: list[str] = []
    for root in sorted(roots, key=lambda span: span.start_ns):
        _draw(root, 0, start, total, rows)
    body = (
        f"<p><a href='/'>all traces</a></p><h1>Trace {html.escape(trace_id)}</h1>"
        f"<p>{len(spans)} spans, {_time_text(start)}, {total / 1e6:.2f} ms</p>"
        "<div class=axis><span></span><span class=scale><span>0 ms</span>"
        f"<span>{total / 2e6:.2f} ms</span><span>{total / 1e6:.2f} ms</span></span>"
        "<span></span></div>"
        f"<div class=waterfall>{''.join(rows)}</div>"
    )
    return _page(f"trace {trace_id}", body)


def _draw(span: _Span, depth: int, start: int, total: int, rows: list[str]) -> None:
    left = (span.start_ns - start) / total * 100
    width = (span.end_ns - span.start_ns) / total * 100
    marks = "".join(
        f"<span class='mark {kind}' title='{html.escape(str(event.data.get('name', kind)))}' "
        f"style='left:{(at - start) / total * 100:.3f}%'></span>"
        for at, kind, event in sorted(span.marks, key=lambda mark: mark[0])
    )
    name = html.escape(str(span.event.data.get("name", "")))
    duration = span.event.data.get("duration_ms")
    rows.append(
        "<details class=row><summary>"
        f"<span class=name style='padding-left:{depth * 14}px'>"
        f"{'<span class=error>' + name + '</span>' if span.failed else name}</span>"
        f"<span class=track><span class='span-bar{' failed' if span.failed else ''}' "
        f"data-span-id='{html.escape(str(span.event.data.get('trace.span_id')))}' "
        f"style='left:{left:.3f}%;width:{width:.3f}%'></span>{marks}</span>"
        f"<span class=duration>"
        f"{f'{duration:.2f} ms' if isinstance(duration, (int, float)) else ''}</span>"
        f"</summary>{_attributes(span.event.data, span.marks)}</details>"
    )
    for child in sorted(span.children, key=lambda child: child.start_ns):
        _draw(child, depth + 1, start, total, rows)


def _attributes(data: Mapping[str, Any], marks: Iterable[tuple[int, str, StoredEvent]]) -> str:
    cells = "".join(
        f"<tr><td>{html.escape(key)}</td><td>{html.escape(str(value))}</td></tr>"
        for key, value in sorted(data.items())
    )
    notes = "".join(
        f"<tr><td>{kind} at {_time_text(at)}</td>"
        f"<td>{html.escape(str(event.data.get('name') or event.data.get('body') or ''))}</td></tr>"
        for at, kind, event in sorted(marks, key=lambda mark: mark[0])
    )
    return f"<table class=attributes>{cells}{notes}</table>"
