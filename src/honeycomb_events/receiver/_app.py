"""The receiver's ASGI application: Honeycomb's Events API, plus local control endpoints.

Honeycomb-compatible endpoints; each needs a non-blank ``X-Honeycomb-Team`` key (400
"event has an invalid key"), and one of `api_keys` when they are configured (401 "unknown API
key - check your credentials"; Honeycomb itself answers this with 400 or 401):

- ``POST /1/batch/{dataset}``: a JSON array of ``{"data": {...}, "time": ..., "samplerate": n}``
  objects, or msgpack with ``Content-Type: application/msgpack`` (or ``application/x-msgpack``),
  optionally ``Content-Encoding: gzip`` or ``zstd``. At most 5,000,000 raw bytes, expanding to
  at most 50 MB. The answer is 200 with one ``{"status": 202}`` or
  ``{"status": 400, "error": ...}`` per event, in order; a body that cannot be read at all gets
  a 400 for the whole request.
- ``POST /1/events/{dataset}``: one JSON object of at most 1,000,000 raw bytes; time and sample
  rate in the ``X-Honeycomb-Event-Time`` (RFC3339 or epoch) and ``X-Honeycomb-Samplerate``
  headers. 200 with an empty body, or the event's error status with ``{"error": ...}``.
- ``GET /1/auth``: what the key may do, and its team and environment (both "local").

Each event gets Honeycomb's checks: at most 2,000 fields, at most 1,000,000 bytes of JSON, and
at most 10,000 distinct columns per dataset. Strings over 65,535 bytes are truncated, times that
are missing, unreadable or over an hour ahead become the receipt time, and a missing sample rate
is 1; `ReceiverStats` counts each repair. Dataset names ignore case.

Control endpoints, for tests and tools on the same machine (no key):
``GET /_receiver/events/{dataset}`` (query ``since_ns``, ``until_ns``, ``limit``),
``DELETE /_receiver/events``, ``GET /_receiver/datasets``, ``GET /_receiver/faults``,
``POST /_receiver/faults`` (a JSON list of `Fault` objects, or one), ``DELETE /_receiver/faults``,
``GET|DELETE /_receiver/requests``, ``GET|DELETE /_receiver/stats``.

Every failure, including unknown paths and methods, is answered with Honeycomb's
``{"error": "..."}`` body; the texts are in `ErrorText`. The API key is compared and forgotten:
it is never logged or stored.
"""

from __future__ import annotations

import html
from collections.abc import Collection

import anyio.to_thread
import msgspec
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ._errors import error_response
from ._faults import Fault, FaultPlan, IncompleteResponseFilter
from ._guard import BrowserGuard, normalize_hosts
from ._ingest import MAX_SINGLE_BODY_BYTES, Ingest
from ._request_log import ReceiverStats, RequestLog, SeenRequest
from ._store import EventStore
from ._web import index_page, trace_page

__all__ = [
    "MAX_SINGLE_BODY_BYTES",
    "IncompleteResponseFilter",
    "ReceiverStats",
    "RequestLog",
    "SeenRequest",
    "create_app",
]

_json_decoder = msgspec.json.Decoder()


class _Handlers:
    """The web pages and control endpoints, sharing the store, the fault plan, the request log
    and the stats with the Honeycomb endpoints (`Ingest`)."""

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

    # Web pages ---------------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        before = request.query_params.get("before")
        page = await anyio.to_thread.run_sync(lambda: index_page(self.store, before=before))
        return HTMLResponse(page)

    async def trace(self, request: Request) -> Response:
        trace_id = request.path_params["trace_id"]
        page = await anyio.to_thread.run_sync(trace_page, self.store, trace_id)
        if page is None:
            return HTMLResponse(
                f"<p>No span of trace {html.escape(trace_id)} is stored. "
                "<a href='/'>All traces</a></p>",
                status_code=404,
            )
        return HTMLResponse(page)

    # Control endpoints -------------------------------------------------------------------

    async def stored_events(self, request: Request) -> Response:
        try:
            since_ns = _int_param(request, "since_ns", -(2**63))
            until_ns = _int_param(request, "until_ns", -(2**63))
            limit = _int_param(request, "limit", 0)
        except ValueError as exc:
            return error_response(400, str(exc))
        events = await anyio.to_thread.run_sync(
            lambda: self.store.events(
                request.path_params["dataset"], since_ns=since_ns, until_ns=until_ns, limit=limit
            )
        )
        return JSONResponse([event.to_dict() for event in events])

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


def _retry_after(fault: Fault | None) -> dict[str, str] | None:
    if fault is None or fault.retry_after is None:
        return None
    return {"Retry-After": fault.retry_after}


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


async def _http_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return error_response(exc.status_code, str(exc.detail).lower(), headers=exc.headers)
    return error_response(500, "internal server error")


def create_app(
    store: EventStore,
    *,
    api_keys: Collection[str] | None = None,
    faults: FaultPlan | None = None,
    requests: RequestLog | None = None,
    stats: ReceiverStats | None = None,
    allowed_hosts: Collection[str] = (),
) -> Starlette:
    """The receiver as an ASGI application, storing accepted events in `store`.

    `api_keys=None` accepts any non-blank key; otherwise only the keys given, and the control
    endpoints need one too. The fault plan, request log and stats are created when not passed,
    and are reachable as ``app.state.faults``, ``app.state.requests`` and ``app.state.stats``
    (the store as ``app.state.store``).

    Requests a web page could have made are refused (`BrowserGuard`): a ``Host`` that is not
    localhost, ``*.localhost``, an IP address or one of `allowed_hosts` (403), and cross-site
    or cross-origin requests to the pages and control endpoints (403).
    """
    if isinstance(api_keys, str):
        raise TypeError("api_keys must be a collection of keys, not a single string")
    hosts = normalize_hosts(allowed_hosts)
    handlers = _Handlers(
        store,
        FaultPlan() if faults is None else faults,
        RequestLog() if requests is None else requests,
        ReceiverStats() if stats is None else stats,
    )
    ingest = Ingest(store, api_keys, handlers.faults, handlers.requests, handlers.stats)
    routes = [
        Route("/1/batch/{dataset}", ingest.batch, methods=["POST"]),
        Route("/1/events/{dataset}", ingest.single, methods=["POST"]),
        Route("/1/auth", ingest.auth, methods=["GET"]),
        Route("/", handlers.index, methods=["GET"]),
        Route("/trace/{trace_id}", handlers.trace, methods=["GET"]),
        Route("/v1/traces", ingest.otlp, methods=["POST"]),
        Route("/v1/metrics", ingest.otlp, methods=["POST"]),
        Route("/v1/logs", ingest.otlp, methods=["POST"]),
        Route("/_receiver/events/{dataset}", handlers.stored_events, methods=["GET"]),
        Route("/_receiver/events", handlers.clear_events, methods=["DELETE"]),
        Route("/_receiver/datasets", handlers.datasets, methods=["GET"]),
        Route("/_receiver/faults", handlers.list_faults, methods=["GET"]),
        Route("/_receiver/faults", handlers.push_faults, methods=["POST"]),
        Route("/_receiver/faults", handlers.clear_faults, methods=["DELETE"]),
        Route("/_receiver/requests", handlers.list_requests, methods=["GET"]),
        Route("/_receiver/requests", handlers.clear_requests, methods=["DELETE"]),
        Route("/_receiver/stats", handlers.get_stats, methods=["GET"]),
        Route("/_receiver/stats", handlers.reset_stats, methods=["DELETE"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Exception: _http_error},
    )
    app.state.store = store
    app.state.faults = handlers.faults
    app.state.requests = handlers.requests
    app.state.stats = handlers.stats
    app.add_middleware(BrowserGuard, allowed_hosts=hosts, api_keys=api_keys)
    return app
