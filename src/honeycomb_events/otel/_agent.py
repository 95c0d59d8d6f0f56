"""What `opentelemetry-instrument` builds for ``OTEL_*_EXPORTER=honeycomb``.

The SDK's configurator makes each exporter with no arguments, and an exception there prints
two long tracebacks and leaves the application without any telemetry. Built through these
classes, an exporter whose settings are wrong (no key, an endpoint without a scheme) is replaced
by a stand-in: one line on stderr names the setting to fix, the application runs, and the
stand-in counts what it could not send. Constructed in code, the exporters still raise
`ConfigurationError`.

The configurator sets the global tracer provider before it builds any exporter: the span
exporter adds the `BaggageSpanProcessor` to it (unless ``HONEYCOMB_BAGGAGE_TO_SPANS=false``),
and when its sampler is a `DeterministicSampler` (``OTEL_TRACES_SAMPLER=honeycomb``), the log
exporter samples the records of traces with it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, ClassVar

from opentelemetry import trace
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricExporter,
    MetricExportResult,
    MetricsData,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from honeycomb_events._errors import ConfigurationError

try:
    from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
except ImportError:  # SDKs before 1.39 name them LogExporter and LogExportResult
    from opentelemetry.sdk._logs.export import LogExporter as LogRecordExporter
    from opentelemetry.sdk._logs.export import (  # type: ignore[assignment]
        LogExportResult as LogRecordExportResult,
    )
from honeycomb_events._notices import notice

from ._baggage import baggage_to_spans, copy_baggage_in
from ._log_exporter import HoneycombLogExporter
from ._metric_exporter import DELTA_TEMPORALITY, HoneycombMetricExporter
from ._sampled_logs import SampledLogExporter
from ._sampler import agents_sampler
from ._span_exporter import HoneycombEventsExporter


class _Unconfigured:
    """What the stand-ins share: the error, said once, and the count of what was not sent."""

    def _start(self, what: str, error: ConfigurationError) -> None:
        self.error = error
        self.not_sent = 0
        notice(
            f"configuration {what}",
            f"{what} are not sent to Honeycomb: {error}",
            level=logging.ERROR,
        )

    @property
    def stats(self) -> dict[str, int]:
        """``events_not_configured``: the items this stand-in was given and could not send."""
        return {"events_not_configured": self.not_sent}

    def force_flush(self, timeout_millis: float = 30_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        return None


class UnconfiguredSpanExporter(_Unconfigured, SpanExporter):
    """Stands in for a span exporter whose settings are wrong."""

    def __init__(self, error: ConfigurationError) -> None:
        self._start("spans", error)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.not_sent += len(spans)
        return SpanExportResult.FAILURE


class UnconfiguredMetricExporter(_Unconfigured, MetricExporter):
    """Stands in for a metric exporter whose settings are wrong."""

    def __init__(self, error: ConfigurationError) -> None:
        none: dict[type, AggregationTemporality] = {}
        MetricExporter.__init__(self, preferred_temporality=DELTA_TEMPORALITY | none)
        self._start("metrics", error)

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        self.not_sent += sum(
            len(metric.data.data_points)
            for resource_metrics in metrics_data.resource_metrics
            for scope_metrics in resource_metrics.scope_metrics
            for metric in scope_metrics.metrics
        )
        return MetricExportResult.FAILURE


class UnconfiguredLogExporter(_Unconfigured, LogRecordExporter):
    """Stands in for a log exporter whose settings are wrong."""

    def __init__(self, error: ConfigurationError) -> None:
        self._start("logs", error)

    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        self.not_sent += len(batch)
        return LogRecordExportResult.FAILURE


class _ForTheAgent:
    """Builds `_real`, or `_stand_in` when a setting is wrong."""

    _real: ClassVar[type[Any]]
    _stand_in: ClassVar[type[Any]]

    def __new__(cls, **kwargs: Any) -> Any:
        try:
            return cls._build(**kwargs)
        except ConfigurationError as error:
            return cls._stand_in(error)

    @classmethod
    def _build(cls, **kwargs: Any) -> Any:
        return cls._real(**kwargs)


class AgentSpanExporter(_ForTheAgent, HoneycombEventsExporter):
    """`HoneycombEventsExporter` as the agent builds it."""

    _real = HoneycombEventsExporter
    _stand_in = UnconfiguredSpanExporter

    @classmethod
    def _build(cls, **kwargs: Any) -> Any:
        exporter = cls._real(**kwargs)
        provider = trace.get_tracer_provider()
        if isinstance(provider, TracerProvider):
            if baggage_to_spans():
                copy_baggage_in(provider)
            agents_sampler()  # says if HONEYCOMB_SAMPLE_RATE is set and not used
        return exporter


class AgentMetricExporter(_ForTheAgent, HoneycombMetricExporter):
    """`HoneycombMetricExporter` as the agent builds it."""

    _real = HoneycombMetricExporter
    _stand_in = UnconfiguredMetricExporter


class AgentLogExporter(_ForTheAgent, HoneycombLogExporter):
    """`HoneycombLogExporter` as the agent builds it."""

    _real = HoneycombLogExporter
    _stand_in = UnconfiguredLogExporter

    @classmethod
    def _build(cls, **kwargs: Any) -> Any:
        sampler = agents_sampler()
        if sampler is not None and sampler.rate != 1:
            return SampledLogExporter(sampler, **kwargs)
        return cls._real(**kwargs)
