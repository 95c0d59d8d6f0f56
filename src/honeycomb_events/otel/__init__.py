"""OpenTelemetry exporters and the mappings from SDK objects to Honeycomb events."""

from ._baggage import BaggageSpanProcessor
from ._log_exporter import HoneycombLogExporter
from ._logging_handler import HoneycombLoggingHandler
from ._metric_exporter import HoneycombMetricExporter
from ._sampled_logs import SampledLogExporter
from ._sampler import DeterministicSampler
from ._setup import Configured, configure_opentelemetry
from ._span_exporter import HoneycombEventsExporter
from .mapping._logs import log_to_event, map_logs
from .mapping._metrics import map_metrics
from .mapping._spans import map_spans, span_to_events

__all__ = [
    "BaggageSpanProcessor",
    "Configured",
    "DeterministicSampler",
    "HoneycombEventsExporter",
    "HoneycombLogExporter",
    "HoneycombLoggingHandler",
    "HoneycombMetricExporter",
    "SampledLogExporter",
    "configure_opentelemetry",
    "log_to_event",
    "map_logs",
    "map_metrics",
    "map_spans",
    "span_to_events",
]
