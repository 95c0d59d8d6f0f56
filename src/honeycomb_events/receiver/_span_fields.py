"""What a span's fields and its events say, for the trace view: its service, kind, request
and error message; which fields describe the resource; what each span event or log is.

Every field may hold any JSON value, of any size: texts are cut to a bounded length, and a
value that is not a string is shown as JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from ._trace_queries import MarkRow
from ._web_page import value_text

RESOURCE_PREFIXES: Final = (
    "service.",
    "telemetry.",
    "host.",
    "process.",
    "os.",
    "container.",
    "k8s.",
    "cloud.",
    "deployment.",
    "faas.",
    "device.",
    "webengine.",
)
"""Fields named in OpenTelemetry's resource namespaces, which Honeycomb stores on every event
from the resource's attributes: the trace view shows them apart from the span's own."""
ROW_TEXT: Final = 300
"""A row shows at most this many characters of a request or an error message."""
_SEVERE: Final = ("err", "fatal", "crit", "alert", "emerg")


@dataclass(frozen=True, slots=True)
class Mark:
    """A span event or log record drawn on its span's bar: `kind` is "event", "log" or
    "exception" (an exception event, a mark with ``error: true``, or a log of severity error
    or worse); `heading` and `text` are what hovering shows, `exception` its exception's type
    and message ("" for none)."""

    time_ns: int
    kind: str
    heading: str
    text: str
    exception: str


@dataclass(frozen=True, slots=True)
class SpanFacts:
    """What a span's row shows next to its name; None for what the span does not say."""

    kind: str | None
    request: str | None
    error: str | None
    stacktrace: str | None


def is_resource_field(name: str) -> bool:
    return name.startswith(RESOURCE_PREFIXES)


def split_fields(fields: Mapping[str, Any]) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    """The span's own fields and its resource fields, each sorted by name."""
    own: list[tuple[str, Any]] = []
    resource: list[tuple[str, Any]] = []
    for name, value in sorted(fields.items()):
        (resource if is_resource_field(name) else own).append((name, value))
    return own, resource


def _first(fields: Mapping[str, Any], *names: str, limit: int = ROW_TEXT) -> str | None:
    """The first of `names` the fields hold a non-empty value for, as text of at most `limit`
    characters."""
    for name in names:
        value = fields.get(name)
        if value is not None and value != "":
            # A huge value is cut before it is made text: JSON of a string cut is still text.
            return value_text(value[:limit] if isinstance(value, str) else value)[:limit]
    return None


def request_text(fields: Mapping[str, Any]) -> str | None:
    """The HTTP request a span made or served: method and URL (``url.full``, ``http.url``),
    else method, ``server.address`` and path (``url.path``, ``http.target``, ``http.route``);
    None without a URL, a method or a path (a database's address alone is no request)."""
    method = _first(fields, "http.request.method", "http.method")
    url = _first(fields, "url.full", "http.url")
    if url is None:
        path = _first(fields, "url.path", "http.target", "http.route")
        if method is None and path is None:
            return None
        url = f"{_first(fields, 'server.address', 'net.peer.name') or ''}{path or ''}"
    return f"{method or ''} {url}".strip()[:ROW_TEXT] or None


def error_text(fields: Mapping[str, Any], marks: Iterable[Mark]) -> str | None:
    """Why a span failed: its exception (the span's ``exception.*`` fields, else its exception
    event's), else ``error.message``, else ``status_message``."""
    message = _first(fields, "exception.message")
    if message is not None:
        kind = _first(fields, "exception.type")
        return message if kind is None or message.startswith(kind) else f"{kind}: {message}"
    for mark in marks:
        if mark.exception:
            return mark.exception
    return _first(fields, "error.message", "status_message", "exception.type")


def span_facts(fields: Mapping[str, Any], name: str, marks: list[Mark], failed: bool) -> SpanFacts:
    """The facts of a span with these fields, name and marks; the error only when it failed,
    the request only when its name does not say it already."""
    request = request_text(fields)
    stacktrace = fields.get("exception.stacktrace")
    return SpanFacts(
        kind=_first(fields, "span.kind", limit=40),
        request=None if request is None or request in name else request,
        error=error_text(fields, marks) if failed else None,
        stacktrace=stacktrace if isinstance(stacktrace, str) and stacktrace else None,
    )


def marks_by_span(rows: Iterable[MarkRow]) -> dict[str, list[Mark]]:
    """Span events and log records by the id of their span; links are not drawn."""
    found: dict[str, list[Mark]] = {}
    for row in rows:
        if row.parent_id is None or row.annotation_type == "link":
            continue
        found.setdefault(row.parent_id, []).append(_mark(row))
    return found


def _mark(row: MarkRow) -> Mark:
    log = row.signal_type == "log"
    label = "" if row.label is None else str(row.label)
    severity = "" if row.severity is None else str(row.severity)
    exception = ": ".join(
        str(part) for part in (row.exception_type, row.exception_message) if part is not None
    )
    severe = severity.lower().startswith(_SEVERE)
    if exception or row.error or (log and severe) or (not log and label == "exception"):
        kind = "exception"
    else:
        kind = "log" if log else "event"
    heading = "log" if log else "span event"
    if severity:
        heading += f" ({severity})"
    text = label if not exception or exception == label else f"{label}\n{exception}".strip()
    return Mark(row.time_ns, kind, heading, text, exception)
