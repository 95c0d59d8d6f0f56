"""What every OpenTelemetry exporter here shares: mappings turn SDK objects into events, the
transport sends them. An exporter only orchestrates: it routes events to datasets, sends one
batch request per dataset within one deadline, and turns per-event results into the SDK's
export result.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import logging
import os
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, Final

import httpx
from opentelemetry.sdk.resources import Resource

from honeycomb_events._assembly import assemble
from honeycomb_events._config import Settings, Signal, resolve_settings
from honeycomb_events._datasets import routing, validate_dataset
from honeycomb_events._errors import AuthenticationError
from honeycomb_events._formats import Compression, Encoding
from honeycomb_events._limits import LimitTally
from honeycomb_events._model import BatchEvent, EventResult
from honeycomb_events._notices import notice
from honeycomb_events._presend import PresendHook, pipeline
from honeycomb_events._transport import RetryPolicy

from ._courier import Courier
from ._debug import debug_enabled, say_configuration_once, say_events
from ._job import Job
from ._self_metrics import internal_metrics_enabled, report_stats, weak_stats

logger = logging.getLogger("honeycomb_events")
COURIER_COUNTS: Final = (
    "events_backlogged",
    "events_dropped_backlog_full",
    "events_lost_at_exit",
    "outages",
)
_EMPTY_RESOURCE: Final = Resource.get_empty()

_LOSSES: Final = (
    (
        "values_dropped",
        "attribute values that could not be converted were dropped, each counted in its "
        "event's meta.dropped_fields",
    ),
    (
        "items_salvaged",
        "items with parts that could not be read were sent without those parts",
    ),
    ("items_dropped", "items that could not be mapped at all were dropped"),
)


_DEFAULT_BATCH: Final = 512  # the SDK's processors' default largest batch


def _full_batch(variable: str | None) -> int | None:
    """How many items make a full batch for the SDK's processor, as it reads `variable`."""
    if variable is None:
        return None
    try:
        size = int(os.environ.get(variable, _DEFAULT_BATCH))
    except ValueError:  # the SDK falls back to its default too
        return _DEFAULT_BATCH
    return size if size > 0 else _DEFAULT_BATCH


class EventsExporter:
    """What the span, metric and log exporters share: settings, transport, delivery, logging.

    `export` never raises and never runs past `timeout` seconds; after `shutdown`, exports fail
    at once without a request. Safe to call from several threads, and after `os.fork()`.
    """

    _signal: Signal
    _protected_fields: Collection[str]
    """Fields a mapping writes that shrinking an oversized event must keep."""
    _batch_size_variable: str | None = None
    """The variable that sets the SDK's processor's largest batch for this signal, if any."""

    def __init__(
        self,
        api_key: str | None = None,
        dataset: str | None = None,
        endpoint: str | None = None,
        *,
        timeout: float | None = None,
        compression: str | Compression | None = None,
        encoding: str | Encoding | None = None,
        retry: RetryPolicy | None = None,
        http_transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        client_certificate: str | None = None,
        client_key: str | None = None,
        user_agent_addition: str | None = None,
        presend: PresendHook | None = None,
    ) -> None:
        self.settings: Settings = resolve_settings(
            api_key=api_key,
            endpoint=endpoint,
            timeout=timeout,
            compression=compression,
            encoding=encoding,
            signal=self._signal,
            dataset=dataset,
            headers=headers,
            client_certificate=client_certificate,
            client_key=client_key,
            user_agent_addition=user_agent_addition,
        )
        self._routing = routing(self._signal, self.settings)
        self._transport = assemble(
            self.settings, retry=retry, protected_fields=self._protected_fields
        ).transport(http_transport, one_sender=True)  # only the courier sends
        self._presend = pipeline(presend, self._transport.stats, type(self).__name__, rules=True)
        self._courier = Courier(
            self._transport,
            what=type(self).__name__,
            backlog_bytes=self.settings.backlog_max_bytes,
            on_failed=self._log_failures,
            on_rejected=self._log_key_rejection,
        )
        self._losses_logged: set[str] = set()
        self._full_batch = _full_batch(self._batch_size_variable)
        self._debug = debug_enabled()
        if self._debug:
            say_configuration_once()
        if internal_metrics_enabled():
            report_stats(f"honeycomb_events_{self._signal}_exporter", weak_stats(self))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(endpoint={self.settings.endpoint!r}, "
            f"api_key={self.settings.api_key!r})"
        )

    @property
    def stats(self) -> dict[str, Any]:
        """What this exporter sent: see `TransportStats.snapshot`; with a spool, also what it
        spooled, took out again and dropped (see `SpoolCounts`)."""
        snapshot = self._transport.stats.snapshot()
        spool = self._transport.spool
        if spool is not None:
            snapshot.update(dataclasses.asdict(spool.counts))
        snapshot.update((name, self._courier.counts[name]) for name in COURIER_COUNTS)
        return snapshot

    def _log_key_rejection(self, error: AuthenticationError) -> None:
        # Every export, of every exporter with this key, would say the same: once at ERROR
        # (and on stderr), then quietly.
        notice(f"key rejected {error.key_source}", str(error), level=logging.ERROR)

    def _log_failures(self, dataset: str, total: int, failed: list[EventResult]) -> None:
        by_status = collections.Counter(result.status for result in failed)
        summary = ", ".join(
            f"{count} x {status or 'no response'}" for status, count in sorted(by_status.items())
        )
        message = (
            f"{len(failed)} of {total} {self._signal} events to dataset {dataset!r} were not "
            f"accepted ({summary}); first error: {failed[0].error}"
        )
        # Each batch's failure reaches the application's handlers; stderr hears of each kind once.
        notice(f"{id(self)} rejected {sorted(by_status)}", message, again=logging.WARNING)

    def dataset_for(self, resource: Resource) -> str:
        """The dataset that events of `resource` are sent to (see `_datasets.routing`)."""
        return self._routing.dataset_for(resource.attributes)

    def _export(
        self,
        groups: Callable[[LimitTally], Iterable[tuple[Resource, Iterable[BatchEvent]]]],
        what: str,
        count: int = 0,
    ) -> bool:
        """Map, route each resource's events to its dataset, send; True only when Honeycomb
        accepted every event. Never raises (an exporter must not raise into the SDK's worker)
        and, after `shutdown`, fails at once without a request. `what` names the items in the
        error logged if mapping or sending raises ("3 spans"). What the mapping transformed
        or dropped joins the transport's counters.

        `count` items make a full batch for the SDK's processor when they are as many as its
        largest: it has more to come, and the batch is sent as part of a stream (see
        `Courier.deliver`)."""
        if self._transport.closed:
            return False
        tally = LimitTally()
        presend = self._presend
        try:
            by_dataset: dict[str, list[Iterable[BatchEvent]]] = {}
            for resource, events in groups(tally):
                by_dataset.setdefault(self._dataset_of(resource), []).append(
                    events if presend is None else presend.events(events)
                )
            jobs = [
                self._job(dataset, itertools.chain.from_iterable(groups))
                for dataset, groups in by_dataset.items()
            ]
            # A dataset whose every event a presend hook or rule dropped has nothing to send.
            jobs = [job for job in jobs if len(job.encoded)]
            if not jobs:
                return True
            return self._courier.deliver(
                jobs, stream=self._full_batch is not None and count >= self._full_batch
            )
        except Exception:
            logger.exception("exporting %s to Honeycomb failed", what)
            return False
        finally:
            self._transport.stats.record_limits(tally)
            self._warn_of_losses(tally)

    def _job(self, dataset: str, events: Iterable[BatchEvent]) -> Job:
        """The dataset's events encoded and compressed (here, in the exporting thread), ready
        for the courier."""
        tally = LimitTally()
        encoder = self._transport.encoder
        encoded = encoder.encode_events(events, tally, whole=True)
        if self._debug:
            say_events(dataset, encoded.at(range(len(encoded))))
        stats = self._transport.stats
        stats.record_limits(tally)
        stats.record(events_submitted=len(encoded))
        return Job(validate_dataset(dataset), encoded)

    def _warn_of_losses(self, tally: LimitTally) -> None:
        """Say once, per exporter and kind, that the mapping dropped something; the counters
        say how much from then on."""
        for counter, what in _LOSSES:
            if getattr(tally, counter) and counter not in self._losses_logged:
                self._losses_logged.add(counter)
                logger.warning(
                    "%s: %s (counted in stats[%r]; see limits.md)",
                    type(self).__name__,
                    what,
                    counter,
                )

    def _dataset_of(self, resource: Resource) -> str:
        """`dataset_for`, and where a resource's attributes cannot be read, the dataset of a
        resource without attributes: its events still go somewhere."""
        try:
            return self.dataset_for(resource)
        except Exception:
            return self.dataset_for(_EMPTY_RESOURCE)

    def force_flush(self, timeout_millis: float = 30_000) -> bool:
        """Wait until what this exporter holds (in memory, or in the spool while the backend
        answers) is delivered; True when nothing is left."""
        try:
            return self._courier.flush(timeout_millis / 1000)
        except Exception:  # never raise into the SDK
            logger.exception("resending held events failed")
            return False

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        """Stop within about 2 s at most, whatever the backend does: what is not delivered by
        then goes to the spool, or is counted as lost (one line on stderr says which). Later
        exports fail at once. Idempotent; accepts the metric reader's ``timeout=`` and other
        keywords."""
        self._courier.close(timeout_millis / 1000)
        self._transport.close()
