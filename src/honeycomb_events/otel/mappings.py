"""The mappings as the local receiver uses them: an internal API, not a public one.

The receiver stores what arrives over OTLP as the exporters would send it, through the
exporters' own mappings, dataset rules and limits. It takes them from this list rather than
from the private modules that define them, so that those can change behind it. None of these
names is part of the public API (`honeycomb_events.__all__`, `honeycomb_events.otel.__all__`):
they change with the receiver.
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
