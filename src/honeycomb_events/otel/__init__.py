"""OpenTelemetry exporters and the mappings from SDK objects to Honeycomb events."""

from ._log_exporter import HoneycombLogExporter
from ._logging_handler import HoneycombLoggingHandler
from ._metric_exporter import HoneycombMetricExporter
from ._setup import Configured, configure_opentelemetry
from ._span_exporter import HoneycombEventsExporter
from .mapping._logs import log_to_event, map_logs
from .mapping._metrics import map_metrics
from .mapping._spans import map_spans, span_to_events

__all__ = [
    "Configured",
    "HoneycombEventsExporter",
    "HoneycombLogExporter",
    "HoneycombLoggingHandler",
    "HoneycombMetricExporter",
    "configure_opentelemetry",
    "log_to_event",
    "map_logs",
    "map_metrics",
    "map_spans",
    "span_to_events",
]
