"""`TransportStats`: the counters of what a transport did, safe to update from many threads."""

from __future__ import annotations

import collections
import threading
from collections.abc import Sequence
from typing import Any, Final

from ._limits import LimitTally
from ._model import ACCEPTED, EventResult

PRESEND_COUNTERS: Final = (
    "events_dropped_presend",
    "events_dropped_presend_error",
    "events_dropped_rules",
    "fields_redacted",
)
"""What a presend hook and the rules did (`_presend`): events the hook dropped, events it
failed on (dropped), events a ``HONEYCOMB_DROP_EVENTS`` rule dropped, values a
``HONEYCOMB_REDACT_FIELDS`` rule replaced."""


class TransportStats:
    """Counters of what one transport did, safe to update from many threads.

    `snapshot()` gives: events_submitted, events_accepted, events_failed, events_retried,
    requests, requests_failed (no HTTP answer), the limit transformations (strings_truncated,
    non_finite_floats, values_converted, fields_dropped, events_shrunk), what a presend hook
    and the rules dropped or redacted (`PRESEND_COUNTERS`), and failed_by_status.
    """

    def __init__(self) -> None:
        self.reset_lock()
        self._counts: collections.Counter[str] = collections.Counter()
        self._failed_by_status: collections.Counter[int] = collections.Counter()
        self._limits = LimitTally()

    def reset_lock(self) -> None:
        """A new lock: after a fork, the old one may be held by a thread that is gone."""
        self._lock = threading.Lock()

    def record_limits(self, tally: LimitTally) -> None:
        if tally:
            with self._lock:
                self._limits.add(tally)

    def record(self, **counts: int) -> None:
        with self._lock:
            self._counts.update(counts)

    def record_results(self, results: Sequence[EventResult]) -> None:
        if results.count(ACCEPTED) == len(results):  # identity first: a C loop, no __eq__
            with self._lock:
                self._counts.update(events_accepted=len(results))
            return
        accepted = failed = 0
        statuses: collections.Counter[int] = collections.Counter()
        for result in results:
            if result.ok:
                accepted += 1
            else:
                failed += 1
                statuses[result.status] += 1
        with self._lock:
            self._counts.update(events_accepted=accepted, events_failed=failed)
            self._failed_by_status.update(statuses)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            counts: dict[str, Any] = {
                name: self._counts[name]
                for name in (
                    "events_submitted",
                    "events_accepted",
                    "events_failed",
                    "events_retried",
                    "requests",
                    "requests_failed",
                    *PRESEND_COUNTERS,
                )
            }
            counts.update((name, getattr(self._limits, name)) for name in self._limits.__slots__)
            counts["failed_by_status"] = dict(self._failed_by_status)
            return counts
