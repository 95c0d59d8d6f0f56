"""What `Transport` does with its spool around a send: the events it could not deliver wait
there, and once the backend accepts a batch again, what waits is resent, oldest first."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from ._deadline import Deadline
from ._encode import EncodedEvents
from ._model import EventResult
from ._spool import Lease, Spool

_logger = logging.getLogger("honeycomb_events")


def keep_undelivered(
    spool: Spool,
    dataset: str,
    encoding: str,
    encoded: EncodedEvents,
    *,
    unsettled: Sequence[int],
    results: list[EventResult],
) -> list[EventResult]:
    """Write the events at `unsettled` to the spool; the results, saying which were spooled.

    A spool that cannot be written (a full disk, a directory gone) leaves the results as they
    were, and says so.
    """
    try:
        written = spool.write(dataset, encoding, encoded.at(unsettled))
    except OSError as error:
        _logger.warning(
            "could not spool %d undelivered events to %r in %s: %s",
            len(unsettled),
            dataset,
            spool.directory,
            error,
        )
        return results
    if not written:
        return results
    results = list(results)
    for position in unsettled:
        result = results[position]
        results[position] = EventResult(
            result.status, f"{result.error or 'not delivered'}; spooled for later"
        )
    return results


def drain(
    spool: Spool,
    deadline: Deadline,
    resend: Callable[[Lease], Sequence[bytes] | None],
    stopped: Callable[[], bool],
) -> None:
    """Resend spooled batches, oldest first, until one fails, the deadline passes or
    `stopped()`. `resend(lease)` sends one batch and gives back its events still undelivered,
    or None when the key was rejected (the batch then waits for a good key)."""
    for lease in spool.leases():
        if stopped() or deadline.expired:
            lease.give_back(lease.events)
            return
        left = resend(lease)
        if left is None:
            lease.give_back(lease.events)
            return
        lease.sent(left)
        if left:
            return  # the backend fails again: the rest waits for the next success
