"""The log records of a process whose traces a `DeterministicSampler` samples: a record made
inside a trace goes with its trace (sampling.md, "Logs of sampled traces").

A record of a kept trace carries ``SampleRate`` = N, as the trace's spans do; a record of a
trace the sampler drops is dropped too, so that Honeycomb's counts of log events stay right
(kept records count N times each); a record outside any trace is sent as it is. The decision is
the sampler's, from the record's trace id, and costs nothing in a process without a rate: only
then is this exporter built instead of `HoneycombLogExporter`.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from opentelemetry._logs import LogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from ._log_exporter import HoneycombLogExporter
from ._sampler import SAMPLE_RATE_ATTRIBUTE, DeterministicSampler
from .mapping._sampling import SAMPLE_RATE_KEYS

if TYPE_CHECKING:
    from opentelemetry.sdk._logs import ReadableLogRecord
    from opentelemetry.sdk._logs.export import LogRecordExportResult


class _RatedItem(NamedTuple):
    """A record of a kept trace, its rate added, as the log mapping reads an SDK item."""

    log_record: LogRecord
    resource: Resource | None
    instrumentation_scope: InstrumentationScope | None


class SampledLogExporter(HoneycombLogExporter):
    """`HoneycombLogExporter` for a process whose traces `sampler` samples.

    Records of traces the sampler drops are not sent; ``stats["logs_sampled_out"]`` counts
    them. The other arguments are `HoneycombLogExporter`'s.
    """

    def __init__(self, sampler: DeterministicSampler, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._sampler = sampler
        self._sampled_out = 0
        self._lock = threading.Lock()

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        """Send the records of `batch` outside traces and of kept traces, the latter with
        their trace's sample rate; SUCCESS only when Honeycomb accepted every event."""
        keeps, rate = self._sampler.keeps, self._sampler.rate
        sent: list[Any] = []
        sampled_out = 0
        for item in batch:
            record = item.log_record
            trace_id = record.trace_id
            if not trace_id or type(trace_id) is not int:
                sent.append(item)  # outside any trace, or not the SDK's: the mapping decides
            elif keeps(trace_id):
                sent.append(_rated(item, record, rate))
            else:
                sampled_out += 1
        if sampled_out:
            with self._lock:
                self._sampled_out += sampled_out
        return super().export(sent)

    @property
    def stats(self) -> dict[str, Any]:
        """`HoneycombLogExporter.stats`, and ``logs_sampled_out``: the records of traces the
        sampler dropped, not sent."""
        return {**super().stats, "logs_sampled_out": self._sampled_out}


def _rated(item: Any, record: LogRecord, rate: int) -> _RatedItem:
    """`item` with a copy of its record that has ``SampleRate`` = `rate` instead of any rate
    of its own, as a kept span's is. The record itself is left alone: other processors and
    exporters may be reading it in their own threads."""
    rated = copy.copy(record)
    attributes = dict(record.attributes or {})
    for key in SAMPLE_RATE_KEYS:
        attributes.pop(key, None)
    attributes[SAMPLE_RATE_ATTRIBUTE] = rate
    rated.attributes = attributes
    # SDKs before 1.39 kept the resource on the record, which the copy keeps.
    return _RatedItem(rated, getattr(item, "resource", None), item.instrumentation_scope)
