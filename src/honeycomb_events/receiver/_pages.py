"""The receiver's web pages: ``GET /`` (datasets and traces, a page at a time, searchable;
`_web_index`), ``GET /trace/{trace_id}`` (a trace's waterfall; `_web_trace`) and ``GET /query``
(a query's charts and groups; `_web_query`), each rendered in a worker thread, since a page
reads SQLite."""

from __future__ import annotations

import html

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from ._store import EventStore
from ._trace_queries import TraceSearch
from ._web_index import index_page
from ._web_query import query_page
from ._web_trace import trace_page

MAX_SEARCH_TEXT = 500
"""A search term longer than this is cut: no root span name (`_schema.NAME_CHARACTERS`) or
id is longer."""


class Pages:
    """The web page endpoints; `routes()` lists them for the application."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def routes(self) -> list[Route]:
        return [
            Route("/", self.index, methods=["GET"]),
            Route("/trace/{trace_id}", self.trace, methods=["GET"]),
            Route("/query", self.query, methods=["GET"]),
        ]

    async def index(self, request: Request) -> Response:
        query = request.query_params

        def text(name: str) -> str:
            return query.get(name, "").strip()[:MAX_SEARCH_TEXT]

        search = TraceSearch(
            trace_id=text("trace_id"),
            service=text("service"),
            name=text("name"),
            dataset=text("dataset"),
            errors_only=bool(text("errors")),
        )
        before, after = query.get("before"), query.get("after")
        page = await anyio.to_thread.run_sync(
            lambda: index_page(self.store, search, before=before, after=after)
        )
        return HTMLResponse(page)

    async def trace(self, request: Request) -> Response:
        trace_id = request.path_params["trace_id"]
        page = await anyio.to_thread.run_sync(lambda: trace_page(self.store, trace_id))
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
