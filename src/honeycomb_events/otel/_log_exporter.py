"""`HoneycombLogExporter`: an OpenTelemetry log record exporter for Honeycomb's Events API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from honeycomb_events.otel._base import EventsExporter
from honeycomb_events.otel.mapping._logs import PROTECTED_FIELDS, log_event_groups

try:
    from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
except ImportError:  # SDKs before 1.39 name them LogExporter and LogExportResult
    from opentelemetry.sdk._logs.export import LogExporter as LogRecordExporter
    from opentelemetry.sdk._logs.export import (  # type: ignore[assignment]
        LogExportResult as LogRecordExportResult,
    )

if TYPE_CHECKING:
    from opentelemetry.sdk._logs import ReadableLogRecord


class HoneycombLogExporter(EventsExporter, LogRecordExporter):
    """An OpenTelemetry log record exporter that sends log records to Honeycomb as events.

    Each record becomes the event Honeycomb itself builds from it over OTLP, so a record made
    inside a span shows on that span in the trace waterfall. Every argument falls back to the
    environment: `api_key` to ``HONEYCOMB_LOGS_APIKEY`` then ``HONEYCOMB_API_KEY``, `endpoint`
    to ``HONEYCOMB_LOGS_ENDPOINT`` then ``HONEYCOMB_API_ENDPOINT`` (default
    ``https://api.honeycomb.io``), `dataset` to ``HONEYCOMB_LOGS_DATASET`` then
    ``HONEYCOMB_DATASET``; `timeout` (seconds for one export, retries included) to
    ``HONEYCOMB_TIMEOUT``.

    Datasets, for any key: `dataset=` sends everything there. Otherwise each record goes to
    its resource's ``service.name`` when that is usable (not blank, not ``unknown_service...``),
    else to the configured dataset variable, else to ``unknown_log_source``.

    `presend` is called with the fields of each record's event, and returns them, changed
    or not, or None to drop the event; ``HONEYCOMB_REDACT_FIELDS`` and
    ``HONEYCOMB_DROP_EVENTS`` apply to each event after it (docs/presend.md).
    """

    _signal = "logs"
    _protected_fields = PROTECTED_FIELDS
    _batch_size_variable = "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE"

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        """Send `batch`; SUCCESS only when Honeycomb accepted every event. Never raises.

        Records of this package's own logger (about its exports: a rejected key, a backend
        that does not answer) are not sent: through a logging bridge they would go to the
        very backend that fails, and each would make another."""
        given = len(batch)  # a full batch streams (see `EventsExporter._export`)
        batch = _without_our_records(batch)
        accepted = self._export(
            lambda tally: log_event_groups(batch, tally), f"{len(batch)} log records", given
        )
        return LogRecordExportResult.SUCCESS if accepted else LogRecordExportResult.FAILURE


def _without_our_records(batch: Sequence[ReadableLogRecord]) -> list[ReadableLogRecord]:
    """`batch` without the records of this package's logger (the logging bridge names the
    scope after the logger). A logger's records come in runs of one scope object: each run's
    scope is asked once, not each record's."""
    kept = []
    last: object = None
    ours = False
    for item in batch:
        scope = getattr(item, "instrumentation_scope", None)
        if scope is not last:
            last = scope
            ours = _is_ours(scope)
        if not ours:
            kept.append(item)
    return kept


def _is_ours(scope: object) -> bool:
    name = getattr(scope, "name", None)
    return type(name) is str and (name == _OUR_LOGGER or name.startswith(_OUR_LOGGER + "."))


_OUR_LOGGER: Final = "honeycomb_events"
