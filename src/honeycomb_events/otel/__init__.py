"""OpenTelemetry exporters and the mappings from SDK objects to Honeycomb events."""

from ._log_exporter import HoneycombLogExporter
from ._logging_handler import HoneycombLoggingHandler
from ._logs import log_to_event, map_logs
from ._metric_exporter import HoneycombMetricExporter
from ._metrics import map_metrics
from ._setup import Configured, configure_opentelemetry
from ._span_exporter import HoneycombEventsExporter
from ._spans import map_spans, span_to_events

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
