"""The delivery of one batch (or one single event): which events to send in each round, what
result each gets, how long to wait before the next round. Performs no I/O.

`Transport` and `AsyncTransport` drive a `Delivery` with httpx: they post the bodies it says
are due, hand it what each request came to, and wait as long as it says.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final

import httpx

from ._answers import (
    NO_RESPONSE,
    Answer,
    failed_request,
    key_rejection,
    no_answer,
    per_event_results,
    unreadable_answer,
)
from ._config import ApiKey
from ._deadline import Deadline
from ._encode import Body
from ._errors import AuthenticationError
from ._model import EventResult
from ._retry import RetryPolicy, parse_retry_after
from ._transport_stats import TransportStats

SHUT_DOWN_TEXT: Final = "the transport was shut down before these events could be sent"
DEADLINE_TEXT: Final = "the send's deadline passed before these events could be sent"


class Closed(Exception):
    """The transport was closed while a send was under way."""


Outcome = Answer | Closed | httpx.HTTPError
"""What one request came to: an answer, the transport closed under it, or an httpx error (an
`httpx.TransportError` when no answer came, any other when the answer could not be read)."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one send of encoded events came to: every event's result, the positions of those
    worth another try (no answer, a status worth retrying, never sent in time), and the
    longest wait an answer asked for (`Retry-After`)."""

    results: list[EventResult]
    unsettled: list[int]
    retry_after: float | None


@dataclass(slots=True)
class Delivery:
    """Delivery of one batch (or one single event), as rounds of requests. Performs no I/O.

    A round posts every due body. Events that were accepted, or failed for good, are settled;
    events that failed in a way worth retrying are due again in the next round, if the policy
    and the deadline allow one. Nothing is ever sent again after a success.
    """

    make_bodies: Callable[[list[int]], Iterable[Body]]
    count: int
    policy: RetryPolicy
    deadline: Deadline
    key: ApiKey
    """Whose source a rejection names, and which is scrubbed from any text the server
    answers with (a server, or a proxy, may echo it back)."""
    per_event: bool
    stats: TransportStats
    record: bool = True
    """Whether the final results are added to `stats` (the exporters' courier counts them
    itself, once they are final across attempts)."""
    results: list[EventResult | None] = field(init=False)
    due: list[int] = field(init=False)
    _again: list[int] = field(init=False, default_factory=list)
    _last: dict[int, EventResult] = field(init=False, default_factory=dict)
    _retry_after: float | None = field(init=False, default=None)
    _round: int = field(init=False, default=0)
    rejection: AuthenticationError | None = field(init=False, default=None)
    unsettled: list[int] = field(init=False, default_factory=list)
    """Events given up on while a later send might still deliver them: never sent, or failed
    in a way worth retrying. What the spool keeps."""
    asked_wait: float | None = field(init=False, default=None)
    """The longest `Retry-After` any answer asked for, in seconds."""

    def __post_init__(self) -> None:
        self.results = [None] * self.count
        self.due = list(range(self.count))

    def sendable(self, closed: Callable[[], bool]) -> Iterator[Body]:
        """This round's bodies to post; those that may not be (a rejected key, a closed
        transport, the deadline passed) are settled here instead."""
        for body in self.make_bodies(self.due):
            if self.rejection is not None:
                self.give_up(body.positions, f"not sent: {self.rejection}")
            elif closed():
                self.give_up(body.positions, SHUT_DOWN_TEXT)
            elif self.deadline.expired:
                self.give_up(body.positions, DEADLINE_TEXT)
            else:
                if self._round:
                    self.stats.record(events_retried=len(body.positions))
                yield body

    def take(self, body: Body, outcome: Outcome) -> None:
        """Settle the events of `body` from what its request came to.

        No answer (a connection failed or reset, a timeout): the events may be sent again. An
        answer that could not be read (a proxy's corrupt gzip, say): the server may have kept
        the events, so they are failed rather than risk sending them twice. A rejected key is
        recorded in `rejection`: no further body is sent, and `final_results` raises it.
        """
        if isinstance(outcome, Answer):
            self._take_answer(body, outcome)
        elif isinstance(outcome, Closed):
            self.give_up(body.positions, SHUT_DOWN_TEXT)
        elif isinstance(outcome, httpx.TransportError):
            self.stats.record(requests=1, requests_failed=1)
            self._settle(body.positions, no_answer(outcome), retryable=True)
        else:
            self.stats.record(requests=1, requests_failed=1)
            self._settle(body.positions, unreadable_answer(outcome), retryable=False)

    def _take_answer(self, body: Body, answer: Answer) -> None:
        self.stats.record(requests=1)
        retries_before = len(self._again)
        self._settle_answer(body, answer.status, answer.content)
        retry_after = parse_retry_after(answer.headers.get("retry-after"))
        # Only an answer that asked for a retry sets the wait before it.
        if retry_after is not None and len(self._again) > retries_before:
            self._retry_after = max(self._retry_after or 0.0, retry_after)
            self.asked_wait = max(self.asked_wait or 0.0, retry_after)

    def _settle_answer(self, body: Body, status: int, content: bytes) -> None:
        retryable = self.policy.retryable_statuses
        if not 200 <= status < 300:
            result = failed_request(status, content, self.key)
            rejection = key_rejection(result, self.key)
            if rejection is not None:
                self.rejection = rejection
            self._settle(body.positions, result, rejection is None and status in retryable)
        elif not self.per_event:
            self._settle(body.positions, EventResult(status), retryable=False)
        else:
            outcome = per_event_results(status, content, len(body.positions), self.key)
            if isinstance(outcome, EventResult):
                self._settle(body.positions, outcome, retryable=False)
                return
            for position, result in zip(body.positions, outcome, strict=True):
                self._settle((position,), result, result.status in retryable)

    def _settle(self, positions: Sequence[int], result: EventResult, retryable: bool) -> None:
        """`result` for the events at `positions`: final, or their last failure when they are
        due again in the next round."""
        if retryable:
            for position in positions:
                self._last[position] = result
            self._again.extend(positions)
        elif len(positions) == self.count:  # every event, in one body: filled without a loop
            self.results = [result] * self.count
        else:
            for position in positions:
                self.results[position] = result

    def next_round(self) -> float | None:
        """Wait before the next round, or None when delivery is over (results are final)."""
        again, self._again = self._again, []
        retry_after, self._retry_after = self._retry_after, None
        if not again:
            return None
        if self.rejection is not None:
            self.give_up(again)
            return None
        self._round += 1
        if self._round >= self.policy.max_attempts:
            self.give_up(again)
            return None
        delay = retry_after if retry_after is not None else self.policy.backoff(self._round - 1)
        if delay >= self.deadline.remaining():
            self.give_up(again)
            return None
        self.due = again
        return delay

    def give_up(self, positions: Iterable[int] | None = None, reason: str | None = None) -> None:
        """Settle the given (or all unsettled) events with their last failure.

        An event that already failed keeps that failure (a 503 stays a 503); one never tried
        gets `reason`.
        """
        if positions is None:
            # An `EventResult` is always true: `all` finds a None without a loop in Python.
            if all(self.results):
                return
            positions = [i for i, result in enumerate(self.results) if result is None]
        for position in positions:
            last = self._last.get(position)
            self.results[position] = last or EventResult(NO_RESPONSE, reason or SHUT_DOWN_TEXT)
            self.unsettled.append(position)

    def final_results(self, reason: str) -> list[EventResult]:
        """Every event's result; events still unsettled get their last failure or `reason`.

        Raises the key rejection, if any, carrying these results.
        """
        self.give_up(reason=reason)
        results = list(filter(None, self.results))  # every one settled: only the type changes
        if self.record:
            self.stats.record_results(results)
        if self.rejection is not None:
            self.rejection.results = results
            raise self.rejection
        return results

    def attempt(self, results: list[EventResult]) -> Attempt:
        """What this delivery came to, given its final `results`."""
        return Attempt(results, self.unsettled, self.asked_wait)
