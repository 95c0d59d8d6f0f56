"""The query endpoints, control endpoints beside the others under ``/_receiver/``:
``POST /_receiver/query/{dataset}`` answers a Honeycomb query specification with its groups,
series and heatmaps; ``POST /_receiver/query/{dataset}/events`` lists the events that filters
keep, as ``GET /_receiver/events/{dataset}`` lists them all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

import anyio.to_thread
import msgspec
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from honeycomb_events._query_json import (
    EventsRequest,
    events_request_from_json,
    query_from_json,
)
from honeycomb_events._query_spec import QueryError, QuerySpec

from ._errors import error_response
from ._store import EventStore
from ._stored_event import dataset_key

T = TypeVar("T")

MAX_QUERY_BYTES: Final = 1024 * 1024
"""The largest query body read; a query is a few hundred bytes."""

_decoder: Final = msgspec.json.Decoder()
_encoder: Final = msgspec.json.Encoder()


class _BadRequest(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status


class QueryApi:
    """The query endpoints over `store`."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def routes(self) -> list[Route]:
        return [
            Route("/_receiver/query/{dataset}", self.query, methods=["POST"]),
            Route("/_receiver/query/{dataset}/events", self.events, methods=["POST"]),
        ]

    async def query(self, request: Request) -> Response:
        return await self._answer(request, query_from_json, self._run_query)

    async def events(self, request: Request) -> Response:
        return await self._answer(request, events_request_from_json, self._list_events)

    def _run_query(self, dataset: str, spec: QuerySpec) -> dict[str, Any]:
        return self.store.query(dataset, spec).to_json()

    def _list_events(self, dataset: str, wanted: EventsRequest) -> list[dict[str, Any]]:
        events = self.store.events(
            dataset,
            since_ns=wanted.start_ns,
            until_ns=wanted.end_ns,
            limit=wanted.limit,
            filters=wanted.filters,
            any_filter=wanted.any_filter,
        )
        return [event.to_dict() for event in events]

    async def _answer(
        self,
        request: Request,
        parse: Callable[[object], T],
        answer: Callable[[str, T], Any],
    ) -> Response:
        dataset = request.path_params["dataset"]
        try:
            parsed = parse(_decoder.decode(await _body(request)))
        except ClientDisconnect:
            return Response(status_code=400)
        except _BadRequest as problem:
            return error_response(problem.status, str(problem))
        except (msgspec.DecodeError, QueryError) as problem:
            return error_response(400, f"invalid query: {problem}")
        known = await anyio.to_thread.run_sync(self.store.datasets)
        if dataset_key(dataset) not in {dataset_key(name) for name in known}:
            return error_response(404, f"no dataset {dataset[:100]!r}")
        try:
            result = await anyio.to_thread.run_sync(answer, dataset, parsed)
        except QueryError as problem:
            return error_response(400, f"invalid query: {problem}")
        return Response(_encoder.encode(result), media_type="application/json")


async def _body(request: Request) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_QUERY_BYTES:
            raise _BadRequest(413, f"a query body is at most {MAX_QUERY_BYTES} bytes")
    return bytes(body)
