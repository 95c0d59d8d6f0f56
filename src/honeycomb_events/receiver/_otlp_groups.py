"""OTLP requests as the events this package's own mappings make of them: what an OTel SDK in
any language sends to the receiver is stored as the exporters would have sent it.

Spans and log records become SDK objects, events and batch items `OTLP_CHUNK` at a time, so a
request holds the SDK objects of one chunk, not of all its items.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final, Literal, TypeVar

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from honeycomb_events import BatchEvent, LimitTally
from honeycomb_events.otel.mapping import (
    limited_fields,
    log_dataset,
    log_event_groups,
    map_metrics,
    metrics_dataset,
    service_dataset,
    span_event_groups,
    wire_item,
)

from ._otlp import log_records_of, metrics_of, spans_of

Signal = Literal["traces", "metrics", "logs"]
OTLP_SIGNALS: Final[dict[str, Signal]] = {
    "/v1/traces": "traces",
    "/v1/metrics": "metrics",
    "/v1/logs": "logs",
}

OTLP_CHUNK: Final = 1_000
"""Spans or log records turned into SDK objects, mapped and stored at a time."""

_T = TypeVar("_T")


def _chunks(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


_TRACES_ANSWER: Final = ExportTraceServiceResponse().SerializeToString()
_LOGS_ANSWER: Final = ExportLogsServiceResponse().SerializeToString()
_METRICS_ANSWER: Final = ExportMetricsServiceResponse().SerializeToString()

_Groups = Iterator[tuple[str, Iterable[BatchEvent]]]


def _span_groups(body: bytes, dataset: str | None) -> _Groups:
    """Spans go where Honeycomb sends them for an environment key: their service's dataset."""
    for chunk in _chunks(spans_of(body), OTLP_CHUNK):
        for resource, events in span_event_groups(chunk):
            yield service_dataset(resource.attributes), events


def _metric_groups(body: bytes, dataset: str | None) -> _Groups:
    """Metrics go to the ``X-Honeycomb-Dataset`` header's dataset, else ``unknown_metrics``,
    as the metric exporter's dataset rule has it."""
    for _, events in map_metrics(metrics_of(body)):
        yield metrics_dataset(dataset), events


def _log_groups(body: bytes, dataset: str | None) -> _Groups:
    """Logs go to their service's dataset, else the ``X-Honeycomb-Dataset`` header's."""
    for chunk in _chunks(log_records_of(body), OTLP_CHUNK):
        for resource, events in log_event_groups(chunk):
            yield log_dataset(resource.attributes, dataset), events


_OTLP: Final[dict[Signal, tuple[Callable[[bytes, str | None], _Groups], bytes]]] = {
    "traces": (_span_groups, _TRACES_ANSWER),
    "metrics": (_metric_groups, _METRICS_ANSWER),
    "logs": (_log_groups, _LOGS_ANSWER),
}


def otlp_groups(
    signal: Signal, body: bytes, dataset: str | None
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Each dataset's events of an OTLP request of `signal`, as batch items (``data``, ``time``,
    ``samplerate``) with Honeycomb's limits applied as an exporter applies them, a chunk at a
    time. `google.protobuf.message.DecodeError` or `ValueError` when the body is no such
    request."""
    tally = LimitTally()  # left uncounted: the receiver keeps its own counts of what it stores
    for name, events in _OTLP[signal][0](body, dataset):
        yield name, [wire_item(limited_fields(event, tally), event) for event in events]


def otlp_answer(signal: Signal) -> bytes:
    """The (empty) success answer to an OTLP request of `signal`."""
    return _OTLP[signal][1]
