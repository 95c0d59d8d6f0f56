"""`HoneycombEventsExporter`: an OpenTelemetry `SpanExporter` for Honeycomb's Events API."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from honeycomb_events.otel._base import EventsExporter
from honeycomb_events.otel._trace_links import TraceLinks, local_visualizations
from honeycomb_events.otel.mapping._spans import PROTECTED_FIELDS, span_event_groups


class HoneycombEventsExporter(EventsExporter, SpanExporter):
    """An OpenTelemetry `SpanExporter` that sends spans to Honeycomb as events.

    Each span becomes the event Honeycomb itself builds from it over OTLP (plus one event per
    span event and per link), so trace views work unchanged. Every argument falls back to the
    environment: `api_key` to ``HONEYCOMB_TRACES_APIKEY`` then ``HONEYCOMB_API_KEY``, `endpoint`
    to ``HONEYCOMB_TRACES_ENDPOINT`` then ``HONEYCOMB_API_ENDPOINT`` (default
    ``https://api.honeycomb.io``), `dataset` to ``HONEYCOMB_TRACES_DATASET`` then
    ``HONEYCOMB_DATASET``; `timeout` (seconds for one export, retries included) to
    ``HONEYCOMB_TIMEOUT``.

    Datasets: `dataset=` sends everything there. Otherwise, as at Honeycomb, an environment key
    sends each span to the dataset named by its resource's ``service.name`` (the dataset
    variables are then ignored), and a classic key sends to the configured dataset, which it
    requires.

    `presend` is called with the fields of each event (a span's, a span event's, a link's),
    and returns them, changed or not, or None to drop the event; ``HONEYCOMB_REDACT_FIELDS``
    and ``HONEYCOMB_DROP_EVENTS`` apply to each event after it (docs/presend.md).
    """

    _signal = "traces"
    _protected_fields = PROTECTED_FIELDS
    _batch_size_variable = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"

    _links: TraceLinks | None = None
    """Links printed to root spans' traces (`_trace_links`), made at the first export."""
    _links_decided = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Send `spans`; SUCCESS only when Honeycomb accepted every event. Never raises."""
        if not self._links_decided:
            self._links_decided = True
            if local_visualizations():
                self._links = TraceLinks(self.settings, self.dataset_for)
        if self._links is not None:
            self._links.note(spans)
        accepted = self._export(
            lambda tally: span_event_groups(spans, tally), f"{len(spans)} spans", len(spans)
        )
        return SpanExportResult.SUCCESS if accepted else SpanExportResult.FAILURE
