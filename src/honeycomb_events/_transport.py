"""One transport: post bodies to the Events API, retry what may be retried, report every event.

The retry rules live once, in `_Delivery`, which performs no I/O: it says which bodies to post,
takes each answer, and says how long to wait before the next round. `Transport` (threads) and
`AsyncTransport` (asyncio) only drive it with httpx.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import email.utils
import logging
import os
import platform
import random
import ssl
import threading
import time
import weakref
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, Generic, TypeVar
from urllib.parse import quote

import httpx
import msgspec
import zstandard

from ._config import ApiKey, Settings, validate_dataset
from ._encode import BatchEncoder, Body, EncodedEvents
from ._errors import AuthenticationError
from ._limits import LimitTally
from ._model import ACCEPTED, BatchEvent, EventResult
from ._spool import Spool
from ._version import __version__

_logger = logging.getLogger("honeycomb_events")

RETRYABLE_STATUSES: Final = frozenset({429, 502, 503, 504})
NO_RESPONSE: Final = 0
"""The `EventResult.status` of an event that got no HTTP answer."""

_USER_AGENT: Final = (
    f"honeycomb-events/{__version__} httpx/{httpx.__version__} python/{platform.python_version()}"
)
# Texts Honeycomb answers with a 400 when the key itself is the problem (events-api.md).
_KEY_REJECTION_TEXTS: Final = ("unknown api key", "invalid key")
_MAX_ERROR_TEXT: Final = 300


_OWN_REQUEST: Final = contextvars.ContextVar("honeycomb_events_own_request", default=False)

MAX_ANSWER_BYTES: Final = 16 * 1024 * 1024
"""The most an answer may hold, compressed or not. Honeycomb's answer to the largest body (a
`{"status":202}` for each of its events) is well under it; a larger one is not read."""
_TOO_LARGE_TEXT: Final = f"the answer is over {MAX_ANSWER_BYTES} bytes"


def _already_read(response: httpx.Response) -> bool:
    """Whether httpx holds the whole body already (an answer made in memory, as a test's
    `MockTransport` makes), so that there is no raw stream to read."""
    try:
        response.content  # noqa: B018 - raises while the body is still a stream
    except httpx.ResponseNotRead:
        return False
    return True


def bounded_decoding(raw: bytes | bytearray, encoding: str | None) -> bytes:
    """An answer's body, decompressed to at most `MAX_ANSWER_BYTES`: requests ask for no
    compression, but a proxy may compress anyway, and a small compressed body can expand to
    gigabytes. `httpx.DecodingError` for a body over the bound or one that does not decode."""
    name = (encoding or "identity").strip().lower()
    try:
        if name == "identity":
            return bytes(raw)
        if name in ("gzip", "x-gzip", "deflate"):
            window = zlib.MAX_WBITS | (16 if name != "deflate" else 0)
            decompressor = zlib.decompressobj(window)
            content = decompressor.decompress(bytes(raw), MAX_ANSWER_BYTES + 1)
        elif name == "zstd":
            # A stream, not `decompress()`: that allocates whatever size the frame claims.
            with zstandard.ZstdDecompressor().stream_reader(bytes(raw)) as reader:
                content = reader.read(MAX_ANSWER_BYTES + 1)
        else:
            raise httpx.DecodingError(f"an answer in an encoding not asked for: {name}")
    except (zlib.error, zstandard.ZstdError) as error:
        raise httpx.DecodingError(f"an answer that does not decode: {error}") from error
    if len(content) > MAX_ANSWER_BYTES:
        raise httpx.DecodingError(_TOO_LARGE_TEXT)
    return content


class _QuietOwnRequests(logging.Filter):
    """Drops httpx's per-request log line for this package's own requests.

    A logging bridge that exports logs through this package (OTel's `LoggingHandler` on the
    root logger at INFO) would otherwise turn each export's "HTTP Request" line into a record
    to export, and so on forever. The application's own httpx requests still log.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not _OWN_REQUEST.get()


logging.getLogger("httpx").addFilter(_QuietOwnRequests())


class _Closed(Exception):
    """The transport was closed while a send was under way."""


# Jitter from a generator of our own: the global one is the application's (a test seeding it
# should not make our waits predictable, nor our draws move its sequence).
_JITTER: Final = random.Random()

_HttpT = TypeVar("_HttpT", httpx.BaseTransport, httpx.AsyncBaseTransport)

SHUT_DOWN_TEXT: Final = "the transport was shut down before these events could be sent"
DEADLINE_TEXT: Final = "the send's deadline passed before these events could be sent"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When and how often a failed send is tried again. Immutable: each transport holds one.

    Waits grow as ``initial_backoff * 2**n`` up to `max_backoff`, each drawn between half and
    all of that ("equal jitter"), so many processes failing together do not retry together.
    A `Retry-After` header replaces the computed wait. No wait ever outlasts the deadline of
    the send: a retry that could not happen in time is not attempted.
    """

    max_attempts: int = 6
    initial_backoff: float = 0.5
    max_backoff: float = 30.0
    retryable_statuses: frozenset[int] = RETRYABLE_STATUSES

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 <= self.initial_backoff <= self.max_backoff:
            raise ValueError("backoffs must satisfy 0 <= initial_backoff <= max_backoff")

    def backoff(self, retry: int, draw: Callable[[], float] | None = None) -> float:
        """The wait before retry number `retry` (0 for the first retry)."""
        # The exponent is capped: 2.0**1024 overflows, and the ceiling stopped growing long before.
        ceiling = min(self.max_backoff, self.initial_backoff * 2.0 ** min(retry, 64))
        return ceiling / 2 + (draw or _JITTER.random)() * ceiling / 2


def tls_verification(settings: Settings) -> ssl.SSLContext | bool:
    """httpx's `verify`: certificates are always verified, against the configured CA bundle,
    else the system's (httpx's default)."""
    if settings.ca_bundle is None:
        return True
    return ssl.create_default_context(cafile=settings.ca_bundle)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (seconds or an HTTP date), if usable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class TransportStats:
    """Counters of what one transport did, safe to update from many threads.

    `snapshot()` gives: events_submitted, events_accepted, events_failed, events_retried,
    requests, requests_failed (no HTTP answer), the limit transformations (strings_truncated,
    non_finite_floats, values_converted, fields_dropped, events_shrunk), and failed_by_status.
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
                )
            }
            counts.update((name, getattr(self._limits, name)) for name in self._limits.__slots__)
            counts["failed_by_status"] = dict(self._failed_by_status)
            return counts


@dataclass(slots=True)
class _Delivery:
    """Delivery of one batch (or one single event), as rounds of requests. Performs no I/O.

    A round posts every due body. Events that were accepted, or failed for good, are settled;
    events that failed in a way worth retrying are due again in the next round, if the policy
    and the deadline allow one. Nothing is ever sent again after a success.
    """

    make_bodies: Callable[[list[int]], Iterable[Body]]
    count: int
    policy: RetryPolicy
    deadline: float
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

    def sendable(self, closed: Callable[[], bool]) -> Iterator[tuple[Body, float]]:
        """This round's bodies with the seconds left for each; the rest are settled here."""
        for body in self.make_bodies(self.due):
            remaining = self.deadline - time.monotonic()
            if self.rejection is not None:
                self.give_up(body.positions, f"not sent: {self.rejection}")
            elif closed():
                self.give_up(body.positions, SHUT_DOWN_TEXT)
            elif remaining <= 0:
                self.give_up(body.positions, DEADLINE_TEXT)
            else:
                if self._round:
                    self.stats.record(events_retried=len(body.positions))
                yield body, remaining

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def _fail(self, positions: Iterable[int], result: EventResult, retryable: bool) -> None:
        for position in positions:
            if retryable:
                self._last[position] = result
                self._again.append(position)
            else:
                self.results[position] = result

    def on_transport_error(self, body: Body, error: Exception) -> None:
        """No answer (connection failed or reset, timeout): the events may be sent again."""
        self.stats.record(requests=1, requests_failed=1)
        text = f"no response from Honeycomb: {type(error).__name__}: {error}"
        self._fail(body.positions, EventResult(NO_RESPONSE, text[:_MAX_ERROR_TEXT]), True)

    def on_unreadable_response(self, body: Body, error: Exception) -> None:
        """An answer came but could not be read (a proxy's corrupt gzip, say). The server may
        have kept the events, so they are failed rather than risk sending them twice."""
        self.stats.record(requests=1, requests_failed=1)
        text = f"unreadable response from Honeycomb: {type(error).__name__}: {error}"
        self._fail(body.positions, EventResult(NO_RESPONSE, text[:_MAX_ERROR_TEXT]), False)

    def on_response(
        self, body: Body, status: int, content: bytes, headers: Mapping[str, str]
    ) -> None:
        """Settle the events of `body` from Honeycomb's answer.

        A rejected key is recorded in `rejection`: no further body is sent, and the driver
        raises it once every event has a result.
        """
        self.stats.record(requests=1)
        retries_before = len(self._again)
        self._settle(body, status, content)
        retry_after = parse_retry_after(headers.get("retry-after"))
        # Only an answer that asked for a retry sets the wait before it.
        if retry_after is not None and len(self._again) > retries_before:
            self._retry_after = max(self._retry_after or 0.0, retry_after)
            self.asked_wait = max(self.asked_wait or 0.0, retry_after)

    def _settle(self, body: Body, status: int, content: bytes) -> None:
        if 200 <= status < 300:
            if self.per_event:
                self._settle_per_event(body, status, content)
            else:
                self._fail(body.positions, EventResult(status), False)
            return
        error = self.key.scrubbed(_error_text(status, content))
        if status == 401 or (
            status == 400 and any(text in error.lower() for text in _KEY_REJECTION_TEXTS)
        ):
            self.rejection = AuthenticationError(
                f"Honeycomb rejected the API key from {self.key.source} ({status}: {error}); "
                f"set {self.key.source} to an ingest key of the environment you send to",
                status=status,
                key_source=self.key.source,
            )
            self._fail(body.positions, EventResult(status, error), False)
            return
        retryable = status in self.policy.retryable_statuses
        self._fail(body.positions, EventResult(status, error), retryable)

    def _settle_per_event(self, body: Body, status: int, content: bytes) -> None:
        if not content.strip():
            # An empty 2xx answer means the whole batch was queued.
            self._fail(body.positions, EventResult(202), False)
            return
        if content.translate(None, b" \t\r\n") == _all_accepted(len(body.positions)):
            # The usual answer, known without decoding it into an object per event.
            self._fail(body.positions, ACCEPTED, False)
            return
        try:
            answers = msgspec.json.decode(content)
        except msgspec.DecodeError:
            answers = None
        if not isinstance(answers, list) or len(answers) != len(body.positions):
            # The server answered but we cannot tell which events it kept: resending could
            # duplicate them, so they are reported as failed, not retried.
            unreadable = EventResult(
                NO_RESPONSE, f"unreadable per-event answer to a {status} response"
            )
            self._fail(body.positions, unreadable, False)
            return
        for position, answer in zip(body.positions, answers, strict=True):
            result = _event_result(answer)
            if result.error:
                result = EventResult(result.status, self.key.scrubbed(result.error))
            retryable = result.status in self.policy.retryable_statuses
            self._fail((position,), result, retryable)

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
        if delay >= self.remaining():
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
        results = [result for result in self.results if result is not None]
        if self.record:
            self.stats.record_results(results)
        if self.rejection is not None:
            self.rejection.results = results
            raise self.rejection
        return results


def _all_accepted(count: int) -> bytes:
    """Honeycomb's answer to a batch of `count` events that were all accepted, compact."""
    return b"[" + b",".join([b'{"status":202}'] * count) + b"]"


def _event_result(answer: Any) -> EventResult:
    if isinstance(answer, dict):
        status = answer.get("status")
        if isinstance(status, int) and not isinstance(status, bool):
            error = answer.get("error")
            return EventResult(status, str(error)[:_MAX_ERROR_TEXT] if error else None)
    return EventResult(NO_RESPONSE, f"unreadable per-event answer {answer!r:.80}")


def _error_text(status: int, content: bytes) -> str:
    """Honeycomb's error text from a failed response (`{"error": ...}` or plain text)."""
    try:
        decoded = msgspec.json.decode(content)
    except msgspec.DecodeError:
        decoded = None
    if isinstance(decoded, dict) and decoded.get("error"):
        return str(decoded["error"])[:_MAX_ERROR_TEXT]
    text = content.decode("utf-8", "replace").strip()
    if text:
        return text[:_MAX_ERROR_TEXT]
    return httpx.codes.get_reason_phrase(status) or f"HTTP {status}"


class _BaseTransport(Generic[_HttpT]):
    """What both transports share: settings, encoder, headers, URLs, and the delivery plan."""

    def __init__(
        self,
        settings: Settings,
        *,
        retry: RetryPolicy | None = None,
        encoder: BatchEncoder | None = None,
        stats: TransportStats | None = None,
        http_transport: _HttpT | None = None,
    ) -> None:
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self.encoder = encoder or BatchEncoder(settings.encoding, settings.compression)
        self.stats = stats or TransportStats()
        self._endpoint = settings.endpoint.rstrip("/")
        self._batch_headers = {
            "X-Honeycomb-Team": settings.api_key.reveal(),
            "User-Agent": _USER_AGENT,
            # Honeycomb's answers are small; a compressed one is only a risk (see
            # `bounded_decoding`).
            "Accept-Encoding": "identity",
            **self.encoder.headers,
        }
        self._single_headers = self._batch_headers | {"Content-Type": "application/json"}
        self._http_transport: _HttpT | None = http_transport
        spool = settings.spool
        self.spool: Spool | None = (
            None
            if spool is None
            else Spool(spool.directory, max_bytes=spool.max_bytes, max_age=spool.max_age)
        )
        self._reset_connections(closed=False)
        _LIVE_TRANSPORTS.add(self)

    def _reset_connections(self, *, closed: bool) -> None:
        """Fresh locks, shutdown flag and (lazily) connection pool; after a fork too."""
        raise NotImplementedError

    @property
    def closed(self) -> bool:
        raise NotImplementedError

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(endpoint={self._endpoint!r}, api_key={self.settings.api_key!r})"
        )

    def _url(self, kind: str, dataset: str) -> str:
        return f"{self._endpoint}/1/{kind}/{quote(validate_dataset(dataset), safe='')}"

    def _plan_batch(
        self, dataset: str, events: Iterable[BatchEvent], timeout: float | None
    ) -> tuple[str, _Delivery, EncodedEvents]:
        url = self._url("batch", dataset)
        deadline = time.monotonic() + (self.settings.timeout if timeout is None else timeout)
        tally = LimitTally()
        encoded = self.encoder.encode_events(events, tally)
        self.stats.record_limits(tally)
        self.stats.record(events_submitted=len(encoded))
        return url, self._delivery_of(encoded, deadline), encoded

    def _delivery_of(
        self,
        encoded: EncodedEvents,
        deadline: float,
        policy: RetryPolicy | None = None,
        *,
        record: bool = True,
    ) -> _Delivery:
        return _Delivery(
            make_bodies=lambda due: self.encoder.bodies(encoded, due),
            count=len(encoded),
            policy=policy or self.retry,
            deadline=deadline,
            key=self.settings.api_key,
            per_event=True,
            stats=self.stats,
            record=record,
        )

    def _plan_single(
        self, dataset: str, event: BatchEvent, timeout: float | None
    ) -> tuple[str, dict[str, str], _Delivery]:
        url = self._url("events", dataset)
        deadline = time.monotonic() + (self.settings.timeout if timeout is None else timeout)
        tally = LimitTally()
        body = self.encoder.encode_single(event.data, tally)
        self.stats.record_limits(tally)
        self.stats.record(events_submitted=1)
        headers = dict(self._single_headers)
        if event.time is not None:
            headers["X-Honeycomb-Event-Time"] = event.time
        if event.samplerate is not None:
            headers["X-Honeycomb-Samplerate"] = str(event.samplerate)
        delivery = _Delivery(
            make_bodies=lambda due: (body,) if due else (),
            count=1,
            policy=self.retry,
            deadline=deadline,
            key=self.settings.api_key,
            per_event=False,
            stats=self.stats,
        )
        return url, headers, delivery


# Transports re-make their locks and connection pools in a forked child: a pool's sockets are
# shared with the parent, and a lock may have been held by a thread that does not exist there.
_LIVE_TRANSPORTS: weakref.WeakSet[_BaseTransport[Any]] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for transport in list(_LIVE_TRANSPORTS):
        transport.stats.reset_lock()
        transport._reset_connections(closed=transport.closed)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one send of encoded events came to: every event's result, the positions of those
    worth another try (no answer, a status worth retrying, never sent in time), and the
    longest wait an answer asked for (`Retry-After`)."""

    results: list[EventResult]
    unsettled: list[int]
    retry_after: float | None


class Transport(_BaseTransport[httpx.BaseTransport]):
    """Sends batches and single events from threads, through one reused httpx connection pool.

    `send_batch` never raises for a failed delivery: every event gets an `EventResult`. It
    raises `AuthenticationError` when the key is rejected, since no retry can fix that.
    Thread-safe; after `os.fork()` the child opens its own connections.
    """

    def _reset_connections(self, *, closed: bool) -> None:
        self._lock = threading.Lock()
        self._draining = threading.Lock()
        self._closed = threading.Event()
        if closed:
            self._closed.set()
        self._http: httpx.Client | None = None

    def _client(self) -> httpx.Client:
        http = self._http
        if http is None:
            with self._lock:
                # Checked under the lock so that no pool is opened after close().
                if self._closed.is_set():
                    raise _Closed
                http = self._http
                if http is None:
                    http = self._http = httpx.Client(
                        transport=self._http_transport,
                        follow_redirects=False,
                        verify=tls_verification(self.settings),
                    )
        return http

    def _post(
        self, url: str, body: Body, headers: Mapping[str, str], remaining: float, deadline: float
    ) -> tuple[int, bytes, httpx.Headers]:
        """Post `body`; the response must arrive in full before `deadline`.

        httpx's timeout bounds each network wait, not the whole response, so a response that
        trickles in is cut off here: a send overruns its deadline by one network wait at most.
        """
        token = _OWN_REQUEST.set(True)
        try:
            with self._client().stream(
                "POST", url, content=body.content, headers=headers, timeout=remaining
            ) as response:
                if _already_read(response):  # an `httpx.MockTransport` answer
                    return response.status_code, response.content, response.headers
                raw = bytearray()
                for chunk in response.iter_raw():
                    raw += chunk
                    if len(raw) > MAX_ANSWER_BYTES:
                        raise httpx.DecodingError(_TOO_LARGE_TEXT)
                    if time.monotonic() > deadline:
                        raise httpx.ReadTimeout(DEADLINE_TEXT)
                content = bounded_decoding(raw, response.headers.get("content-encoding"))
                return response.status_code, content, response.headers
        except RuntimeError as error:  # httpx: "the client has been closed"
            if self._closed.is_set():
                raise _Closed from error
            raise
        finally:
            _OWN_REQUEST.reset(token)

    def send_batch(
        self, dataset: str, events: Iterable[BatchEvent], *, timeout: float | None = None
    ) -> list[EventResult]:
        """Deliver `events` to `dataset` within `timeout` seconds (default: the settings').

        With a spool, events still undelivered at the end (never sent, or failed in a way
        worth retrying) are written to it, and once a batch is accepted the spooled batches
        are resent, oldest first, within what is left of the deadline.
        """
        url, delivery, encoded = self._plan_batch(dataset, events, timeout)
        results = self._deliver(url, self._batch_headers, delivery)
        if self.spool is not None:
            results = self._spool_and_drain(self.spool, dataset, encoded, delivery, results)
        return results

    def send_encoded(
        self,
        dataset: str,
        encoded: EncodedEvents,
        *,
        timeout: float,
        attempts: int | None = None,
    ) -> Attempt:
        """Deliver events encoded earlier, in up to `attempts` rounds (default: the retry
        policy's) within `timeout` seconds, without spooling and without adding the results
        to `stats` (the caller decides when they are final). Raises `AuthenticationError`
        for a rejected key, as `send_batch` does."""
        policy = self.retry if attempts is None else replace(self.retry, max_attempts=attempts)
        delivery = self._delivery_of(encoded, time.monotonic() + timeout, policy, record=False)
        results = self._deliver(self._url("batch", dataset), self._batch_headers, delivery)
        return Attempt(results, delivery.unsettled, delivery.asked_wait)

    def _spool_and_drain(
        self,
        spool: Spool,
        dataset: str,
        encoded: EncodedEvents,
        delivery: _Delivery,
        results: list[EventResult],
    ) -> list[EventResult]:
        if delivery.unsettled:
            try:
                written = spool.write(
                    dataset,
                    self.encoder.encoding.value,
                    [encoded[position] for position in delivery.unsettled],
                )
            except OSError as error:  # a full disk, a directory gone: the send's results stand
                _logger.warning(
                    "could not spool %d undelivered events to %r in %s: %s",
                    len(delivery.unsettled),
                    dataset,
                    spool.directory,
                    error,
                )
                return results
            if written:
                results = list(results)
                for position in delivery.unsettled:
                    result = results[position]
                    results[position] = EventResult(
                        result.status, f"{result.error or 'not delivered'}; spooled for later"
                    )
        elif ACCEPTED in results:
            self._drain_spool(spool, delivery.deadline)
        return results

    def drain_spool(self, timeout: float | None = None) -> bool:
        """Resend what the spool holds within `timeout` seconds (default: the settings');
        True when nothing is left in it (or there is no spool)."""
        if self.spool is None:
            return True
        seconds = self.settings.timeout if timeout is None else timeout
        self._drain_spool(self.spool, time.monotonic() + seconds)
        return self.spool.pending() == 0

    def _drain_spool(self, spool: Spool, deadline: float) -> None:
        """Resend spooled batches, oldest first, until one fails or the deadline passes."""
        if not self._draining.acquire(blocking=False):
            return  # another thread is at it
        try:
            for lease in spool.leases():
                if self.closed or deadline - time.monotonic() <= 0:
                    lease.give_back(lease.events)
                    return
                encoded = self.encoder.encoded(lease.events, lease.encoding)
                delivery = self._delivery_of(encoded, deadline)
                try:
                    self._deliver(self._url("batch", lease.dataset), self._batch_headers, delivery)
                except AuthenticationError:
                    lease.give_back(lease.events)
                    return
                lease.sent([encoded[position] for position in delivery.unsettled])
                if delivery.unsettled:
                    return  # the backend fails again: the rest waits for the next success
        finally:
            self._draining.release()

    def send_event(
        self, dataset: str, event: BatchEvent, *, timeout: float | None = None
    ) -> EventResult:
        """Deliver one event through the single-event endpoint."""
        url, headers, delivery = self._plan_single(dataset, event, timeout)
        return self._deliver(url, headers, delivery)[0]

    def _deliver(
        self, url: str, headers: Mapping[str, str], delivery: _Delivery
    ) -> list[EventResult]:
        while True:
            for body, remaining in delivery.sendable(self._closed.is_set):
                try:
                    answer = self._post(url, body, headers, remaining, delivery.deadline)
                except _Closed:
                    delivery.give_up(body.positions, SHUT_DOWN_TEXT)
                except httpx.TransportError as error:
                    delivery.on_transport_error(body, error)
                except httpx.HTTPError as error:
                    delivery.on_unreadable_response(body, error)
                else:
                    delivery.on_response(body, *answer)
            delay = delivery.next_round()
            if delay is None or self._closed.wait(delay):
                return delivery.final_results(SHUT_DOWN_TEXT)

    def close(self) -> None:
        """Stop: a backoff in progress ends at once, later sends fail without a request."""
        self._closed.set()
        with self._lock:
            http, self._http = self._http, None
        if http is not None:
            http.close()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()


class AsyncTransport(_BaseTransport[httpx.AsyncBaseTransport]):
    """The asyncio twin of `Transport`, on an `httpx.AsyncClient`; same rules and results."""

    def _reset_connections(self, *, closed: bool) -> None:
        self._closed = closed
        # Connections and events belong to one event loop; a new loop gets new ones.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._http: httpx.AsyncClient | None = None

    def _bind_loop(self) -> asyncio.Event:
        """This loop's wake-up event (set on close), making fresh state for a new loop."""
        loop = asyncio.get_running_loop()
        wake = self._wake
        if loop is not self._loop or wake is None:
            # The old loop's connections cannot be closed from here; they go with that loop.
            wake = asyncio.Event()
            if self._closed:
                wake.set()
            self._loop, self._wake, self._http = loop, wake, None
        return wake

    def _client(self) -> httpx.AsyncClient:
        self._bind_loop()
        if self._closed:
            raise _Closed
        if self._http is None:
            self._http = httpx.AsyncClient(
                transport=self._http_transport,
                follow_redirects=False,
                verify=tls_verification(self.settings),
            )
        return self._http

    def _is_closed(self) -> bool:
        return self._closed

    async def send_batch(
        self, dataset: str, events: Iterable[BatchEvent], *, timeout: float | None = None
    ) -> list[EventResult]:
        url, delivery, _ = self._plan_batch(dataset, events, timeout)
        return await self._deliver(url, self._batch_headers, delivery)

    async def send_event(
        self, dataset: str, event: BatchEvent, *, timeout: float | None = None
    ) -> EventResult:
        url, headers, delivery = self._plan_single(dataset, event, timeout)
        return (await self._deliver(url, headers, delivery))[0]

    async def _post(
        self, url: str, body: Body, headers: Mapping[str, str], remaining: float
    ) -> tuple[int, bytes, httpx.Headers]:
        client = self._client()

        async def post() -> tuple[int, bytes, httpx.Headers]:
            async with client.stream(
                "POST", url, content=body.content, headers=headers, timeout=remaining
            ) as response:
                if _already_read(response):  # an `httpx.MockTransport` answer
                    return response.status_code, response.content, response.headers
                raw = bytearray()
                async for chunk in response.aiter_raw():
                    raw += chunk
                    if len(raw) > MAX_ANSWER_BYTES:
                        raise httpx.DecodingError(_TOO_LARGE_TEXT)
                content = bounded_decoding(raw, response.headers.get("content-encoding"))
                return response.status_code, content, response.headers

        token = _OWN_REQUEST.set(True)  # wait_for's task copies this context
        try:
            # Unlike httpx's timeout, wait_for bounds the whole exchange.
            return await asyncio.wait_for(post(), remaining)
        except asyncio.TimeoutError:
            raise httpx.ReadTimeout(DEADLINE_TEXT) from None
        except RuntimeError as error:  # httpx: "the client has been closed"
            if self._closed:
                raise _Closed from error
            raise
        finally:
            _OWN_REQUEST.reset(token)

    async def _deliver(
        self, url: str, headers: Mapping[str, str], delivery: _Delivery
    ) -> list[EventResult]:
        while True:
            for body, remaining in delivery.sendable(self._is_closed):
                try:
                    answer = await self._post(url, body, headers, remaining)
                except _Closed:
                    delivery.give_up(body.positions, SHUT_DOWN_TEXT)
                except httpx.TransportError as error:
                    delivery.on_transport_error(body, error)
                except httpx.HTTPError as error:
                    delivery.on_unreadable_response(body, error)
                else:
                    delivery.on_response(body, *answer)
            delay = delivery.next_round()
            if delay is None or await self._wait_closed(delay):
                return delivery.final_results(SHUT_DOWN_TEXT)

    async def _wait_closed(self, seconds: float) -> bool:
        """Sleep `seconds`, or less if the transport is closed meanwhile; True if it was."""
        try:
            await asyncio.wait_for(self._bind_loop().wait(), seconds)
        except asyncio.TimeoutError:
            return False
        return True

    def stop(self) -> None:
        """Stop sending, from any thread; connections are released by `aclose()` or the GC."""
        self._closed = True
        loop, wake = self._loop, self._wake
        if loop is None or wake is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            wake.set()
        else:
            loop.call_soon_threadsafe(wake.set)

    async def aclose(self) -> None:
        """Stop: a backoff in progress ends at once; close this loop's connections."""
        self.stop()
        http, self._http = self._http, None
        if http is not None and self._loop is asyncio.get_running_loop():
            await http.aclose()

    @property
    def closed(self) -> bool:
        return self._closed
