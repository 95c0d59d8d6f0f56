"""`HoneycombEventsExporter`: an OpenTelemetry `SpanExporter` for Honeycomb's Events API."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import httpx
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from honeycomb_events._config import checked_dataset, resolve_dataset, signal_variable
from honeycomb_events._encode import Compression, Encoding
from honeycomb_events._errors import ConfigurationError
from honeycomb_events._transport import RetryPolicy
from honeycomb_events.otel._base import EventsExporter
from honeycomb_events.otel._common import service_dataset
from honeycomb_events.otel._spans import PROTECTED_FIELDS, span_event_groups

_logger = logging.getLogger("honeycomb_events")


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
    """

    _signal = "traces"

    def __init__(
        self,
        api_key: str | None = None,
        dataset: str | None = None,
        endpoint: str | None = None,
        *,
        timeout: float | None = None,
        compression: str | Compression | None = None,
        encoding: str | Encoding | None = None,
        retry: RetryPolicy | None = None,
        http_transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            api_key=api_key,
            endpoint=endpoint,
            timeout=timeout,
            compression=compression,
            encoding=encoding,
            retry=retry,
            http_transport=http_transport,
            protected_fields=PROTECTED_FIELDS,
        )
        configured, source = resolve_dataset(dataset, self._signal)
        self._fixed_dataset: str | None = None
        if dataset is not None:
            self._fixed_dataset = configured
        elif self.settings.api_key.is_classic:
            if configured is None:
                raise ConfigurationError(
                    f"the API key from {self.settings.api_key.source} is a classic key, which "
                    f"needs a dataset: set {signal_variable(self._signal, 'DATASET')} or "
                    "HONEYCOMB_DATASET, or pass dataset=..."
                )
            self._fixed_dataset = checked_dataset(configured, str(source))
        elif configured is not None:
            _logger.warning(
                "%s is ignored: with an environment key, Honeycomb names each trace dataset "
                "after the service.name resource attribute (pass dataset=... to override)",
                source,
            )

    def dataset_for(self, resource: Resource) -> str:
        """The dataset that spans of `resource` are sent to."""
        return self._fixed_dataset or service_dataset(resource.attributes)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Send `spans`; SUCCESS only when Honeycomb accepted every event. Never raises."""
        accepted = self._export(
            lambda tally: span_event_groups(spans, tally), f"{len(spans)} spans"
        )
        return SpanExportResult.SUCCESS if accepted else SpanExportResult.FAILURE
