"""The receiver's control endpoints, for tests and tools on the same machine: the stored
events, the fault plan, the request log and the stats under ``/_receiver/``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import anyio.to_thread
import msgspec
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ._errors import error_response
from ._faults import Fault, FaultPlan
from ._request_log import ReceiverStats, RequestLog
from ._store import EventStore
from ._stored_event import StoredEvent

_json_decoder = msgspec.json.Decoder()
_json_encoder = msgspec.json.Encoder()


class Control:
    """The control endpoints, sharing the store, the fault plan, the request log and the stats
    with the Honeycomb endpoints."""

    def __init__(
        self,
        store: EventStore,
        faults: FaultPlan,
        requests: RequestLog,
        stats: ReceiverStats,
    ) -> None:
        self.store = store
        self.faults = faults
        self.requests = requests
        self.stats = stats

    def routes(self) -> list[Route]:
        return [
            Route("/_receiver/events/{dataset}", self.stored_events, methods=["GET"]),
            Route("/_receiver/events", self.clear_events, methods=["DELETE"]),
            Route("/_receiver/datasets", self.datasets, methods=["GET"]),
            Route("/_receiver/faults", self.list_faults, methods=["GET"]),
            Route("/_receiver/faults", self.push_faults, methods=["POST"]),
            Route("/_receiver/faults", self.clear_faults, methods=["DELETE"]),
            Route("/_receiver/requests", self.list_requests, methods=["GET"]),
            Route("/_receiver/requests", self.clear_requests, methods=["DELETE"]),
            Route("/_receiver/stats", self.get_stats, methods=["GET"]),
            Route("/_receiver/stats", self.reset_stats, methods=["DELETE"]),
        ]

    async def stored_events(self, request: Request) -> Response:
        try:
            since_ns = _int_param(request, "since_ns", -(2**63))
            until_ns = _int_param(request, "until_ns", -(2**63))
            limit = _int_param(request, "limit", 0)
        except ValueError as exc:
            return error_response(400, str(exc))
        pages = self.store.event_pages(
            request.path_params["dataset"], since_ns=since_ns, until_ns=until_ns, limit=limit
        )
        return StreamingResponse(_json_array(pages), media_type="application/json")

    async def clear_events(self, request: Request) -> Response:
        await anyio.to_thread.run_sync(self.store.clear)
        return JSONResponse({"cleared": True})

    async def datasets(self, request: Request) -> Response:
        return JSONResponse(await anyio.to_thread.run_sync(self.store.datasets))

    async def list_faults(self, request: Request) -> Response:
        return JSONResponse([fault.to_dict() for fault in self.faults.pending()])

    async def push_faults(self, request: Request) -> Response:
        try:
            value = _json_decoder.decode(await request.body())
            items = value if isinstance(value, list) else [value]
            parsed = [Fault.from_dict(item) for item in items]
        except ClientDisconnect:
            return Response(status_code=400)
        except (msgspec.MsgspecError, ValueError, TypeError) as exc:
            return error_response(400, f"invalid faults: {exc}")
        self.faults.push(*parsed)
        return JSONResponse([fault.to_dict() for fault in self.faults.pending()])

    async def clear_faults(self, request: Request) -> Response:
        self.faults.clear()
        return JSONResponse([])

    async def list_requests(self, request: Request) -> Response:
        return JSONResponse([seen.to_dict() for seen in self.requests.entries()])

    async def clear_requests(self, request: Request) -> Response:
        self.requests.clear()
        return JSONResponse([])

    async def get_stats(self, request: Request) -> Response:
        return JSONResponse(self.stats.snapshot())

    async def reset_stats(self, request: Request) -> Response:
        self.stats.reset()
        return JSONResponse(self.stats.snapshot())


def _int_param(request: Request, name: str, lowest: int) -> int | None:
    """The query parameter as an integer SQLite can compare with, from `lowest` to 2**63-1."""
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    highest = 2**63 - 1
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or not lowest <= number <= highest:
        shown = value if len(value) <= 40 else value[:40] + "..."
        raise ValueError(f"{name} must be an integer from {lowest} to {highest}, not {shown!r}")
    return number


async def _json_array(pages: Iterator[list[StoredEvent]]) -> AsyncIterator[bytes]:
    """The events of `pages` as one JSON array, a page at a time: a dataset of any size is
    sent without being held whole. Each page is read and encoded in a worker thread, and sent
    as one chunk."""
    yield b"["
    separator = b""
    while (chunk := await anyio.to_thread.run_sync(_next_chunk, pages)) is not None:
        yield separator + chunk
        separator = b","
    yield b"]"


def _next_chunk(pages: Iterator[list[StoredEvent]]) -> bytes | None:
    """The next page's events as JSON array items joined by commas; None after the last page
    (`event_pages` yields no empty page)."""
    page = next(pages, None)
    if page is None:
        return None
    return b",".join(_json_encoder.encode(event.to_dict()) for event in page)
