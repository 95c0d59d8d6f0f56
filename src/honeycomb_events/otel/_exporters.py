"""OpenTelemetry exporters: mappings turn SDK objects into events, the transport sends them.

An exporter only orchestrates: it routes events to datasets, sends one batch request per
dataset within one deadline, and turns per-event results into the SDK's export result.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import httpx
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from honeycomb_events._config import (
    Settings,
    Signal,
    checked_dataset,
    resolve_dataset,
    resolve_settings,
    signal_variable,
)
from honeycomb_events._encode import BatchEncoder, Compression, Encoding
from honeycomb_events._errors import AuthenticationError, ConfigurationError
from honeycomb_events._model import BatchEvent, EventResult
from honeycomb_events._transport import RetryPolicy, Transport

from ._common import service_dataset
from ._spans import PROTECTED_FIELDS, map_spans

_logger = logging.getLogger("honeycomb_events")


class _EventsExporter:
    """What the span, metric and log exporters share: settings, transport, delivery, logging.

    `export` never raises and never runs past `timeout` seconds; after `shutdown`, exports fail
    at once without a request. Safe to call from several threads, and after `os.fork()`.
    """

    _signal: Signal

    def __init__(
        self,
        *,
        api_key: str | None,
        endpoint: str | None,
        timeout: float | None,
        compression: str | Compression | None,
        encoding: str | Encoding | None,
        retry: RetryPolicy | None,
        http_transport: httpx.BaseTransport | None,
        protected_fields: Collection[str],
    ) -> None:
        self.settings: Settings = resolve_settings(
            api_key=api_key,
            endpoint=endpoint,
            timeout=timeout,
            compression=compression,
            encoding=encoding,
            signal=self._signal,
        )
        self._transport = Transport(
            self.settings,
            retry=retry,
            encoder=BatchEncoder(
                self.settings.encoding,
                self.settings.compression,
                protected_fields=protected_fields,
            ),
            http_transport=http_transport,
        )
        self._shutdown_lock = threading.Lock()
        self._key_rejection_logged = False

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(endpoint={self.settings.endpoint!r}, "
            f"api_key={self.settings.api_key!r})"
        )

    @property
    def stats(self) -> dict[str, Any]:
        """What this exporter sent: see `TransportStats.snapshot`."""
        return self._transport.stats.snapshot()

    def _deliver(self, batches: Mapping[str, list[BatchEvent]]) -> bool:
        """Send each dataset's events within one deadline; True if every event was accepted."""
        deadline = time.monotonic() + self.settings.timeout
        all_accepted = True
        for dataset, events in batches.items():
            remaining = deadline - time.monotonic()
            try:
                results = self._transport.send_batch(dataset, events, timeout=max(remaining, 0))
            except AuthenticationError as error:
                self._log_key_rejection(error)
                return False
            except Exception:  # one dataset's failure must not keep the others from being sent
                _logger.exception(
                    "sending %d %s events to %r failed", len(events), self._signal, dataset
                )
                all_accepted = False
                continue
            failed = [result for result in results if not result.ok]
            if failed:
                all_accepted = False
                self._log_failures(dataset, len(results), failed)
        return all_accepted

    def _log_key_rejection(self, error: AuthenticationError) -> None:
        # Every export would say the same: once at ERROR, then quietly.
        level = logging.DEBUG if self._key_rejection_logged else logging.ERROR
        self._key_rejection_logged = True
        _logger.log(level, "%s", error)

    def _log_failures(self, dataset: str, total: int, failed: list[EventResult]) -> None:
        by_status = collections.Counter(result.status for result in failed)
        summary = ", ".join(
            f"{count} x {status or 'no response'}" for status, count in sorted(by_status.items())
        )
        _logger.warning(
            "%d of %d %s events to dataset %r were not accepted (%s); first error: %s",
            len(failed),
            total,
            self._signal,
            dataset,
            summary,
            failed[0].error,
        )

    def _close(self) -> None:
        with self._shutdown_lock:
            self._transport.close()

    @property
    def _closed(self) -> bool:
        return self._transport.closed


class HoneycombEventsExporter(_EventsExporter, SpanExporter):
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
        if self._closed:
            return SpanExportResult.FAILURE
        try:
            batches: dict[str, list[BatchEvent]] = {}
            for resource, events in map_spans(spans):
                batches.setdefault(self.dataset_for(resource), []).extend(events)
            accepted = self._deliver(batches)
        except Exception:  # an exporter must not raise into the SDK's worker
            _logger.exception("exporting %d spans to Honeycomb failed", len(spans))
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS if accepted else SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Nothing is held between exports: there is nothing to flush."""
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        """Stop: a retry backoff in progress ends at once; later exports fail without a
        request. Idempotent."""
        self._close()
