"""`configure_opentelemetry()`: providers, processors and readers in one call, for programs that
do not run under `opentelemetry-instrument`."""

from __future__ import annotations

import functools
import logging
import logging.config
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from honeycomb_events.otel._baggage import BaggageSpanProcessor, baggage_to_spans
from honeycomb_events.otel._log_exporter import HoneycombLogExporter
from honeycomb_events.otel._metric_exporter import HoneycombMetricExporter
from honeycomb_events.otel._sampled_logs import SampledLogExporter
from honeycomb_events.otel._sampler import DeterministicSampler, configured_sampler
from honeycomb_events.otel._span_exporter import HoneycombEventsExporter

_logger = logging.getLogger("honeycomb_events")


@dataclass(frozen=True)
class Configured:
    """The providers `configure_opentelemetry` set globally (None for a signal left off)."""

    tracer_provider: TracerProvider | None
    meter_provider: MeterProvider | None
    logger_provider: LoggerProvider | None


_lock = threading.Lock()
_first_call: list[Configured] = []  # what the first call set: at most one entry


def configure_opentelemetry(
    *,
    service_name: str | None = None,
    traces: bool = True,
    metrics_enabled: bool = True,
    logs: bool = True,
    metric_export_interval_millis: float = 60_000,
    log_level: int = logging.NOTSET,
    sample_rate: int | None = None,
    baggage: bool | None = None,
) -> Configured:
    """Send traces, metrics and logs to Honeycomb, configured from the environment.

    Sets the global tracer, meter and logger providers, with a resource from
    `Resource.create` (so ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` apply;
    `service_name` wins over them), the exporters of this package behind the SDK's batch
    processor and periodic reader, and an OTel `LoggingHandler` on the root logger at
    `log_level`. Every exporter setting comes from the environment (``HONEYCOMB_API_KEY``
    and the rest). The SDK flushes and shuts everything down at interpreter exit.

    `sample_rate` N (else ``HONEYCOMB_SAMPLE_RATE``) keeps 1 trace in N with a
    `DeterministicSampler`, each kept span and the log records of kept traces carrying
    ``SampleRate`` = N; the log records of the other traces are dropped with them. `baggage`
    (else ``HONEYCOMB_BAGGAGE_TO_SPANS``, else on) copies the current baggage onto each span as
    it starts: every entry travels to downstream services and becomes a field in Honeycomb.

    The application's logging stays its own: the handler changes no logger's level (records
    reach it when the application's loggers let them through), and `logging.basicConfig`,
    `dictConfig` and `fileConfig` called afterwards work as they would without it (the handler
    steps aside while they run, and comes back).

    Idempotent: a later call returns the first call's providers and changes nothing.
    """
    with _lock:
        if _first_call:
            _logger.debug("configure_opentelemetry() was already called: nothing changed")
            return _first_call[0]
        resource = Resource.create({"service.name": service_name} if service_name else {})
        tracer_provider = meter_provider = logger_provider = sampler = None
        if traces:
            sampler = configured_sampler(sample_rate)
            tracer_provider = _tracer_provider(resource, sampler, baggage_to_spans(baggage))
            trace.set_tracer_provider(tracer_provider)
        if metrics_enabled:
            reader = PeriodicExportingMetricReader(
                HoneycombMetricExporter(), export_interval_millis=metric_export_interval_millis
            )
            meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
            metrics.set_meter_provider(meter_provider)
        if logs:
            logger_provider = LoggerProvider(resource=resource)
            logger_provider.add_log_record_processor(
                BatchLogRecordProcessor(_log_exporter(sampler))
            )
            set_logger_provider(logger_provider)
            handler = LoggingHandler(level=log_level, logger_provider=logger_provider)
            logging.getLogger().addHandler(handler)
            _keep_through_logging_configuration(handler)
        _first_call.append(Configured(tracer_provider, meter_provider, logger_provider))
        return _first_call[0]


def _tracer_provider(
    resource: Resource, sampler: DeterministicSampler | None, baggage: bool
) -> TracerProvider:
    """Without `sampler`, the SDK's (``OTEL_TRACES_SAMPLER``)."""
    provider = TracerProvider(resource=resource, sampler=sampler)
    if baggage:
        provider.add_span_processor(BaggageSpanProcessor())
    provider.add_span_processor(BatchSpanProcessor(HoneycombEventsExporter()))
    return provider


def _log_exporter(sampler: DeterministicSampler | None) -> HoneycombLogExporter:
    """Records go with their traces when some are sampled out (see `SampledLogExporter`)."""
    if sampler is not None and sampler.rate != 1:
        return SampledLogExporter(sampler)
    return HoneycombLogExporter()


def _keep_through_logging_configuration(handler: logging.Handler) -> None:
    """Let the application configure its logging after us as if we were not there.

    `logging.basicConfig()` does nothing once the root logger has a handler, so an
    application's own call (and with it, its level) would be ignored; `dictConfig` and
    `fileConfig` would remove the handler. Around each of them, the handler steps aside.
    """
    root = logging.getLogger()

    def around(configure: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(configure)
        def configure_without_our_handler(*args: Any, **kwargs: Any) -> Any:
            ours = handler in root.handlers
            if ours:
                root.removeHandler(handler)
            try:
                return configure(*args, **kwargs)
            finally:
                if ours and handler not in root.handlers:
                    root.addHandler(handler)

        return configure_without_our_handler

    logging.basicConfig = around(logging.basicConfig)
    logging.config.dictConfig = around(logging.config.dictConfig)
    logging.config.fileConfig = around(logging.config.fileConfig)
