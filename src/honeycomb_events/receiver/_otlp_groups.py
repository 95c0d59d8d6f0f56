"""OTLP requests as the events this package's own mappings make of them: what an OTel SDK in
any language sends to the receiver is stored as the exporters would have sent it.

Spans and log records become SDK objects, events and batch items `OTLP_CHUNK` at a time, so a
request holds the SDK objects of one chunk, not of all its items.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final, Literal, TypeVar

import msgspec
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from honeycomb_events._encode import BatchEncoder, Compression, Encoding
from honeycomb_events._limits import LimitTally
from honeycomb_events._model import BatchEvent
from honeycomb_events.otel._common import service_dataset
from honeycomb_events.otel._logs import log_dataset, log_event_groups
from honeycomb_events.otel._metric_exporter import UNKNOWN_METRICS
from honeycomb_events.otel._metrics import map_metrics
from honeycomb_events.otel._spans import span_event_groups

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


# OTLP-ingested events are encoded as an exporter would send them, uncompressed.
_ENCODER: Final = BatchEncoder(Encoding.JSON, Compression.NONE)
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
        yield dataset or UNKNOWN_METRICS, events


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
    ``samplerate``) encoded and decoded as an exporter's batch would be, a chunk at a time.
    `google.protobuf.message.DecodeError` or `ValueError` when the body is no such request."""
    for name, events in _OTLP[signal][0](body, dataset):
        yield name, msgspec.json.decode(_ENCODER.encode_events(events, LimitTally()).buffer)


def otlp_answer(signal: Signal) -> bytes:
    """The (empty) success answer to an OTLP request of `signal`."""
    return _OTLP[signal][1]
