"""`HoneycombClient`: send events to Honeycomb without OpenTelemetry, from sync or async code."""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from ._assembly import assemble
from ._buffered import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_FLUSH_INTERVAL,
    DEFAULT_MAX_QUEUE_BYTES,
    DEFAULT_MAX_QUEUE_SIZE,
    BufferedSender,
    ResultCallback,
    close_senders,
)
from ._config import ApiKey, resolve_settings
from ._datasets import validate_dataset
from ._errors import AuthenticationError, ClientClosedError
from ._formats import Compression, Encoding
from ._lifecycle import Closeable
from ._model import BatchEvent, EventResult, TimeInput
from ._presend import Presend, PresendHook, PresendTally, merged, pipeline
from ._transport import AsyncTransport, RetryPolicy, Transport

EventLike = BatchEvent | Mapping[str, Any]


def _batch_of(events: Iterable[EventLike]) -> list[BatchEvent]:
    """The events as `BatchEvent`s, a mapping made one (no call per event: this is per event)."""
    return [event if isinstance(event, BatchEvent) else BatchEvent(event) for event in events]


def _presend_one(presend: Presend | None, event: BatchEvent) -> BatchEvent | EventResult:
    """The event to send, or the result of one the hook or rules dropped; counted."""
    if presend is None:
        return event
    tally = PresendTally()
    outcome = presend.apply(event, tally)
    presend.record(tally)
    return outcome


def _add_dropped(error: AuthenticationError, results: list[EventResult | None]) -> None:
    """Make `error`'s results those of the whole batch: of the events sent, and of those the
    presend dropped, in order."""
    if error.results is not None:
        error.results = merged(results, error.results)


class HoneycombClient(Closeable):
    """A client for Honeycomb's Events API.

    Every argument falls back to the environment: `api_key` to ``HONEYCOMB_API_KEY`` (an
    `ApiKey` keeps the name of where it was read, for the messages of a rejection),
    `endpoint` to ``HONEYCOMB_API_ENDPOINT`` (default ``https://api.honeycomb.io``), `timeout`
    (seconds for one send, retries included) to ``HONEYCOMB_TIMEOUT`` (default 10),
    `compression` to ``HONEYCOMB_COMPRESSION`` (zstd, gzip or none; default zstd) and
    `encoding` to ``HONEYCOMB_ENCODING`` (json or msgpack; default json).

    The plain methods (``client.events.send``) work on any client; the ``_async`` ones on a
    client made without `sync=True`: a client made with it is for sync code only, never opens
    an async connection pool, and refuses the ``_async`` methods with a `RuntimeError`. Use it
    as ``with`` or ``async with`` so connections are closed.
    `http_transport` replaces httpx's network transport (e.g. `httpx.MockTransport`) in tests.

    `presend` is called with the fields of each event about to be sent (by every method,
    buffered senders included), and returns them, changed or not, or None to drop the event
    (docs/presend.md). A dropped event is not sent: its result has status 0 and says why.
    The rules of ``HONEYCOMB_REDACT_FIELDS`` and ``HONEYCOMB_DROP_EVENTS`` are the
    OpenTelemetry signals': the client's events are its caller's to change.
    """

    def __init__(
        self,
        api_key: str | ApiKey | None = None,
        endpoint: str | None = None,
        *,
        sync: bool = False,
        timeout: float | None = None,
        compression: str | Compression | None = None,
        encoding: str | Encoding | None = None,
        retry: RetryPolicy | None = None,
        http_transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        client_certificate: str | None = None,
        client_key: str | None = None,
        user_agent_addition: str | None = None,
        presend: PresendHook | None = None,
    ) -> None:
        self.settings = resolve_settings(
            api_key=api_key,
            endpoint=endpoint,
            timeout=timeout,
            compression=compression,
            encoding=encoding,
            headers=headers,
            client_certificate=client_certificate,
            client_key=client_key,
            user_agent_addition=user_agent_addition,
        )
        self.sync = sync
        self._http_transport = http_transport
        # Both transports share one policy, encoder and set of counters.
        self._parts = assemble(self.settings, retry=retry)
        self._presend = pipeline(presend, self._parts.stats, "HoneycombClient")
        self._transport: Transport | None = None
        self._async_transport: AsyncTransport | None = None
        self._senders: weakref.WeakSet[BufferedSender] = weakref.WeakSet()
        self._closed = False
        self._lock = threading.Lock()
        self.events = Events(self)

    def __repr__(self) -> str:
        return (
            f"HoneycombClient(endpoint={self.settings.endpoint!r}, "
            f"api_key={self.settings.api_key!r}, sync={self.sync})"
        )

    @property
    def stats(self) -> dict[str, Any]:
        """What this client sent: see `TransportStats.snapshot`."""
        return self._parts.stats.snapshot()

    def _check_open(self) -> None:
        if self._closed:
            raise ClientClosedError("this HoneycombClient is closed; create a new one")

    def _sync_transport(self) -> Transport:
        self._check_open()
        with self._lock:  # threads racing here would each make a transport
            return self._sync_transport_locked()

    def _sync_transport_locked(self) -> Transport:
        if self._transport is None:
            http = self._http_transport
            self._transport = self._parts.transport(
                http if isinstance(http, httpx.BaseTransport) else None
            )
        return self._transport

    def _asyncio_transport(self) -> AsyncTransport:
        if self.sync:
            raise RuntimeError(
                "this HoneycombClient was made with sync=True, for sync code only: call send() "
                "and send_batch(), or make the client without sync=True for the _async methods"
            )
        self._check_open()
        with self._lock:
            return self._asyncio_transport_locked()

    def _asyncio_transport_locked(self) -> AsyncTransport:
        if self._async_transport is None:
            http = self._http_transport
            self._async_transport = self._parts.async_transport(
                http if isinstance(http, httpx.AsyncBaseTransport) else None
            )
        return self._async_transport

    def _close_senders(self) -> None:
        close_senders(self._senders, self.settings.timeout)

    def close(self) -> None:
        """Flush buffered senders and close connections. An async transport is closed by
        `aclose()`; `close()` only stops it from sending."""
        if self._closed:
            return
        self._close_senders()
        self._closed = True
        if self._transport is not None:
            self._transport.close()
        if self._async_transport is not None:
            self._async_transport.stop()

    async def aclose(self) -> None:
        """Flush buffered senders and close every connection."""
        if self._closed:
            return
        if self._senders:
            # Closing senders waits on their worker threads: not on the event loop.
            await asyncio.to_thread(self._close_senders)
        self._closed = True
        if self._transport is not None:
            self._transport.close()
        if self._async_transport is not None:
            await self._async_transport.aclose()


class Events:
    """``client.events``: single events, batches, and buffered sending.

    Failed deliveries do not raise: each event gets an `EventResult` (``result.ok``,
    ``result.status``, ``result.error``). A rejected API key raises `AuthenticationError`,
    and bad arguments (a dataset with '/', a bad time) raise `ValueError`/`TypeError`.
    """

    def __init__(self, client: HoneycombClient) -> None:
        self._client = client

    def send(
        self,
        dataset: str,
        data: Mapping[str, Any],
        timestamp: TimeInput | None = None,
        samplerate: int | float | None = None,
    ) -> EventResult:
        """Send one event through ``/1/events/<dataset>`` (for tests and low volumes)."""
        event = BatchEvent(data, timestamp, samplerate)
        transport = self._client._sync_transport()
        outcome = _presend_one(self._client._presend, event)
        if isinstance(outcome, EventResult):
            return outcome
        return transport.send_event(dataset, outcome)

    def send_batch(self, dataset: str, events: Iterable[EventLike]) -> list[EventResult]:
        """Send events through ``/1/batch/<dataset>``; one result per event, in order."""
        batch = _batch_of(events)  # before the transport: a bad event raises on a closed client
        transport = self._client._sync_transport()
        presend = self._client._presend
        if presend is None:
            return transport.send_batch(dataset, batch)
        kept, results = presend.batch(batch)
        try:
            return merged(results, transport.send_batch(dataset, kept) if kept else [])
        except AuthenticationError as error:
            _add_dropped(error, results)
            raise

    async def send_async(
        self,
        dataset: str,
        data: Mapping[str, Any],
        timestamp: TimeInput | None = None,
        samplerate: int | float | None = None,
    ) -> EventResult:
        """`send`, for asyncio code."""
        event = BatchEvent(data, timestamp, samplerate)
        transport = self._client._asyncio_transport()
        outcome = _presend_one(self._client._presend, event)
        if isinstance(outcome, EventResult):
            return outcome
        return await transport.send_event(dataset, outcome)

    async def send_batch_async(
        self, dataset: str, events: Iterable[EventLike]
    ) -> list[EventResult]:
        """`send_batch`, for asyncio code."""
        batch = _batch_of(events)
        transport = self._client._asyncio_transport()
        presend = self._client._presend
        if presend is None:
            return await transport.send_batch(dataset, batch)
        kept, results = presend.batch(batch)
        try:
            return merged(results, await transport.send_batch(dataset, kept) if kept else [])
        except AuthenticationError as error:
            _add_dropped(error, results)
            raise

    def buffered(
        self,
        dataset: str,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        flush_interval: float = DEFAULT_FLUSH_INTERVAL,
        max_queue_size: int = DEFAULT_MAX_QUEUE_SIZE,
        max_queue_bytes: int = DEFAULT_MAX_QUEUE_BYTES,
        on_result: ResultCallback | None = None,
    ) -> BufferedSender:
        """A `BufferedSender` for `dataset`, closed (and so flushed) with the client."""
        sender = BufferedSender(
            self._client._sync_transport(),
            validate_dataset(dataset),
            batch_size=batch_size,
            flush_interval=flush_interval,
            max_queue_size=max_queue_size,
            max_queue_bytes=max_queue_bytes,
            on_result=on_result,
            presend=self._client._presend,
        )
        self._client._senders.add(sender)
        return sender
