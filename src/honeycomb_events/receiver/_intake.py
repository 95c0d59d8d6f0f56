"""What every Honeycomb endpoint of the receiver does around its own work: observe the request
for the request log and the stats, check the key, read the body, run the heavy part in a worker
thread, let a departed client go, and check and store a batch's events.

The event loop only reads bodies and answers. Decompressing, counting, decoding, checking,
mapping and storing run in worker threads, at most `HEAVY_AT_ONCE` requests at a time (one
limit for the Events API and OTLP together), so a big request neither stalls the others nor
multiplies its memory by the number of clients sending one. A request whose client goes away
once its body is read is cancelled, an injected delay included, and lets its body go.
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
from starlette.requests import Request
from starlette.responses import Response

from ._bodies import Disconnected, read_body
from ._errors import ErrorText, Reject, error_response
from ._event_checks import check_event
from ._faults import DroppedConnection, Fault
from ._request_log import ReceiverStats, RequestLog, SeenRequest
from ._store import MAX_DATASET_COLUMNS, EventStore
from ._stored_event import StoredEvent

HEAVY_AT_ONCE: Final = 4
"""Requests decoded, mapped or stored at the same time; the others wait their turn."""

_T = TypeVar("_T")

ACCEPTED: Final = {"status": 202}


@functools.lru_cache(maxsize=64)
def failed(status: int, text: str) -> dict[str, Any]:
    """One shared result per kind of failure: a batch of a million rejected events holds a
    million references, not a million dicts."""
    return {"status": status, "error": text}


@dataclass(slots=True)
class Observed:
    """What is known about a request so far, for its `SeenRequest` and the stats."""

    dataset: str | None = None
    body_bytes: int = 0
    event_count: int = 0
    has_key: bool = False
    counts: collections.Counter[str] = field(default_factory=collections.Counter)
    body_read: anyio.Event = field(default_factory=anyio.Event)


Handler = Callable[[Request, Observed], Awaitable[Response]]


class Intake:
    """The store, the key set, the request log, the stats and the worker limit the Honeycomb
    endpoints share."""

    def __init__(
        self,
        store: EventStore,
        api_keys: Collection[str] | None,
        requests: RequestLog,
        stats: ReceiverStats,
    ) -> None:
        self.store = store
        self._keys = None if api_keys is None else frozenset(api_keys)
        self.requests = requests
        self.stats = stats
        self._heavy: anyio.CapacityLimiter | None = None

    async def in_worker(self, function: Callable[..., _T], *args: Any) -> _T:
        """`function(*args)` in a worker thread, once one of the `HEAVY_AT_ONCE` turns is free."""
        if self._heavy is None:  # made here: it belongs to the event loop serving the app
            self._heavy = anyio.CapacityLimiter(HEAVY_AT_ONCE)
        return await anyio.to_thread.run_sync(function, *args, limiter=self._heavy)

    async def observe(
        self,
        request: Request,
        dataset_path: Literal["batch", "events"] | None,
        handler: Handler,
    ) -> Response:
        """The handler's response, with the request logged and its counts added to the stats;
        a `Reject` becomes Honeycomb's error answer."""
        observed = Observed()
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

    def check_key(self, request: Request) -> None:
        key = (request.headers.get("x-honeycomb-team") or "").strip()
        if not key:
            raise Reject(400, ErrorText.INVALID_KEY, "key_rejections")
        # Real Honeycomb answers an unknown key with 400 or 401; 401 is the clearer of the two.
        if self._keys is not None and key not in self._keys:
            raise Reject(401, ErrorText.UNKNOWN_KEY, "key_rejections")

    async def read(self, request: Request, observed: Observed, limit: int) -> bytes:
        """The body, once the key is checked; `Reject` when it is over `limit`."""
        raw, observed.body_bytes = await read_body(request, limit)
        observed.body_read.set()
        self.check_key(request)
        return raw

    def store_items(
        self,
        dataset: str,
        items: list[dict[str, Any]],
        fault: Fault | None,
        observed: Observed,
    ) -> list[dict[str, Any]]:
        """Check and store a batch's events, with the fault's per-event statuses; one
        ``{"status": ...}`` per event. Run in a worker."""
        observed.event_count += len(items)
        observed.counts["events_received"] += len(items)
        received_ns = time.time_ns()
        results: list[dict[str, Any]] = [ACCEPTED] * len(items)
        to_store: list[tuple[int, StoredEvent]] = []
        for index, item in enumerate(items):
            injected = None if fault is None else fault.event_status(index)
            if fault is not None and injected is not None and injected != 202:
                results[index] = failed(injected, fault.error_for(injected))
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
                results[index] = failed(reject.status, reject.text)
                continue
            to_store.append((index, event))
        admitted = self.admit(dataset, [event for _, event in to_store])
        for (index, _), stored in zip(to_store, admitted, strict=True):
            if not stored:
                observed.counts["dataset_too_many_columns"] += 1
                results[index] = failed(400, ErrorText.DATASET_TOO_MANY_COLUMNS)
        accepted = sum(1 for result in results if result is ACCEPTED)
        observed.counts["events_accepted"] += accepted
        observed.counts["events_rejected"] += len(results) - accepted
        return results

    def admit(self, dataset: str, events: list[StoredEvent]) -> list[bool]:
        if not events:
            return []
        return self.store.admit(dataset, events, max_columns=MAX_DATASET_COLUMNS)


async def _unless_client_leaves(
    request: Request,
    observed: Observed,
    handler: Handler,
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
