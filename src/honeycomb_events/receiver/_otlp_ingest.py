"""The receiver's OTLP/HTTP ingest: ``POST /v1/traces``, ``/v1/metrics`` and ``/v1/logs`` in
protobuf, mapped by this package's own mappings (`_otlp_groups`) and stored as a batch of each
dataset would be."""

from __future__ import annotations

from google.protobuf.message import DecodeError
from starlette.requests import Request
from starlette.responses import Response

from honeycomb_events._limits import MAX_BODY_BYTES

from ._bodies import decompress, media_type
from ._errors import ErrorText, Reject
from ._intake import Intake, Observed
from ._item_count import OTLP_REQUESTS, TooManyItems, protobuf_items
from ._otlp_groups import OTLP_SIGNALS, Signal, otlp_answer, otlp_groups


class OtlpIngest:
    """The OTLP/HTTP endpoints."""

    def __init__(self, intake: Intake) -> None:
        self._intake = intake

    async def otlp(self, request: Request) -> Response:
        return await self._intake.observe(request, None, self._otlp)

    async def _otlp(self, request: Request, observed: Observed) -> Response:
        """OTLP/HTTP ingest: the SDK objects of the request, mapped by this package's own
        mappings, checked and stored as a batch of each dataset would be."""
        raw = await self._intake.read(request, observed, MAX_BODY_BYTES)
        if observed.body_bytes > MAX_BODY_BYTES:
            raise Reject(400, ErrorText.BODY_TOO_LARGE, "bodies_too_large")
        if media_type(request.headers) != "application/x-protobuf":
            raise Reject(415, ErrorText.OTLP_PROTOBUF_ONLY, "malformed_bodies")
        signal = OTLP_SIGNALS[request.url.path]
        dataset = (request.headers.get("x-honeycomb-dataset") or "").strip() or None
        encoding = request.headers.get("content-encoding")
        await self._intake.in_worker(self._store_otlp, signal, raw, encoding, dataset, observed)
        return Response(otlp_answer(signal), media_type="application/x-protobuf")

    def _store_otlp(
        self,
        signal: Signal,
        raw: bytes,
        encoding: str | None,
        dataset: str | None,
        observed: Observed,
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
                self._intake.store_items(name, items, None, observed)
