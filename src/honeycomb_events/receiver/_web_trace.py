"""The trace view at ``/trace/<trace id>``: a waterfall of the trace's spans, as Jaeger and
Honeycomb draw one.

Spans are the events with a ``trace.span_id``. Each row shows the span's service (its
``service.name``, with the service's colour on its bar and in the legend), name, kind, the
request it made or served, its start from the trace's start and its duration; a failed span
(``error: true``) has a red outline and its error message in the row. Span events and log
records linked to a span (``trace.parent_id``) are marks on its bar whose text shows on hover.
A click on a row shows the span's fields, resource fields apart, its exception's stack trace
and its events; a row's fold button hides the spans below it.

The page is bounded whatever is stored: at most `MAX_SPANS_DRAWN` spans and `MAX_MARKS_DRAWN`
marks, the spans' fields up to `SPAN_DATA_BUDGET`. Any stored value, of any type or size,
renders: ids and names that are not strings, durations that are huge, negative or not numbers,
parent chains of any length and parent cycles.
"""

from __future__ import annotations

import html
from collections import Counter
from typing import Any, Final

import msgspec

from ._span_fields import Mark, SpanFacts, marks_by_span, span_facts, split_fields
from ._store import EventStore
from ._trace_queries import SpanRow, TraceRows
from ._trace_tree import depth_first, descendant_counts
from ._web_page import count_text, ms_text, page, service_colour, swatch, time_text, value_text
from ._web_trace_assets import TRACE_SCRIPT, TRACE_STYLE

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
_TIP_AT_END: Final = 60.0
"""A mark further right than this (percent of the track) opens its text leftwards."""


class _Axis:
    """The trace's time axis: where a moment falls, in percent of the track's width."""

    def __init__(self, spans: list[SpanRow]) -> None:
        self.start = min(span.time_ns for span in spans)
        self.total = max(max(_end_ns(span) for span in spans) - self.start, 1)

    def at(self, nanos: int) -> float:
        return min(max((nanos - self.start) / self.total * 100, 0.0), 100.0)

    def offset(self, nanos: int) -> str:
        """A moment as the time since the trace's start: "+12.30 ms"."""
        return f"+{ms_text((nanos - self.start) / 1e6)}"


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
    marks = marks_by_span(rows.marks)
    ordered = depth_first(
        rows.spans,
        span_id=lambda span: span.span_id,
        parent_id=lambda span: span.parent_id,
        start=lambda span: span.time_ns,
    )
    below = descendant_counts([depth for _, depth in ordered])
    drawn = "".join(
        _span_row(span, depth, hidden, marks.pop(span.span_id, []) if span.span_id else [], axis)
        for (span, depth), hidden in zip(ordered, below, strict=True)
    )
    total_ms = axis.total / 1e6
    ticks = "".join(f"<span>{ms_text(total_ms * quarter / 4)}</span>" for quarter in range(5))
    body = (
        f"<p><a href='/'>all traces</a></p><h1>Trace {html.escape(trace_id)}</h1>"
        f"<p>{count_text(rows.span_total, 'span')}, {time_text(axis.start)}, "
        f"{ms_text(total_ms)}</p>"
        + "".join(f"<p class=note>{html.escape(note)}</p>" for note in _notes(rows))
        + _legend(rows.spans)
        + "<p class=controls><button type=button data-fold-all=collapse>collapse all</button>"
        "<button type=button data-fold-all=expand>expand all</button></p>"
        "<div class=axis><span>span</span><span class=offset>start</span>"
        f"<span class=scale>{ticks}</span><span class=duration>duration</span></div>"
        f"<div class=waterfall>{drawn}</div>"
    )
    return page(f"trace {trace_id}", body, style=TRACE_STYLE, script=TRACE_SCRIPT)


def _notes(rows: TraceRows) -> list[str]:
    notes = []
    hidden = rows.span_total - len(rows.spans)
    if hidden > 0:
        notes.append(
            f"{count_text(hidden, 'more span')} {'is' if hidden == 1 else 'are'} not drawn: "
            f"this page draws the first {len(rows.spans)} by start time."
        )
    if rows.mark_total > len(rows.marks):
        notes.append(
            f"{rows.mark_total - len(rows.marks)} more span events and logs are not drawn."
        )
    return notes


def _legend(spans: list[SpanRow]) -> str:
    """The trace's services with their colours and span counts, and what the marks mean."""
    services = Counter(span.service for span in spans)
    named = "".join(
        f"<span class=service>{swatch(service)}"
        f"{'(no service.name)' if service is None else html.escape(service)} "
        f"<span class=note>{count_text(spans_of, 'span')}</span></span>"
        for service, spans_of in services.most_common()
    )
    return (
        f"<div class=legend><b>services</b>{named}</div>"
        "<div class=legend><b>marks</b><span><span class='key event'></span>span event</span>"
        "<span><span class='key log'></span>log record</span>"
        "<span><span class='key exception'></span>exception or error</span>"
        "<span><span class='key failed'></span>failed span</span>"
        "<span class=note>hover over a mark for its text; click a span for its fields</span>"
        "</div>"
    )


def _span_row(span: SpanRow, depth: int, below: int, marks: list[Mark], axis: _Axis) -> str:
    data = _fields(span.data)
    name = _span_name(span, data)
    facts = span_facts(data if isinstance(data, dict) else {}, name, marks, span.error)
    left = axis.at(span.time_ns)
    width = axis.at(_end_ns(span)) - left
    return (
        f"<details class=row data-depth='{depth}'><summary>"
        f"{_name_cell(span, name, depth, below, facts)}"
        f"<span class=offset>{axis.offset(span.time_ns)}</span>"
        f"<span class=track><span class='span-bar{' failed' if span.error else ''}' "
        f"data-span-id='{html.escape(span.span_id or '')}' "
        f"style='left:{left:.3f}%;width:{width:.3f}%;--c:{service_colour(span.service)}'></span>"
        f"{''.join(_mark(mark, axis) for mark in marks)}</span>"
        f"<span class=duration>{ms_text(span.duration_ms)}</span>"
        f"</summary>{_details(data, facts, marks, axis)}</details>"
    )


def _name_cell(span: SpanRow, name: str, depth: int, below: int, facts: SpanFacts) -> str:
    deeper = f" title='depth {depth}'" if depth > MAX_INDENT else ""
    fold, folded = "<span class=leaf></span>", ""
    if below:
        hides = count_text(below, "span")
        fold = (
            f"<button type=button class=fold aria-expanded=true title='hide the {hides} below'>"
            "\u25be</button>"
        )
        folded = f"<span class=folded>{hides} hidden</span>"
    service = (
        ""
        if span.service is None
        else f"<span class=svc>{swatch(span.service)}{html.escape(span.service)}</span>"
    )
    sub = "".join(
        f"<span class={kind} title='{html.escape(text)}'>{html.escape(text)}</span>"
        for kind, text in (("kind", facts.kind), ("url", facts.request), ("why", facts.error))
        if text
    )
    sub_line = f"<span class='line sub'>{sub}</span>" if sub else ""
    return (
        f"<span class=name style='padding-left:{min(depth, MAX_INDENT) * _INDENT_PX}px'{deeper}>"
        f"<span class=line>{fold}{service}"
        f"<span class='op{' error' if span.error else ''}' title='{html.escape(name)}'>"
        f"{html.escape(name)}</span>{folded}</span>"
        f"{sub_line}</span>"
    )


def _mark(mark: Mark, axis: _Axis) -> str:
    at = axis.at(mark.time_ns)
    tip = f"{mark.heading} at {axis.offset(mark.time_ns)}\n{mark.text}".rstrip()
    end = " data-end" if at > _TIP_AT_END else ""
    return (
        f"<span class='mark {mark.kind}' style='left:{at:.3f}%'{end}>"
        f"<span class=tip>{html.escape(tip)}</span></span>"
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
        return value_text(data["name"])[:200]
    return ""


def _details(
    data: dict[str, Any] | str | None, facts: SpanFacts, marks: list[Mark], axis: _Axis
) -> str:
    parts = []
    if facts.stacktrace is not None:
        parts.append(
            f"<div class=exception><span class=error>{html.escape(facts.error or 'exception')}"
            "</span>"
            f"<pre class=stack>{html.escape(facts.stacktrace)}</pre></div>"
        )
    if data is None:
        parts.append("<p>fields not shown: the trace's spans are too large</p>")
    elif isinstance(data, str):
        parts.append(f"<p>{html.escape(data)}</p>")
    else:
        own, resource = split_fields(data)
        if facts.stacktrace is not None:
            own = [(key, value) for key, value in own if key != "exception.stacktrace"]
        parts.append(f"<h3>span fields</h3>{_table(own)}")
        if resource:
            parts.append(f"<h3>resource fields</h3>{_table(resource)}")
    if marks:
        cells = "".join(
            f"<tr><td>{axis.offset(mark.time_ns)}</td><td>{html.escape(mark.heading)}</td>"
            f"<td>{html.escape(mark.text)}</td></tr>"
            for mark in marks
        )
        parts.append(f"<h3>span events and logs</h3><table class=attributes>{cells}</table>")
    return f"<div class=fields>{''.join(parts)}</div>"


def _table(fields: list[tuple[str, Any]]) -> str:
    cells = "".join(
        f"<tr><td>{html.escape(key)}</td><td>{html.escape(value_text(value))}</td></tr>"
        for key, value in fields
    )
    return f"<table class=attributes>{cells}</table>"
