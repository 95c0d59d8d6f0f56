"""Spans as trees: the events of a trace, each span with its children, span events and links.

A span event and a link are stored as events of their own, marked by
`meta.annotation_type` and pointing at their span through `trace.parent_id`; log records made
inside a span are marked the same way. Here they hang on their span instead of being spans.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

TRACE_ID = "trace.trace_id"
SPAN_ID = "trace.span_id"
PARENT_ID = "trace.parent_id"
ANNOTATION = "meta.annotation_type"


class Received(Protocol):
    """A stored event as the receiver gives it: its time (a span's start) and fields."""

    @property
    def time_ns(self) -> int: ...

    @property
    def data(self) -> dict[str, Any]: ...


def is_span(fields: Mapping[str, Any]) -> bool:
    """A span: a trace id and a span id, and no annotation mark."""
    return TRACE_ID in fields and SPAN_ID in fields and ANNOTATION not in fields


@dataclass(eq=False)
class Span:
    """One span's fields, with its children (by start time), span events and links."""

    fields: dict[str, Any]
    time_ns: int = 0
    children: list[Span] = field(default_factory=list)
    span_events: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> Any:
        return self.fields.get("name")

    @property
    def span_id(self) -> Any:
        return self.fields.get(SPAN_ID)

    @property
    def parent_id(self) -> Any:
        return self.fields.get(PARENT_ID)

    @property
    def trace_id(self) -> Any:
        return self.fields.get(TRACE_ID)

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)

    def walk(self) -> Iterator[Span]:
        """This span and every span under it, depth first."""
        stack = [self]
        while stack:
            span = stack.pop()
            yield span
            stack.extend(reversed(span.children))

    def find(self, name: str) -> Span:
        """The one span named `name` in this tree; AssertionError if none or several."""
        __tracebackhide__ = True
        found = [span for span in self.walk() if span.name == name]
        if len(found) != 1:
            raise AssertionError(
                f"{len(found)} spans named {name!r} under {self.name!r}:\n{self.render()}"
            )
        return found[0]

    def render(self, limit: int = 20) -> str:
        """The tree's span names, indented, at most `limit` lines."""
        lines: list[str] = []
        stack = [(self, 0)]
        while stack:
            span, depth = stack.pop()
            extra = f" ({len(span.span_events)} span events)" if span.span_events else ""
            lines.append(f"{'  ' * depth}{span.name!r}{extra}")
            stack.extend((child, depth + 1) for child in reversed(span.children))
        if len(lines) > limit:
            lines[limit - 1 :] = [f"... and {len(lines) - limit + 1} more spans"]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Span(name={self.name!r}, span_id={self.span_id!r}, children={len(self.children)})"


@dataclass(eq=False)
class Trace:
    """The spans of one trace, as trees: `roots` are the spans whose parent did not arrive."""

    trace_id: str
    roots: list[Span]

    @property
    def root(self) -> Span:
        """The trace's one root span; AssertionError when it has none or several."""
        __tracebackhide__ = True
        if len(self.roots) != 1:
            raise AssertionError(
                f"trace {self.trace_id} has {len(self.roots)} root spans:\n{self.render()}"
            )
        return self.roots[0]

    def spans(self) -> list[Span]:
        """Every span of the trace, depth first from each root."""
        return [span for root in self.roots for span in root.walk()]

    def find(self, name: str) -> Span:
        """The one span named `name` in the trace; AssertionError if none or several."""
        __tracebackhide__ = True
        found = [span for span in self.spans() if span.name == name]
        if len(found) != 1:
            raise AssertionError(f"{len(found)} spans named {name!r}:\n{self.render()}")
        return found[0]

    def render(self, limit: int = 20) -> str:
        lines = "\n".join(root.render(limit) for root in self.roots)
        return "\n".join(lines.splitlines()[:limit])


def build_traces(events: Sequence[Received]) -> list[Trace]:
    """The traces among `events`, in the order their first span arrived."""
    spans: dict[str, list[Span]] = {}
    annotations: list[Mapping[str, Any]] = []
    for event in events:
        fields = event.data
        if is_span(fields):
            span = Span(dict(fields), event.time_ns)
            spans.setdefault(str(fields[TRACE_ID]), []).append(span)
        elif TRACE_ID in fields and PARENT_ID in fields:
            annotations.append(fields)
    by_id = {(trace_id, span.span_id): span for trace_id, group in spans.items() for span in group}
    for annotation in annotations:
        owner = by_id.get((str(annotation[TRACE_ID]), annotation[PARENT_ID]))
        if owner is not None:
            kind = owner.links if annotation.get(ANNOTATION) == "link" else owner.span_events
            kind.append(dict(annotation))
    return [_tree(trace_id, group, by_id) for trace_id, group in spans.items()]


def _tree(trace_id: str, group: list[Span], by_id: Mapping[tuple[str, Any], Span]) -> Trace:
    """Children under their parents by start time; a span whose parent did not arrive, or
    whose parent would close a cycle, is a root."""
    group = sorted(group, key=lambda span: span.time_ns)
    attached: dict[int, Span] = {}
    roots = []
    for span in group:
        parent = by_id.get((trace_id, span.parent_id)) if span.parent_id else None
        if parent is None or _descends(parent, span, attached):
            roots.append(span)
        else:
            parent.children.append(span)
            attached[id(span)] = parent
    return Trace(trace_id, roots)


def _descends(candidate: Span, span: Span, attached: Mapping[int, Span]) -> bool:
    """Whether `candidate` is `span` or hangs under it already."""
    current: Span | None = candidate
    while current is not None:
        if current is span:
            return True
        current = attached.get(id(current))
    return False
