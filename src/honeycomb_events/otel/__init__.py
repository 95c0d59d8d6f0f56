"""OpenTelemetry exporters and the mappings from SDK objects to Honeycomb events."""

from ._span_exporter import HoneycombEventsExporter
from ._spans import map_spans, span_to_events

__all__ = ["HoneycombEventsExporter", "map_spans", "span_to_events"]
