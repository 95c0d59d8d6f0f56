"""The exporters' courier: delivers their batches from one background thread, so that
`export()` never waits on a backend that fails (reliability.md, "An outage costs disk").

- While the backend answers, `export()` hands its batches over and, when little waits ahead,
  waits for their answers (`EXPORT_WAIT` at most, and as much again per batch of a stream
  ahead), so that its result says whether they were accepted. A full batch (its processor has
  more to come) streams instead: `export()` waits only for room behind the batch ahead, so
  that the exporting thread maps the next batch while this one travels, and an exporter holds
  two at most. A stream's answers are reported as they come; a batch that is not full waits
  for them all, being behind them.
- After a failed attempt (no answer, a connection error, 429, 5xx) the backend is unhealthy:
  batches go straight to the spool (or, without one, to a backlog in memory bounded in bytes,
  past which the newest are dropped and counted), and `export()` returns at once. One probe at
  a time tests the backend: the oldest batch, after a backoff with jitter or the wait a
  `Retry-After` asked for. Once it is answered, the spool and the backlog drain, oldest first.
- A request is never given up while its answer may still come (`ANSWER_WAIT`, long: nobody
  waits on it): resending a batch the backend is still processing would deliver it twice.
- `close()` returns within `EXIT_WAIT`: what is not delivered by then goes to the spool, or is
  counted as lost; one line on stderr says which.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Final

from honeycomb_events._answers import NO_RESPONSE
from honeycomb_events._config import Settings
from honeycomb_events._deadline import Deadline
from honeycomb_events._delivery import Attempt
from honeycomb_events._encode import EncodedEvents
from honeycomb_events._errors import AuthenticationError
from honeycomb_events._model import ACCEPTED, EventResult
from honeycomb_events._notices import notice
from honeycomb_events._spool import Lease, Spool
from honeycomb_events._transport import Transport

from . import _courier_notices as lines
from . import _exit
from ._exit import EXIT_WAIT
from ._job import Job

EXPORT_WAIT: Final = 0.5
"""The longest `export()` waits for a healthy backend's answer to one request, or in a
stream for room."""
ANSWER_WAIT: Final = 30.0
"""The longest a request waits for its answer before it is given up."""
PROBE_MAX_WAIT: Final = 5.0
"""The longest wait between probes of a failing backend, unless a `Retry-After` asks more: a
backend that is well again is found within seconds."""

_SPOOL_LOOK_EVERY: Final = 60.0
_WAIT_BEHIND: Final = 8  # export() waits behind fewer queued batches than this
_SPOOLED_TEXT: Final = "not delivered yet: spooled for later"
_LOST_TEXT: Final = "not delivered before the exporter was shut down"


class Courier:
    """Delivers batches through `transport` from a background thread; see the module."""

    def __init__(
        self,
        transport: Transport,
        *,
        what: str,
        backlog_bytes: int,
        on_failed: Callable[[str, int, list[EventResult]], None],
        on_rejected: Callable[[AuthenticationError], None],
    ) -> None:
        """`on_failed(dataset, events, failed)` hears of events that failed for good (a 400,
        say), `on_rejected` of a rejected key; both from the worker thread."""
        self._transport = transport
        self._spool = transport.spool
        self._what = what
        self._backlog_bytes = backlog_bytes
        self._on_failed = on_failed
        self._on_rejected = on_rejected
        self.counts: collections.Counter[str] = collections.Counter()
        self.restart_in_child()
        _exit.track(self)

    def restart_in_child(self) -> None:
        """Fresh state: at start, and in a forked child (the parent still owns its queue)."""
        self._cond = threading.Condition(threading.Lock())
        self._queue: collections.deque[Job] = collections.deque()
        self._queued_bytes = 0
        self._healthy = True
        self._key_rejected = False
        self._in_flight: Job | None = None
        self._in_flight_lease: Lease | None = None
        self._busy = False
        self._sending_since = float("inf")  # when the send in progress began
        # What an earlier process left waits on disk: sent first.
        self._spool_waiting = self._spool is not None and self._spool.pending() > 0
        self._next_try = 0.0
        self._round = 0
        self._closing = False
        self._stopped = False
        self._close_by = float("inf")
        self._worker: threading.Thread | None = None
        self.counts.clear()

    # --- what export() calls --------------------------------------------------------------

    def deliver(self, jobs: Sequence[Job], *, stream: bool = False) -> bool:
        """Hand `jobs` over; True when every event of them was accepted by the time this
        returns. Waits only for a healthy backend with little ahead: `EXPORT_WAIT` at most,
        and as much again for each batch ahead (a stream's), up to two.

        In a `stream` (more batches are coming), waits for room instead of the answer (see
        the module); True then when the backend is healthy and has the jobs on their way or
        next in line, none of their events failed yet.
        """
        with self._cond:
            taking = not _exit.exiting() and self._healthy and not self._stopped
            # Worth waiting for: a healthy backend answering briskly, nothing much ahead.
            wait = (
                taking
                and not self._spool_waiting
                and len(self._queue) < _WAIT_BEHIND
                and time.monotonic() - self._sending_since < EXPORT_WAIT
            )
            ahead = min(len(self._queue) + self._busy, 2)
            # While the backend fails, the worker moves queued batches to the spool: the
            # disk's flushes are its time, not export()'s.
            aside = list(jobs) if self._stopped else self._enqueue(jobs)
        self._set_aside(aside)
        if aside or not wait:
            return False
        with self._cond:
            if stream:
                room = self._wait_for_room(jobs)
                failed = any(job.failed for job in jobs)
                return room and self._healthy and not self._key_rejected and not failed
            settled = lambda: all(job.settled for job in jobs)  # noqa: E731
            self._cond.wait_for(settled, EXPORT_WAIT * (1 + ahead))
        return all(job.accepted for job in jobs)

    def _wait_for_room(self, jobs: Sequence[Job]) -> bool:
        """Wait (holding the lock) until nothing waits in line ahead of `jobs`: `EXPORT_WAIT`
        at most, and only while the request on its way is younger than that (one older is a
        stall: what waits behind it goes to the bounded backlog). True when there is room."""
        give_up_at = time.monotonic() + EXPORT_WAIT
        while True:
            first = self._queue[0] if self._queue else None
            if first is None or any(first is job for job in jobs):
                return True
            until = min(give_up_at, self._sending_since + EXPORT_WAIT)
            now = time.monotonic()
            if not self._healthy or self._stopped or now >= until:
                return False
            self._cond.wait(until - now)

    def _enqueue(self, jobs: Iterable[Job]) -> list[Job]:
        """Queue `jobs` for the worker (holding the lock); those past the backlog's bound are
        returned, to be set aside."""
        over = []
        for job in jobs:
            if self._queued_bytes + job.size > self._backlog_bytes and self._queue:
                over.append(job)
                continue
            self._queue.append(job)
            self._queued_bytes += job.size
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(
                target=self._run, name=f"honeycomb-events-{self._what}", daemon=True
            )
            self._worker.start()
        self._cond.notify_all()
        return over

    def _set_aside(self, jobs: Sequence[Job]) -> None:
        """Jobs the backend cannot take now: to the spool, else to the bounded backlog in
        memory, else dropped and counted."""
        for job in jobs:
            if self._spool_job(job):
                continue
            with self._cond:
                if not self._stopped and not self._enqueue((job,)):
                    self.counts["events_backlogged"] += job.pending
                    continue
            self._drop(job, "events_dropped_backlog_full")

    def _spool_job(self, job: Job) -> bool:
        """Write the job's pending events to the spool; True when they are there."""
        spool = self._spool
        if spool is None:
            return False
        pending = [p for p, result in enumerate(job.results) if result is None]
        try:
            written = spool.write(job.dataset, self._encoding, job.encoded.at(pending))
        except OSError as error:
            self._say(
                "spool write",
                f"could not write to the spool in {spool.directory}: {error}",
            )
            return False
        if not written:
            return False
        self._settle(job, job.everything(EventResult(NO_RESPONSE, _SPOOLED_TEXT)))
        with self._cond:
            self._spool_waiting = True
            self._cond.notify_all()
        return True

    def _drop(self, job: Job, counter: str) -> None:
        self.counts[counter] += job.pending
        self._settle(job, job.everything(EventResult(NO_RESPONSE, _LOST_TEXT)))
        self._say(counter, lines.backlog_full(self._what, counter))

    def _settle(self, job: Job, outcome: dict[int, EventResult]) -> None:
        with self._cond:
            job.settle(outcome)
            self._cond.notify_all()

    def _say(self, kind: str, message: str) -> None:
        """A notice of this courier's (each kind once per exporter)."""
        notice(f"{id(self)} {kind}", message)

    @property
    def _settings(self) -> Settings:
        return self._transport.settings

    @property
    def _encoding(self) -> str:
        return self._transport.encoder.encoding.value

    # --- the worker -------------------------------------------------------------------------

    def _run(self) -> None:
        while (item := self._next()) is not None:
            try:
                if isinstance(item, Job):
                    self._send_job(item)
                elif self._spool is not None:
                    self._send_spooled(self._spool)
            except Exception as error:  # the worker must outlive anything, and say what
                if isinstance(item, Job):
                    failed = EventResult(NO_RESPONSE, f"{type(error).__name__}: {error}")
                    self._settle(item, item.everything(failed))
                self._say(
                    f"failed {type(error).__name__}", f"{self._what}: sending failed: {error}"
                )
            finally:
                with self._cond:
                    self._busy = False
                    self._sending_since = float("inf")
                    self._in_flight = None
                    self._in_flight_lease = None
                    self._cond.notify_all()

    def _next(self) -> Job | str | None:
        """What to send next (a job, or "spool" for the oldest spooled batch), waiting for
        it; None when the courier stops."""
        with self._cond:
            while True:
                now = time.monotonic()
                if self._stopped or (self._closing and (not self._healthy or now > self._close_by)):
                    return None
                if not self._healthy and now < self._next_try:
                    if self._queue and self._spool is not None:
                        # While the backend fails, what waits is safer on disk.
                        jobs = list(self._queue)
                        self._queue.clear()
                        self._queued_bytes = 0
                        self._cond.release()
                        try:
                            self._set_aside(jobs)
                        finally:
                            self._cond.acquire()
                        continue
                    self._cond.wait(min(self._next_try, self._close_by) - now)
                    continue
                # Oldest first: what waits on disk, unless the process is on its way out.
                if self._spool_waiting and self._spool is not None and not self._closing:
                    self._busy = True
                    self._sending_since = now
                    return "spool"
                if self._queue:
                    job = self._in_flight = self._queue.popleft()
                    self._queued_bytes -= job.size
                    self._busy = True
                    self._sending_since = now
                    return job
                if self._closing:
                    return None
                # Idle: now and then, look for what another process sharing the spool left.
                if not self._cond.wait(_SPOOL_LOOK_EVERY) and self._spool is not None:
                    self._spool_waiting = self._spool.pending() > 0

    def _send_job(self, job: Job) -> None:
        attempt = self._attempt(job.dataset, job.encoded, job)
        if attempt is None:
            return
        if not attempt.unsettled:
            with self._cond:
                job.settle_all(attempt.results)
                self._cond.notify_all()
            return
        unsettled = set(attempt.unsettled)
        self._settle(
            job, {p: result for p, result in enumerate(attempt.results) if p not in unsettled}
        )
        # Waiting as a body (see `BatchEncoder.subset`), unless on disk.
        retry = Job(
            job.dataset,
            self._transport.encoder.subset(job.encoded, attempt.unsettled),
            parent=job,
            positions=list(attempt.unsettled),
        )
        # What the backend did not take waits for the next probe: on disk if it can (a
        # crash then loses nothing), else first in line in memory.
        if self._spool_job(retry):
            return
        with self._cond:
            self._queue.appendleft(retry)
            self._queued_bytes += retry.size
            self._cond.notify_all()

    def _send_spooled(self, spool: Spool) -> None:
        lease = next(iter(spool.leases()), None)
        with self._cond:
            if lease is None:
                self._spool_waiting = False
                return
            self._in_flight_lease = lease
        try:
            encoded = self._transport.encoder.encoded(lease.events, lease.encoding)
            attempt = self._attempt(lease.dataset, encoded, None)
        except Exception as error:  # content that cannot be sent: set aside for a person
            spool.quarantine(lease, error)
            return
        if attempt is None:  # the key was rejected: the batch waits for a good key
            lease.give_back(lease.events)
            return
        lease.sent(encoded.at(attempt.unsettled))

    def _attempt(self, dataset: str, encoded: EncodedEvents, job: Job | None) -> Attempt | None:
        """One send; the backend's health follows its outcome. None for a rejected key (the
        job's events then failed for good)."""
        stats = self._transport.stats
        try:
            # HONEYCOMB_TIMEOUT may ask more patience, never less: a request given up while
            # the backend still works on it is one it may store twice.
            deadline = Deadline.after(max(self._settings.timeout, ANSWER_WAIT))
            attempt = self._transport.send_encoded(dataset, encoded, deadline=deadline, attempts=1)
        except AuthenticationError as error:
            results = error.results or [EventResult(error.status, str(error))] * len(encoded)
            stats.record_results(results)
            self._key_rejected = True
            self._on_rejected(error)  # said before export() hears of it
            if job is not None:
                self._settle(job, dict(enumerate(results)))
            return None
        # Every send counts (a 429 storm shows in `failed_by_status`); only final failures are
        # reported as such.
        stats.record_results(attempt.results)
        failed = []
        if attempt.results.count(ACCEPTED) != len(attempt.results):  # identity: a C loop
            unsettled = set(attempt.unsettled)
            failed = [
                result
                for position, result in enumerate(attempt.results)
                if position not in unsettled and not result.ok
            ]
        if failed:
            self._on_failed(dataset, len(encoded), failed)
        with self._cond:
            if attempt.unsettled:
                self._become_unhealthy(attempt)
            else:
                self._healthy = True
                self._round = 0
        return attempt

    def _become_unhealthy(self, attempt: Attempt) -> None:
        """After a failed attempt (holding the lock): the next probe after a backoff."""
        wait = attempt.retry_after
        if wait is None:
            wait = min(self._transport.retry.backoff(self._round), PROBE_MAX_WAIT)
        self._round += 1
        self._next_try = time.monotonic() + wait
        if self._healthy:
            self._healthy = False
            self.counts["outages"] += 1
            spool = self._spool.directory if self._spool is not None else None
            notice(*lines.outage(attempt.results[attempt.unsettled[0]], self._settings, spool))

    # --- flush and close --------------------------------------------------------------------

    def flush(self, timeout: float) -> bool:
        """Wait until nothing waits (in memory, or on disk while the backend answers); True
        when nothing is left."""
        with self._cond:
            if self._stopped:
                return not self._queue and (self._spool is None or self._spool.pending() == 0)
            if self._spool is not None:
                self._spool_waiting = True
            self._enqueue(())
            return self._cond.wait_for(self._idle, timeout)

    def _idle(self) -> bool:
        return not self._queue and not self._busy and not self._spool_waiting

    def close(self, timeout: float = EXIT_WAIT) -> None:
        """Stop within `timeout` (at most `EXIT_WAIT`, and at exit by the deadline all closes
        share); what is not delivered by then goes to the spool, or is counted as lost, and one
        line says so."""
        with self._cond:
            if self._stopped:
                return
            self._closing = True
            self._close_by = _exit.close_by(timeout)
            worker = self._worker
            self._cond.notify_all()
        if worker is not None and worker is not threading.current_thread():
            worker.join(max(0.0, self._close_by - time.monotonic()))
        with self._cond:
            self._stopped = True
            # A request still unanswered is given up: its events are kept like the rest (if
            # the backend took it after all, they will arrive twice).
            unanswered = self._in_flight is not None or self._in_flight_lease is not None
            left = [job for job in (self._in_flight, *self._queue) if job is not None]
            lease, self._in_flight_lease = self._in_flight_lease, None
            self._queue.clear()
            self._queued_bytes = 0
        if lease is not None:  # back in the line, for the next process
            lease.give_back(lease.events)
        if unanswered:
            notice(*lines.unanswered_at_exit(self._settings))
        spooled = lost = 0
        for job in left:
            pending = job.pending
            if self._spool_job(job):
                spooled += pending
            elif pending:
                lost += pending
                self.counts["events_lost_at_exit"] += pending
                self._settle(job, job.everything(EventResult(NO_RESPONSE, _LOST_TEXT)))
        line = lines.at_exit(self._what, lost, spooled, self._spool)
        if line is not None:
            self._say(f"exit {id(self)}", line)
