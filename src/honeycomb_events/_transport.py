"""The two transports: `Transport` (threads) and `AsyncTransport` (asyncio) post bodies to the
Events API with httpx, retry what may be retried, and report a result for every event.

They only do the I/O. Which events to send, what result each gets and how long to wait before
a retry is decided once, in `_delivery.Delivery`; what both share about HTTP (headers, URLs,
TLS, the plan of a send) is in `_http.TransportBase`. A send's timeout becomes one `Deadline`
where the send starts, and that deadline goes down to the socket.

The names other modules import from here (the retry policy, the counters, `NO_RESPONSE`...)
are re-exported from the modules that define them.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from urllib.parse import urlsplit

import httpx

from ._answers import NO_RESPONSE, Answer, AnswerBody
from ._config import Settings
from ._deadline import Deadline
from ._delivery import (
    DEADLINE_TEXT,
    SHUT_DOWN_TEXT,
    Attempt,
    Closed,
    Delivery,
    Outcome,
)
from ._direct import DirectConnection, proxied
from ._encode import BatchEncoder, Body, EncodedEvents
from ._errors import AuthenticationError
from ._http import TransportBase, request_timeout, tls_verification
from ._model import ACCEPTED, BatchEvent, EventResult
from ._retry import RetryPolicy, parse_retry_after
from ._spool import Lease, Spool
from ._spooling import drain, keep_undelivered
from ._transport_stats import TransportStats

__all__ = [
    "NO_RESPONSE",
    "AsyncTransport",
    "Attempt",
    "RetryPolicy",
    "Transport",
    "TransportStats",
    "parse_retry_after",
    "tls_verification",
]


class Transport(TransportBase[httpx.BaseTransport]):
    """Sends batches and single events from threads, through one reused httpx connection pool.

    `send_batch` never raises for a failed delivery: every event gets an `EventResult`. It
    raises `AuthenticationError` when the key is rejected, since no retry can fix that.
    Thread-safe; after `os.fork()` the child opens its own connections.

    A transport made for `one_sender` (the exporters' courier) posts through one direct
    connection of the standard library's instead (see `_direct`), where no proxy applies and
    no httpx transport was given.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        one_sender: bool = False,
        retry: RetryPolicy | None = None,
        encoder: BatchEncoder | None = None,
        stats: TransportStats | None = None,
        http_transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._one_sender = one_sender and http_transport is None and not proxied(settings.endpoint)
        self._https = urlsplit(settings.endpoint).scheme == "https"
        super().__init__(
            settings, retry=retry, encoder=encoder, stats=stats, http_transport=http_transport
        )

    def _reset_connections(self, *, closed: bool) -> None:
        self._lock = threading.Lock()
        self._draining = threading.Lock()
        self._closed = threading.Event()
        if closed:
            self._closed.set()
        self._http: httpx.Client | None = None
        self._direct = (
            # No TLS context where no TLS is spoken: even an empty one costs half a MiB.
            DirectConnection(
                self.settings.endpoint,
                tls_verification(self.settings) if self._https else None,
            )
            if self._one_sender
            else None
        )

    def _client(self) -> httpx.Client:
        http = self._http
        if http is None:
            with self._lock:
                # Checked under the lock so that no pool is opened after close().
                if self._closed.is_set():
                    raise Closed
                http = self._http
                if http is None:
                    http = self._http = httpx.Client(**self._client_options())
        return http

    def send_batch(
        self,
        dataset: str,
        events: Iterable[BatchEvent],
        *,
        timeout: float | None = None,
        deadline: Deadline | None = None,
    ) -> list[EventResult]:
        """Deliver `events` to `dataset` within `timeout` seconds (default: the settings'), or
        by `deadline`.

        With a spool, events still undelivered at the end (never sent, or failed in a way
        worth retrying) are written to it, and once a batch is accepted the spooled batches
        are resent, oldest first, by the same deadline.
        """
        url, delivery, encoded = self._plan_batch(
            dataset, events, self._deadline(timeout, deadline)
        )
        results = self._deliver(url, self._batch_headers, delivery)
        spool = self.spool
        if spool is None:
            return results
        if delivery.unsettled:
            encoding = self.encoder.encoding.value
            return keep_undelivered(
                spool, dataset, encoding, encoded, unsettled=delivery.unsettled, results=results
            )
        if ACCEPTED in results:
            self._drain_spool(spool, delivery.deadline)
        return results

    def send_encoded(
        self,
        dataset: str,
        encoded: EncodedEvents,
        *,
        deadline: Deadline,
        attempts: int | None = None,
    ) -> Attempt:
        """Deliver events encoded earlier, in up to `attempts` rounds (default: the retry
        policy's) by `deadline`, without spooling and without adding the results to `stats`
        (the caller decides when they are final). Raises `AuthenticationError` for a rejected
        key, as `send_batch` does."""
        policy = self.retry if attempts is None else replace(self.retry, max_attempts=attempts)
        delivery = self._delivery_of(encoded, deadline, policy, record=False)
        results = self._deliver(self._url("batch", dataset), self._batch_headers, delivery)
        return delivery.attempt(results)

    def send_event(
        self, dataset: str, event: BatchEvent, *, timeout: float | None = None
    ) -> EventResult:
        """Deliver one event through the single-event endpoint, within `timeout` seconds
        (default: the settings')."""
        url, headers, delivery = self._plan_single(dataset, event, self._deadline(timeout))
        return self._deliver(url, headers, delivery)[0]

    def drain_spool(self, timeout: float | None = None) -> bool:
        """Resend what the spool holds within `timeout` seconds (default: the settings');
        True when nothing is left in it (or there is no spool)."""
        if self.spool is None:
            return True
        self._drain_spool(self.spool, self._deadline(timeout))
        return self.spool.pending() == 0

    def _drain_spool(self, spool: Spool, deadline: Deadline) -> None:
        """Resend spooled batches, oldest first, until one fails or the deadline passes."""
        if not self._draining.acquire(blocking=False):
            return  # another thread is at it
        try:
            drain(spool, deadline, lambda lease: self._resend(lease, deadline), self._closed.is_set)
        finally:
            self._draining.release()

    def _resend(self, lease: Lease, deadline: Deadline) -> Sequence[bytes] | None:
        """Send a spooled batch; its events still undelivered, or None for a rejected key."""
        encoded = self.encoder.encoded(lease.events, lease.encoding)
        delivery = self._delivery_of(encoded, deadline)
        try:
            self._deliver(self._url("batch", lease.dataset), self._batch_headers, delivery)
        except AuthenticationError:
            return None
        return encoded.at(delivery.unsettled)

    def _deliver(
        self, url: str, headers: Mapping[str, str], delivery: Delivery
    ) -> list[EventResult]:
        """Post what `delivery` says, round after round, waiting between rounds as it says."""
        while True:
            for body in delivery.sendable(self._closed.is_set):
                delivery.take(body, self._exchange(url, body, headers, delivery.deadline))
            delay = delivery.next_round()
            if delay is None or self._closed.wait(delay):
                return delivery.final_results(SHUT_DOWN_TEXT)

    def _exchange(
        self, url: str, body: Body, headers: Mapping[str, str], deadline: Deadline
    ) -> Outcome:
        """What posting `body` came to: its answer, or the error that stands for it."""
        try:
            return self._post(url, body, headers, deadline)
        except httpx.TransportError as error:
            return self._hinted(error)
        except (Closed, httpx.HTTPError) as error:
            return error

    def _post(self, url: str, body: Body, headers: Mapping[str, str], deadline: Deadline) -> Answer:
        """Post `body`; the answer must arrive in full by `deadline`.

        httpx's timeout bounds each network wait, not the whole answer, so an answer that
        trickles in is cut off here: a send overruns its deadline by one network wait at most.
        """
        direct = self._direct
        if direct is not None:
            return direct.post(url, body.content, headers, request_timeout(deadline))
        with (
            self._request_scope(),
            self._client().stream(
                "POST",
                url,
                content=body.content,
                headers=headers,
                timeout=request_timeout(deadline),
            ) as response,
        ):
            reader = AnswerBody(response)
            if reader.streamed:
                for chunk in response.iter_raw():
                    reader.add(chunk)
                    if deadline.expired:
                        raise httpx.ReadTimeout(DEADLINE_TEXT)
            return reader.answer()

    def close(self) -> None:
        """Stop: a backoff in progress ends at once, later sends fail without a request."""
        self._closed.set()
        with self._lock:
            http, self._http = self._http, None
        if http is not None:
            http.close()
        if self._direct is not None:
            self._direct.close()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()


class AsyncTransport(TransportBase[httpx.AsyncBaseTransport]):
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
            raise Closed
        if self._http is None:
            self._http = httpx.AsyncClient(**self._client_options())
        return self._http

    def _is_closed(self) -> bool:
        return self._closed

    async def send_batch(
        self, dataset: str, events: Iterable[BatchEvent], *, timeout: float | None = None
    ) -> list[EventResult]:
        """`Transport.send_batch` for asyncio code, without the spool."""
        url, delivery, _ = self._plan_batch(dataset, events, self._deadline(timeout))
        return await self._deliver(url, self._batch_headers, delivery)

    async def send_event(
        self, dataset: str, event: BatchEvent, *, timeout: float | None = None
    ) -> EventResult:
        """`Transport.send_event`, for asyncio code."""
        url, headers, delivery = self._plan_single(dataset, event, self._deadline(timeout))
        return (await self._deliver(url, headers, delivery))[0]

    async def _deliver(
        self, url: str, headers: Mapping[str, str], delivery: Delivery
    ) -> list[EventResult]:
        """Post what `delivery` says, round after round, waiting between rounds as it says."""
        while True:
            for body in delivery.sendable(self._is_closed):
                delivery.take(body, await self._exchange(url, body, headers, delivery.deadline))
            delay = delivery.next_round()
            if delay is None or await self._wait_closed(delay):
                return delivery.final_results(SHUT_DOWN_TEXT)

    async def _exchange(
        self, url: str, body: Body, headers: Mapping[str, str], deadline: Deadline
    ) -> Outcome:
        """What posting `body` came to: its answer, or the error that stands for it."""
        try:
            return await self._post(url, body, headers, deadline)
        except httpx.TransportError as error:
            return self._hinted(error)
        except (Closed, httpx.HTTPError) as error:
            return error

    async def _post(
        self, url: str, body: Body, headers: Mapping[str, str], deadline: Deadline
    ) -> Answer:
        """Post `body`; the answer must arrive in full by `deadline` (`asyncio.wait_for`
        bounds the whole exchange, where httpx's timeout bounds each network wait)."""
        client = self._client()
        timeout = request_timeout(deadline)

        async def post() -> Answer:
            async with client.stream(
                "POST", url, content=body.content, headers=headers, timeout=timeout
            ) as response:
                reader = AnswerBody(response)
                if reader.streamed:
                    async for chunk in response.aiter_raw():
                        reader.add(chunk)
                return reader.answer()

        with self._request_scope():  # wait_for's task copies this context
            try:
                return await asyncio.wait_for(post(), timeout)
            except asyncio.TimeoutError:
                raise httpx.ReadTimeout(DEADLINE_TEXT) from None

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
