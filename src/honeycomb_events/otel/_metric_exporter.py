"""`HoneycombMetricExporter`: an OpenTelemetry `MetricExporter` for Honeycomb's Events API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import httpx
from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricExporter,
    MetricExportResult,
    MetricsData,
)
from opentelemetry.sdk.metrics.view import Aggregation
from opentelemetry.sdk.resources import Resource

from honeycomb_events._formats import Compression, Encoding
from honeycomb_events._presend import PresendHook
from honeycomb_events._transport import RetryPolicy
from honeycomb_events.otel._base import EventsExporter
from honeycomb_events.otel.mapping._metrics import metric_event_groups

DELTA_TEMPORALITY: Final = {
    Counter: AggregationTemporality.DELTA,
    ObservableCounter: AggregationTemporality.DELTA,
    Histogram: AggregationTemporality.DELTA,
    UpDownCounter: AggregationTemporality.CUMULATIVE,
    ObservableUpDownCounter: AggregationTemporality.CUMULATIVE,
    ObservableGauge: AggregationTemporality.CUMULATIVE,
}
"""The default: OTel's own "delta" preference. Each event then says what happened in its
interval (requests in the last 60 s, that interval's latency distribution), which is how an
event store reads best; up-down counters stay cumulative, since their running level is what
one wants to see."""


class HoneycombMetricExporter(EventsExporter, MetricExporter):
    """An OpenTelemetry `MetricExporter` that sends data points to Honeycomb as events.

    Points of one export that share their second, resource and attributes become one event with
    a field per metric. `api_key` falls back to ``HONEYCOMB_METRICS_APIKEY`` then
    ``HONEYCOMB_API_KEY``, `endpoint` to ``HONEYCOMB_METRICS_ENDPOINT`` then
    ``HONEYCOMB_API_ENDPOINT``, `dataset` to ``HONEYCOMB_METRICS_DATASET``, else
    ``unknown_metrics`` (as at Honeycomb). `preferred_temporality` and `preferred_aggregation`
    are the SDK's; the default temporality is `DELTA_TEMPORALITY`.

    `presend` is called with the fields of each event (all the points it holds), and returns
    them, changed or not, or None to drop the event; ``HONEYCOMB_REDACT_FIELDS`` and
    ``HONEYCOMB_DROP_EVENTS`` apply to each event after it (docs/presend.md).
    """

    _signal = "metrics"
    _protected_fields = ("meta.signal_type", "meta.annotation_type", "service.name")

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
        preferred_temporality: dict[type, AggregationTemporality] | None = None,
        preferred_aggregation: dict[type, Aggregation] | None = None,
        presend: PresendHook | None = None,
        headers: Mapping[str, str] | None = None,
        client_certificate: str | None = None,
        client_key: str | None = None,
        user_agent_addition: str | None = None,
    ) -> None:
        EventsExporter.__init__(
            self,
            api_key,
            dataset,
            endpoint,
            timeout=timeout,
            compression=compression,
            encoding=encoding,
            retry=retry,
            http_transport=http_transport,
            presend=presend,
            headers=headers,
            client_certificate=client_certificate,
            client_key=client_key,
            user_agent_addition=user_agent_addition,
        )
        MetricExporter.__init__(
            self,
            preferred_temporality=DELTA_TEMPORALITY | (preferred_temporality or {}),
            preferred_aggregation=preferred_aggregation,
        )
        self.dataset = self.dataset_for(Resource.get_empty())
        """The one dataset of every data point, whatever its resource."""

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        """Send the data points; SUCCESS only when Honeycomb accepted every event."""
        # Each event is made as the encoder takes it: none is held once encoded.
        accepted = self._export(lambda tally: metric_event_groups(metrics_data, tally), "metrics")
        return MetricExportResult.SUCCESS if accepted else MetricExportResult.FAILURE
