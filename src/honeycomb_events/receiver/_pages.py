"""The receiver's web pages: ``GET /`` (datasets and traces, a page at a time) and
``GET /trace/{trace_id}`` (a trace's waterfall), rendered by `_web` in a worker thread."""

from __future__ import annotations

import html

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from ._store import EventStore
from ._web import index_page, trace_page
from ._web_query import query_page


class Pages:
    """The web page endpoints."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def routes(self) -> list[Route]:
        return [
            Route("/", self.index, methods=["GET"]),
            Route("/trace/{trace_id}", self.trace, methods=["GET"]),
            Route("/query", self.query, methods=["GET"]),
        ]

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

    async def query(self, request: Request) -> Response:
        pairs = request.query_params.multi_items()
        status, page = await anyio.to_thread.run_sync(query_page, self.store, pairs)
        return HTMLResponse(page, status_code=status)
