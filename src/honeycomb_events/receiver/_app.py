"""The receiver's ASGI application, assembled from its endpoint families: the Events API
(`_events_api`), OTLP/HTTP ingest (`_otlp_ingest`), both through the shared `_intake`; the web
pages (`_pages`); and the control endpoints (`_control`, and the queries' `_query_api`),
behind the `BrowserGuard`.

Every failure, including unknown paths and methods, is answered with Honeycomb's
``{"error": "..."}`` body; the texts are in `ErrorText`. The API key is compared and forgotten:
it is never logged or stored.
"""

from __future__ import annotations

from collections.abc import Collection

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ._control import Control
from ._errors import error_response
from ._events_api import MAX_SINGLE_BODY_BYTES, EventsApi
from ._faults import FaultPlan, IncompleteResponseFilter
from ._guard import BrowserGuard, normalize_hosts
from ._intake import Intake
from ._otlp_ingest import OtlpIngest
from ._pages import Pages
from ._query_api import QueryApi
from ._request_log import ReceiverStats, RequestLog, SeenRequest
from ._store import EventStore

__all__ = [
    "MAX_SINGLE_BODY_BYTES",
    "IncompleteResponseFilter",
    "ReceiverStats",
    "RequestLog",
    "SeenRequest",
    "create_app",
]


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
    control = Control(
        store,
        FaultPlan() if faults is None else faults,
        RequestLog() if requests is None else requests,
        ReceiverStats() if stats is None else stats,
    )
    intake = Intake(store, api_keys, control.requests, control.stats)
    events_api = EventsApi(intake, control.faults)
    otlp = OtlpIngest(intake)
    routes = [
        Route("/1/batch/{dataset}", events_api.batch, methods=["POST"]),
        Route("/1/events/{dataset}", events_api.single, methods=["POST"]),
        Route("/1/auth", events_api.auth, methods=["GET"]),
        *(
            Route(path, otlp.otlp, methods=["POST"])
            for path in ("/v1/traces", "/v1/metrics", "/v1/logs")
        ),
        *Pages(store).routes(),
        *control.routes(),
        *QueryApi(store).routes(),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Exception: _http_error},
    )
    app.state.store = store
    app.state.faults = control.faults
    app.state.requests = control.requests
    app.state.stats = control.stats
    app.add_middleware(BrowserGuard, allowed_hosts=hosts, api_keys=api_keys)
    return app
