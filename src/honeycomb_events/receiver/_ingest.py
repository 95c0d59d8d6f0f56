"""The receiver's Honeycomb endpoints: the Events API (``/1/batch``, ``/1/events``, ``/1/auth``)
and OTLP/HTTP (``/v1/traces``, ``/v1/metrics``, ``/v1/logs``).

The event loop only reads bodies and answers. Decompressing, counting, decoding, checking,
mapping and storing run in worker threads, at most `HEAVY_AT_ONCE` requests at a time, so a big
request neither stalls the others nor multiplies its memory by the number of clients sending
one. A request whose client goes away once its body is read is cancelled, an injected delay
included, and lets its body go.
"""

from __future__ import annotations

import collections
import functools
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeVar

import anyio
import anyio.to_thread
import msgspec
from google.protobuf.message import DecodeError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from honeycomb_events._limits import MAX_BODY_BYTES, MAX_EVENT_BYTES

from ._bodies import Disconnected, decode_batch, decode_body, decompress, media_type, read_body
from ._errors import ErrorText, Reject, error_response
from ._event_checks import check_event, header_samplerate
from ._faults import DroppedConnection, Fault, FaultPlan
from ._item_count import OTLP_REQUESTS, TooManyItems, protobuf_items
from ._otlp_groups import OTLP_SIGNALS, Signal, otlp_answer, otlp_groups
from ._request_log import ReceiverStats, RequestLog, SeenRequest
from ._store import MAX_DATASET_COLUMNS, EventStore, StoredEvent

MAX_SINGLE_BODY_BYTES: Final = MAX_EVENT_BYTES
"""Raw (possibly compressed) size limit of a ``/1/events`` body."""

HEAVY_AT_ONCE: Final = 4
"""Requests decoded, mapped or stored at the same time; the others wait their turn."""

_T = TypeVar("_T")
_json_encoder: Final = msgspec.json.Encoder()

_ACCEPTED: Final = {"status": 202}


@functools.lru_cache(maxsize=64)
def _failed(status: int, text: str) -> dict[str, Any]:
    """One shared result per kind of failure: a batch of a million rejected events holds a
    million references, not a million dicts."""
    return {"status": status, "error": text}


@dataclass(slots=True)
class _Observed:
    """What is known about a request so far, for its `SeenRequest`."""

    dataset: str | None = None
    body_bytes: int = 0
    event_count: int = 0
    has_key: bool = False
    counts: collections.Counter[str] = field(default_factory=collections.Counter)
    body_read: anyio.Event = field(default_factory=anyio.Event)


def _json(value: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(_json_encoder.encode(value), media_type="application/json", headers=headers)


def _retry_after(fault: Fault | None) -> dict[str, str] | None:
    if fault is None or fault.retry_after is None:
        return None
    return {"Retry-After": fault.retry_after}


class Ingest:
    """The Honeycomb endpoints, sharing the store, the key set, the fault plan, the request log
    and the stats."""

    def __init__(
        self,
        store: EventStore,
        api_keys: Collection[str] | None,
        faults: FaultPlan,
        requests: RequestLog,
        stats: ReceiverStats,
    ) -> None:
        self.store = store
        self._keys = None if api_keys is None else frozenset(api_keys)
        self.faults = faults
        self.requests = requests
        self.stats = stats
        self._heavy: anyio.CapacityLimiter | None = None

    async def batch(self, request: Request) -> Response:
        return await self._observe(request, "batch", self._batch)

    async def single(self, request: Request) -> Response:
        return await self._observe(request, "events", self._single)

    async def auth(self, request: Request) -> Response:
        return await self._observe(request, None, self._auth)

    async def otlp(self, request: Request) -> Response:
        return await self._observe(request, None, self._otlp)

    async def _in_worker(self, function: Callable[..., _T], *args: Any) -> _T:
        if self._heavy is None:  # made here: it belongs to the event loop serving the app
            self._heavy = anyio.CapacityLimiter(HEAVY_AT_ONCE)
        return await anyio.to_thread.run_sync(function, *args, limiter=self._heavy)

    async def _observe(
        self,
        request: Request,
        dataset_path: Literal["batch", "events"] | None,
        handler: Callable[[Request, _Observed], Awaitable[Response]],
    ) -> Response:
        observed = _Observed()
        if dataset_path is not None:
            observed.dataset = request.path_params["dataset"]
        observed.has_key = bool((request.headers.get("x-honeycomb-team") or "").strip())
        observed.counts["requests"] += 1
        status = 0
        try:
            response = await _unless_client_leaves(request, observed, handler)
            if response is None:  # nobody is left to answer
                response = Response(status_code=400)
            elif not isinstance(response, DroppedConnection):
                status = response.status_code
        except Reject as reject:
            if reject.counter:
                observed.counts[reject.counter] += 1
            response = error_response(reject.status, reject.text)
            status = reject.status
        except Disconnected:
            response = Response(status_code=400)
        finally:
            self.stats.add(**observed.counts)
        raw_path = request.scope.get("raw_path")
        self.requests.append(
            SeenRequest(
                method=request.method,
                path=raw_path.decode("latin-1") if raw_path else request.url.path,
                dataset=observed.dataset,
                content_type=request.headers.get("content-type"),
                content_encoding=request.headers.get("content-encoding"),
                body_bytes=observed.body_bytes,
                event_count=observed.event_count,
                status=status,
                has_key=observed.has_key,
            )
        )
        return response

    def _check_key(self, request: Request) -> None:
        key = (request.headers.get("x-honeycomb-team") or "").strip()
        if not key:
            raise Reject(400, ErrorText.INVALID_KEY, "key_rejections")
        # Real Honeycomb answers an unknown key with 400 or 401; 401 is the clearer of the two.
        if self._keys is not None and key not in self._keys:
            raise Reject(401, ErrorText.UNKNOWN_KEY, "key_rejections")

    async def _apply_fault(
        self, kind: Literal["batch", "events"], observed: _Observed
    ) -> tuple[Fault | None, Response | None]:
        """The fault for this request, and the response that replaces normal handling."""
        fault = self.faults.take(kind)
        if fault is None:
            return None, None
        observed.counts["faults_applied"] += 1
        if fault.delay:
            await anyio.sleep(fault.delay)
        if fault.drop_connection:
            return fault, DroppedConnection()
        if fault.status is not None:
            return fault, error_response(
                fault.status, fault.error_for(fault.status), headers=_retry_after(fault)
            )
        return fault, None

    async def _read(self, request: Request, observed: _Observed, limit: int) -> bytes:
        """The body, once the key is checked; `Reject` when it is over `limit`."""
        raw, observed.body_bytes = await read_body(request, limit)
        observed.body_read.set()
        self._check_key(request)
        return raw

    async def _intake(
        self, request: Request, observed: _Observed, kind: Literal["batch", "events"], limit: int
    ) -> tuple[Fault | None, Response | None, Any]:
        """What both Events API endpoints check first: key, fault, size, emptiness; then the
        body, decoded. Returns the fault applied, the response that replaces normal handling
        (or None), and the decoded body."""
        raw = await self._read(request, observed, limit)
        fault, replaced = await self._apply_fault(kind, observed)
        if replaced is not None:
            return fault, replaced, None
        if observed.body_bytes > limit:
            raise Reject(400, ErrorText.BODY_TOO_LARGE, "bodies_too_large")
        if not raw:
            raise Reject(400, ErrorText.BODY_EMPTY, "empty_bodies")
        decode = decode_batch if kind == "batch" else decode_body
        encoding = request.headers.get("content-encoding")
        value = await self._in_worker(decode, raw, media_type(request), encoding)
        return fault, None, value

    async def _batch(self, request: Request, observed: _Observed) -> Response:
        fault, replaced, items = await self._intake(request, observed, "batch", MAX_BODY_BYTES)
        if replaced is not None:
            return replaced
        dataset = observed.dataset or ""
        results = await self._in_worker(self._store_items, dataset, items, fault, observed)
        return _json(results, _retry_after(fault))

    def _store_items(
        self,
        dataset: str,
        items: list[dict[str, Any]],
        fault: Fault | None,
        observed: _Observed,
    ) -> list[dict[str, Any]]:
        """Check and store a batch's events; one ``{"status": ...}`` per event. In a worker."""
        observed.event_count += len(items)
        observed.counts["events_received"] += len(items)
        received_ns = time.time_ns()
        results: list[dict[str, Any]] = [_ACCEPTED] * len(items)
        to_store: list[tuple[int, StoredEvent]] = []
        for index, item in enumerate(items):
            injected = None if fault is None else fault.event_status(index)
            if fault is not None and injected is not None and injected != 202:
                results[index] = _failed(injected, fault.error_for(injected))
                continue
            try:
                event = check_event(
                    dataset,
                    item.get("data"),
                    time_value=item.get("time"),
                    samplerate_value=item.get("samplerate"),
                    received_ns=received_ns,
                    counts=observed.counts,
                )
            except Reject as reject:
                if reject.counter:
                    observed.counts[reject.counter] += 1
                results[index] = _failed(reject.status, reject.text)
                continue
            to_store.append((index, event))
        admitted = self._admit(dataset, [event for _, event in to_store])
        for (index, _), stored in zip(to_store, admitted, strict=True):
            if not stored:
                observed.counts["dataset_too_many_columns"] += 1
                results[index] = _failed(400, ErrorText.DATASET_TOO_MANY_COLUMNS)
        accepted = sum(1 for result in results if result is _ACCEPTED)
        observed.counts["events_accepted"] += accepted
        observed.counts["events_rejected"] += len(results) - accepted
        return results

    def _admit(self, dataset: str, events: list[StoredEvent]) -> list[bool]:
        if not events:
            return []
        return self.store.admit(dataset, events, max_columns=MAX_DATASET_COLUMNS)

    async def _otlp(self, request: Request, observed: _Observed) -> Response:
        """OTLP/HTTP ingest: the SDK objects of the request, mapped by this package's own
        mappings, checked and stored as a batch of each dataset would be."""
        raw = await self._read(request, observed, MAX_BODY_BYTES)
        if observed.body_bytes > MAX_BODY_BYTES:
            raise Reject(400, ErrorText.BODY_TOO_LARGE, "bodies_too_large")
        if media_type(request) != "application/x-protobuf":
            raise Reject(415, ErrorText.OTLP_PROTOBUF_ONLY, "malformed_bodies")
        signal = OTLP_SIGNALS[request.url.path]
        dataset = (request.headers.get("x-honeycomb-dataset") or "").strip() or None
        encoding = request.headers.get("content-encoding")
        await self._in_worker(self._store_otlp, signal, raw, encoding, dataset, observed)
        return Response(otlp_answer(signal), media_type="application/x-protobuf")

    def _store_otlp(
        self,
        signal: Signal,
        raw: bytes,
        encoding: str | None,
        dataset: str | None,
        observed: _Observed,
    ) -> None:
        """Decompress, count, map and store an OTLP request, a chunk at a time. In a worker."""
        body = decompress(raw, encoding)
        try:
            protobuf_items(body, OTLP_REQUESTS[signal])
        except TooManyItems:
            raise Reject(400, ErrorText.TOO_MANY_ITEMS, "bodies_too_many_items") from None
        # Every chunk is mapped before any is stored: a request that turns out unreadable
        # half-way stores nothing, as its 400 says.
        try:
            groups = list(otlp_groups(signal, body, dataset))
        except (DecodeError, ValueError) as exc:
            raise Reject(400, ErrorText.MALFORMED, "malformed_bodies") from exc
        del body
        for name, items in groups:
            observed.dataset = name
            if items:
                self._store_items(name, items, None, observed)

    async def _single(self, request: Request, observed: _Observed) -> Response:
        fault, replaced, data = await self._intake(
            request, observed, "events", MAX_SINGLE_BODY_BYTES
        )
        if replaced is not None:
            return replaced
        if not isinstance(data, dict):
            raise Reject(400, ErrorText.MALFORMED, "malformed_bodies")
        observed.event_count = 1
        observed.counts["events_received"] += 1
        headers = _retry_after(fault)
        injected = None if fault is None else fault.event_status(0)
        if fault is not None and injected is not None and injected != 202:
            observed.counts["events_rejected"] += 1
            return error_response(injected, fault.error_for(injected), headers=headers)
        try:
            event = check_event(
                observed.dataset or "",
                data,
                time_value=request.headers.get("x-honeycomb-event-time"),
                samplerate_value=header_samplerate(request.headers.get("x-honeycomb-samplerate")),
                received_ns=time.time_ns(),
                counts=observed.counts,
            )
        except Reject:
            observed.counts["events_rejected"] += 1
            raise
        (stored,) = await self._in_worker(self._admit, event.dataset, [event])
        if not stored:
            observed.counts["events_rejected"] += 1
            raise Reject(400, ErrorText.DATASET_TOO_MANY_COLUMNS, "dataset_too_many_columns")
        observed.counts["events_accepted"] += 1
        return Response(status_code=200, headers=headers)

    async def _auth(self, request: Request, observed: _Observed) -> Response:
        self._check_key(request)
        return JSONResponse(
            {
                "api_key_access": {
                    "events": True,
                    "markers": False,
                    "triggers": False,
                    "boards": False,
                    "queries": False,
                    "columns": False,
                    "createDatasets": True,
                    "slos": False,
                    "recipients": False,
                    "privateBoards": False,
                },
                "environment": {"name": "local", "slug": "local"},
                "team": {"name": "local", "slug": "local"},
            }
        )


async def _unless_client_leaves(
    request: Request,
    observed: _Observed,
    handler: Callable[[Request, _Observed], Awaitable[Response]],
) -> Response | None:
    """The handler's response, or None when the client went away first.

    Once the body is read, the server's next message for this request is the client's
    disconnect, so waiting for it costs nothing; when it comes, the handler is cancelled where
    it waits (a delay fault, its turn for a worker) and its body let go. Work already in a
    worker thread finishes first: a thread cannot be stopped.
    """
    response: Response | None = None
    failure: Exception | None = None
    async with anyio.create_task_group() as group:

        async def watch() -> None:
            await observed.body_read.wait()
            message = await request.receive()
            if message["type"] == "http.disconnect":
                group.cancel_scope.cancel()

        group.start_soon(watch)
        try:
            response = await handler(request, observed)
        except Exception as error:  # raised below, not wrapped in the group's ExceptionGroup
            failure = error
        group.cancel_scope.cancel()
    if failure is not None:
        raise failure
    return response
