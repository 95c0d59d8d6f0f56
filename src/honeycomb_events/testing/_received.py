"""`ReceivedTelemetry`: what a test asks of the events a local receiver got.

Events arrive asynchronously (a batch processor exports from its own thread, the exporter's
courier sends from another), so the methods that expect something flush the global providers
and then wait for it, up to a timeout; the others read what has arrived so far.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar

from ._flush import flush_providers
from ._report import event_line, listing, matches, short
from ._spans import PARENT_ID, SPAN_ID, Span, Trace, build_traces, is_span

if TYPE_CHECKING:
    from honeycomb_events.receiver import Receiver, StoredEvent

DEFAULT_TIMEOUT: Final = 5.0
_POLL_SECONDS: Final = 0.02

T = TypeVar("T")


class ReceivedTelemetry:
    """A started receiver and the questions a test asks of what it stored.

    `events`, `traces` and `trace` read what has arrived; `wait_for` and `span` first flush
    the global OpenTelemetry providers, then wait up to `timeout` seconds. Failures are
    `AssertionError`s that list what did arrive.
    """

    def __init__(self, receiver: Receiver, api_key: str) -> None:
        self.receiver = receiver
        self.api_key = api_key

    @property
    def url(self) -> str:
        """The receiver's endpoint, as `HONEYCOMB_API_ENDPOINT` holds it during the test."""
        return self.receiver.url

    def flush(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Flush the global tracer, logger and meter providers that are the SDK's."""
        flush_providers(timeout)

    def reset(self) -> None:
        """Forget every event the receiver stored."""
        self.receiver.reset()

    def events(
        self, dataset: str | None = None, *, where: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """The fields of the events stored so far, of `dataset` (any casing) or of all,
        oldest first, keeping those whose fields equal every item of `where`."""
        wanted = where or {}
        return [event.data for event in self._stored(dataset) if matches(event.data, wanted)]

    def wait_for(
        self,
        dataset: str | None = None,
        *,
        count: int = 1,
        where: Mapping[str, Any] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        flush: bool = True,
    ) -> list[dict[str, Any]]:
        """Flush, then wait until at least `count` events matching `where` are stored (in
        `dataset`, or in any); return them all. AssertionError after `timeout` seconds."""
        __tracebackhide__ = True
        if flush:
            self.flush(timeout)
        found = self._poll(lambda: self.events(dataset, where=where), len, count, timeout)
        if len(found) < count:
            where_text = f" matching {short(dict(where))}" if where else ""
            raise AssertionError(
                self._arrived(
                    f"waited {timeout} s for {count} events{where_text} in "
                    f"{_dataset_text(dataset)}, {len(found)} arrived",
                    dataset,
                    where or {},
                )
            )
        return found

    def span(
        self,
        name: str | None = None,
        *,
        parent: str | Span | Mapping[str, Any] | None = None,
        fields: Mapping[str, Any] | None = None,
        dataset: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Span:
        """Flush, then wait for the one span named `name`, under `parent` (the parent span's
        name, or the span itself), whose fields equal every item of `fields`.

        AssertionError when none arrives within `timeout` seconds, or when several match;
        the message lists the spans that arrived and how each differs.
        """
        __tracebackhide__ = True
        self.flush(timeout)
        wanted = ({} if name is None else {"name": name}) | dict(fields or {})

        def matching() -> list[Span]:
            spans = [span for trace in self.traces(dataset) for span in trace.spans()]
            names = {span.span_id: span.name for span in spans}
            return [
                span
                for span in spans
                if matches(span.fields, wanted) and _under(span, parent, names)
            ]

        found = self._poll(matching, len, 1, timeout)
        if len(found) == 1:
            return found[0]
        asked = ", ".join(
            [f"{key}={short(value)}" for key, value in wanted.items()]
            + ([f"parent={short(_parent_text(parent))}"] if parent is not None else [])
        )
        headline = (
            f"{len(found)} spans match {asked}"
            if found
            else f"no span matching {asked} arrived in {_dataset_text(dataset)} within {timeout} s"
        )
        raise AssertionError(self._span_listing(headline, dataset, wanted, parent))

    def traces(self, dataset: str | None = None) -> list[Trace]:
        """The traces stored so far, in the order their first span arrived, as trees."""
        return build_traces(self._stored(dataset))

    def trace(self, trace_id: str | None = None, *, dataset: str | None = None) -> Trace:
        """The trace `trace_id`, or the only trace when `trace_id` is None, as a tree."""
        __tracebackhide__ = True
        traces = self.traces(dataset)
        chosen = [trace for trace in traces if trace_id in (None, trace.trace_id)]
        if len(chosen) == 1:
            return chosen[0]
        lines = [
            f"{trace.trace_id}: {len(trace.spans())} spans, roots "
            + ", ".join(short(root.name) for root in trace.roots)
            for trace in traces
        ]
        wanted = f"trace {trace_id}" if trace_id else "exactly one trace"
        raise AssertionError(
            listing(
                f"wanted {wanted}, {len(traces)} traces arrived in {_dataset_text(dataset)}:", lines
            )
        )

    def _stored(self, dataset: str | None) -> list[StoredEvent]:
        if dataset is not None:
            return self.receiver.events(dataset)
        return [event for name in self.receiver.datasets() for event in self.receiver.events(name)]

    @staticmethod
    def _poll(read: Callable[[], T], size: Callable[[T], int], at_least: int, timeout: float) -> T:
        deadline = time.monotonic() + timeout
        while True:
            found = read()
            if size(found) >= at_least or time.monotonic() >= deadline:
                return found
            time.sleep(_POLL_SECONDS)

    def _counts(self) -> dict[str, int]:
        return {name: len(self.receiver.events(name)) for name in self.receiver.datasets()}

    def _arrived(self, headline: str, dataset: str | None, wanted: Mapping[str, Any]) -> str:
        lines = [event_line(event.dataset, event.data, wanted) for event in self._stored(dataset)]
        return listing(headline + (":" if lines else ""), lines, self._counts())

    def _span_listing(
        self,
        headline: str,
        dataset: str | None,
        wanted: Mapping[str, Any],
        parent: str | Span | Mapping[str, Any] | None,
    ) -> str:
        stored = self._stored(dataset)
        spans = [event for event in stored if is_span(event.data)]
        names = {event.data.get(SPAN_ID): event.data.get("name") for event in spans}
        lines = []
        for event in spans:
            parent_id = event.data.get(PARENT_ID)
            place = f" under {short(names.get(parent_id, parent_id))}" if parent_id else " (root)"
            lines.append(event_line(event.dataset, event.data, wanted, place))
        if parent is not None:
            headline += f" (parent wanted: {short(_parent_text(parent))})"
        return listing(f"{headline}; {len(spans)} spans arrived:", lines, self._counts())


def _dataset_text(dataset: str | None) -> str:
    return "any dataset" if dataset is None else f"dataset {dataset!r}"


def _parent_text(parent: str | Span | Mapping[str, Any]) -> Any:
    if isinstance(parent, str):
        return parent
    fields = parent.fields if isinstance(parent, Span) else parent
    return fields.get("name", fields.get(SPAN_ID))


def _under(
    span: Span, parent: str | Span | Mapping[str, Any] | None, names: Mapping[Any, Any]
) -> bool:
    """Whether `span`'s parent is `parent`: a name, or a span (by its id); None: any."""
    if parent is None:
        return True
    if isinstance(parent, str):
        return span.parent_id is not None and names.get(span.parent_id) == parent
    fields = parent.fields if isinstance(parent, Span) else parent
    return span.parent_id is not None and span.parent_id == fields.get(SPAN_ID)
