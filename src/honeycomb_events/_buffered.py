"""A buffered sender: queue events from any thread, send them in batches from one worker.

This is what the client documentation asks users to write by hand (`EventBuffer`,
`ProductionEventSender`), done once: the caller never waits on the network, the queue is
bounded, `flush()` and `close()` deliver what was queued, and every event's fate is reported.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import logging
import operator
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import msgspec

from ._answers import NO_RESPONSE
from ._deadline import Deadline
from ._errors import AuthenticationError
from ._lifecycle import Closeable
from ._model import ACCEPTED, BatchEvent, EventResult, TimeInput, now_rfc3339
from ._once import once
from ._presend import Presend, PresendHook, is_dropped, merged, pipeline
from ._transport import Transport

_logger = logging.getLogger("honeycomb_events")

DEFAULT_BATCH_SIZE: Final = 100
DEFAULT_FLUSH_INTERVAL: Final = 5.0
DEFAULT_MAX_QUEUE_SIZE: Final = 10_000
DEFAULT_MAX_QUEUE_BYTES: Final = 64 * 1024 * 1024
_UNMEASURABLE_SIZE: Final = 1024
_SIZE_ENCODER: Final = msgspec.json.Encoder(enc_hook=str)


def approximate_size(data: Mapping[str, Any]) -> int:
    """About how many bytes an event's fields take as JSON: what a queue bound counts."""
    try:
        return len(_SIZE_ENCODER.encode(data))
    except (TypeError, ValueError, OverflowError, UnicodeEncodeError, msgspec.EncodeError):
        return _UNMEASURABLE_SIZE


ResultCallback = Callable[[BatchEvent, EventResult], None]

_COUNTS: Final = (
    "queued",
    "dropped_queue_full",
    "dropped_queue_bytes",
    "dropped_closed",
    "accepted",
    "failed",
)
_COUNTS_WITH_PRESEND: Final = (*_COUNTS, "dropped_presend")

_EVENT_OF: Final = operator.itemgetter(0)
_SIZE_OF: Final = operator.itemgetter(1)

_CLOSED_TEXT: Final = "the sender was closed before this event could be sent"

_LIVE_SENDERS: weakref.WeakSet[BufferedSender] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for sender in list(_LIVE_SENDERS):
        sender._restart_after_fork()


def _close_all_at_exit() -> None:
    """Deliver what is queued when the interpreter exits, as a closed sender would.

    The workers are daemon threads, which die silently at exit: without this, events queued
    but not yet sent would be lost. All senders drain at once, each within its transport's
    send deadline.
    """
    senders = list(_LIVE_SENDERS)
    if senders:
        close_senders(senders, max(sender._transport.settings.timeout for sender in senders))


@once
def _install_process_hooks() -> None:
    """The fork and exit hooks of buffered senders, once per process, by the first sender."""
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
    atexit.register(_close_all_at_exit)


def close_senders(senders: Iterable[BufferedSender], timeout: float) -> None:
    """Close `senders` all at once, draining in parallel, within one shared `timeout`."""
    senders = list(senders)
    deadline = Deadline.after(timeout)
    for sender in senders:
        sender.begin_close(deadline)
    for sender in senders:
        sender.wait_closed(deadline)


class BufferedSender(Closeable):
    """Sends events to one dataset in batches, from a background thread.

    - `send()` never blocks on the network. When `max_queue_size` events are waiting, the new
      event is dropped (the queue keeps the older ones, which are already on their way) and
      counted as ``dropped_queue_full``; `send()` then returns False.
    - A batch goes out when `batch_size` events are queued or `flush_interval` seconds passed.
    - `flush()` returns once every event queued before it has a result; `close()` sends
      everything still queued, then stops. Events still unsent when close's timeout runs out
      get a failed result (status 0) and are counted, never lost without a trace.
    - `on_result(event, result)` is called in the worker thread for every event; it should
      be quick. `stats` counts queued, dropped, accepted and failed events.
    - Usable from asyncio code too: `send()` does not block, `aflush()`/`aclose()` wait in a
      thread. After `os.fork()`, the child starts with an empty queue and its own worker.
    - `presend` runs in the worker thread on each event before it is sent (docs/presend.md);
      an event it drops gets a result with status 0 that says so, and is counted as
      ``dropped_presend``.
    """

    def __init__(
        self,
        transport: Transport,
        dataset: str,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE,
        max_queue_bytes: int = DEFAULT_MAX_QUEUE_BYTES,
        on_result: ResultCallback | None = None,
        presend: PresendHook | Presend | None = None,
    ) -> None:
        if max_queue_bytes < 1:
            raise ValueError("max_queue_bytes must be at least 1")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if max_queue_size < batch_size:
            raise ValueError("max_queue_size must be at least batch_size")
        if not 0 < flush_interval < float("inf"):
            raise ValueError("flush_interval must be a positive number of seconds")
        self.dataset = dataset
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_queue_size = max_queue_size
        self.max_queue_bytes = max_queue_bytes
        self._transport = transport
        self._on_result = on_result
        # A client's senders share its pipeline; the logging handler's sender has the rules too.
        self._presend = (
            presend
            if isinstance(presend, Presend)
            else pipeline(presend, transport.stats, f"BufferedSender({dataset!r})")
        )
        self._counts: collections.Counter[str] = collections.Counter()
        self._closing = False
        self._closed_logged = False
        self._close_deadline: Deadline | None = None
        self._reset_queue()
        _install_process_hooks()
        _LIVE_SENDERS.add(self)

    def _reset_queue(self) -> None:
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._queue: collections.deque[tuple[BatchEvent, int]] = collections.deque()
        self._queued_bytes = 0
        self._enqueued = 0
        self._settled = 0
        self._flush_wanted = False
        self._worker: threading.Thread | None = None

    def _restart_after_fork(self) -> None:
        # The parent still holds (and will send) what was queued: the child starts afresh,
        # and counts only what it does itself.
        self._reset_queue()
        self._counts.clear()
        self._closed_logged = False

    def __repr__(self) -> str:
        return f"BufferedSender(dataset={self.dataset!r}, queued={len(self._queue)})"

    @property
    def stats(self) -> dict[str, int]:
        """Counts: queued, dropped_queue_full (too many events waiting), dropped_queue_bytes
        (too many bytes waiting), dropped_closed, accepted, failed; with a presend hook or
        rules, dropped_presend (events they dropped: the transport's stats say which)."""
        names = _COUNTS if self._presend is None else _COUNTS_WITH_PRESEND
        with self._cond:
            return {
                name: self._enqueued if name == "queued" else self._counts[name] for name in names
            }

    def send(
        self,
        data: Mapping[str, Any],
        timestamp: TimeInput | None = None,
        samplerate: int | float | None = None,
    ) -> bool:
        """Queue one event; True if queued. An event without a time is stamped now."""
        # `send_event` stamps an event without a time: its text needs no parsing back.
        return self.send_event(BatchEvent(data, timestamp, samplerate))

    def send_event(self, event: BatchEvent) -> bool:
        """Queue a prepared `BatchEvent` (stamped now if it has no time); True if queued."""
        if event.time is None:
            event = BatchEvent.trusted(event.data, now_rfc3339(), event.samplerate)
        # Written once, now (a snapshot of its fields), unless hooks may change it before it goes.
        written = None if self._presend is not None else self._transport.encoder.written(event)
        if written is None:
            size = approximate_size(event.data)
        else:
            event, size = written
        # The condition's own lock: entering the condition is a Python call, for every event.
        with self._lock:
            if self._closing:
                self._counts["dropped_closed"] += 1
                warn = not self._closed_logged
                self._closed_logged = True
            elif len(self._queue) >= self.max_queue_size:
                self._counts["dropped_queue_full"] += 1
                return False
            elif self._queued_bytes + size > self.max_queue_bytes and self._queue:
                self._counts["dropped_queue_bytes"] += 1
                return False
            else:
                self._queue.append((event, size))
                self._queued_bytes += size
                self._enqueued += 1
                if self._worker is None:
                    self._start_worker()
                if len(self._queue) >= self.batch_size:
                    self._cond.notify_all()
                return True
        if warn:
            _logger.warning("events sent to a closed BufferedSender(%r) are dropped", self.dataset)
        return False

    def _start_worker(self) -> None:
        self._worker = threading.Thread(
            target=self._run, name=f"honeycomb-events-sender-{self.dataset}", daemon=True
        )
        self._worker.start()

    def _next_batch(self) -> list[BatchEvent] | None:
        """The next batch to send, waiting for it; None when closed and drained."""
        with self._cond:
            wake_at = time.monotonic() + self.flush_interval
            while (
                len(self._queue) < self.batch_size and not self._closing and not self._flush_wanted
            ):
                remaining = wake_at - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            queue = self._queue
            count = min(self.batch_size, len(queue))
            if count == len(queue):
                taken = list(queue)
                queue.clear()
            else:
                taken = [queue.popleft() for _ in range(count)]
            # C-level passes: a batch holds hundreds of events.
            self._queued_bytes -= sum(map(_SIZE_OF, taken))
            batch = list(map(_EVENT_OF, taken))
            if not self._queue:
                self._flush_wanted = False
            if not batch and self._closing:
                return None
            return batch

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            if batch:
                results = self._deliver(batch)
                self._report(batch, results)

    def _deliver(self, batch: list[BatchEvent]) -> list[EventResult]:
        presend = self._presend
        if presend is None:
            return self._send(batch)
        try:
            kept, results = presend.batch(batch)
        except Exception as error:  # the worker must outlive any failure, and say why
            _logger.exception("the presend of a batch to %r failed", self.dataset)
            return [EventResult(NO_RESPONSE, f"{type(error).__name__}: {error}")] * len(batch)
        return merged(results, self._send(kept) if kept else [])

    def _send(self, batch: list[BatchEvent]) -> list[EventResult]:
        deadline = self._close_deadline  # while closing; else the transport's own timeout
        if deadline is not None and deadline.expired:
            return [EventResult(NO_RESPONSE, _CLOSED_TEXT)] * len(batch)
        try:
            return self._transport.send_batch(self.dataset, batch, deadline=deadline)
        except AuthenticationError as error:
            _logger.error("%s", error)
            # Events of an earlier request of this batch may have been accepted all the same.
            return error.results or [EventResult(error.status, str(error))] * len(batch)
        except Exception as error:  # the worker must outlive any failure, and say why
            _logger.exception("sending a batch to %r failed", self.dataset)
            return [EventResult(NO_RESPONSE, f"{type(error).__name__}: {error}")] * len(batch)

    def _report(self, batch: list[BatchEvent], results: list[EventResult]) -> None:
        # An accepted batch's results are one shared object: counted by identity, in C.
        accepted = len(results)
        dropped = 0
        if results.count(ACCEPTED) != accepted:
            accepted = sum(result.ok for result in results)
            if self._presend is not None:
                dropped = sum(map(is_dropped, results))
        if self._on_result is not None:
            for event, result in zip(batch, results, strict=True):
                try:
                    self._on_result(event, result)
                except Exception:
                    _logger.exception("the on_result callback of BufferedSender raised")
        with self._cond:
            self._counts["accepted"] += accepted
            self._counts["failed"] += len(results) - accepted - dropped
            self._counts["dropped_presend"] += dropped
            self._settled += len(batch)
            self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every event queued so far has a result; False if `timeout` ran out.

        Called from `on_result` (the worker's own thread) it cannot wait, and returns False at
        once unless nothing is pending.
        """
        with self._cond:
            target = self._enqueued
            if self._settled >= target:
                return True
            if threading.current_thread() is self._worker:
                return False
            self._flush_wanted = True
            self._cond.notify_all()
            return self._cond.wait_for(lambda: self._settled >= target, timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Send what is queued, then stop; True if everything got a result in time.

        With a `timeout`, close returns within about that long: batches not yet sent by then
        get failed results at once. A batch already on the wire finishes in the background
        within its own send deadline. Safe to call more than once.
        """
        deadline = None if timeout is None else Deadline.after(timeout)
        self.begin_close(deadline)
        return self.wait_closed(deadline)

    def begin_close(self, deadline: Deadline | None) -> None:
        """Stop accepting events; send the queue until `deadline` (None: no end but the
        transport's own timeout for each send)."""
        with self._cond:
            self._closing = True
            if deadline is not None:
                self._close_deadline = deadline
            self._cond.notify_all()

    def wait_closed(self, deadline: Deadline | None) -> bool:
        """Wait, until `deadline` at most, for the worker to finish after `begin_close`; True
        if everything was settled."""
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(None if deadline is None else deadline.remaining())
        with self._cond:
            drained = not self._queue
        return drained and (worker is None or not worker.is_alive())

    async def aflush(self, timeout: float | None = None) -> bool:
        return await asyncio.to_thread(self.flush, timeout)

    async def aclose(self, timeout: float | None = None) -> bool:
        return await asyncio.to_thread(self.close, timeout)
