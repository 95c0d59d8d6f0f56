"""OpenTelemetry exporters and the mappings from SDK objects to Honeycomb events."""

from ._metric_exporter import HoneycombMetricExporter
from ._metrics import map_metrics
from ._span_exporter import HoneycombEventsExporter
from ._spans import map_spans, span_to_events

__all__ = [
    "HoneycombEventsExporter",
    "HoneycombMetricExporter",
    "map_metrics",
    "map_spans",
    "span_to_events",
]
