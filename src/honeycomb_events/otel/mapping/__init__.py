"""The mappings: pure functions from OpenTelemetry SDK objects to Honeycomb events, field for
field as Honeycomb's own OTLP translation builds them (mapping.md). The exporters in `otel/`
route, encode and send what these make.

This module's names are the stated internal API through which the local receiver stores what
arrives over OTLP as the exporters would send it, with the same mappings, dataset rules and
limits, so that the modules behind it can change. None of them is part of the public API
(`honeycomb_events.__all__`, `honeycomb_events.otel.__all__`).
"""

from honeycomb_events._datasets import log_dataset, metrics_dataset, service_dataset
from honeycomb_events._limits import limited_fields, wire_item

from ._logs import log_event_groups
from ._metrics import Summary, SummaryDataPoint, map_metrics
from ._spans import span_event_groups

__all__ = [
    "Summary",
    "SummaryDataPoint",
    "limited_fields",
    "log_dataset",
    "log_event_groups",
    "map_metrics",
    "metrics_dataset",
    "service_dataset",
    "span_event_groups",
    "wire_item",
]
