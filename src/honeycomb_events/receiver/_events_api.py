"""The receiver's Events API, with the fault plan applied to its two sending endpoints.

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
"""

from __future__ import annotations

import time
from typing import Any, Final, Literal

import anyio
import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from honeycomb_events._limits import MAX_BODY_BYTES, MAX_EVENT_BYTES

from ._bodies import decode_batch, decode_body, media_type
from ._errors import ErrorText, Reject, error_response
from ._event_checks import check_event, header_samplerate
from ._faults import DroppedConnection, Fault, FaultPlan
from ._intake import Intake, Observed

MAX_SINGLE_BODY_BYTES: Final = MAX_EVENT_BYTES
"""Raw (possibly compressed) size limit of a ``/1/events`` body."""

_json_encoder: Final = msgspec.json.Encoder()


def _json(value: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(_json_encoder.encode(value), media_type="application/json", headers=headers)


def _retry_after(fault: Fault | None) -> dict[str, str] | None:
    if fault is None or fault.retry_after is None:
        return None
    return {"Retry-After": fault.retry_after}


class EventsApi:
    """The Events API endpoints."""

    def __init__(self, intake: Intake, faults: FaultPlan) -> None:
        self._intake = intake
        self.faults = faults

    async def batch(self, request: Request) -> Response:
        return await self._intake.observe(request, "batch", self._batch)

    async def single(self, request: Request) -> Response:
        return await self._intake.observe(request, "events", self._single)

    async def auth(self, request: Request) -> Response:
        return await self._intake.observe(request, None, self._auth)

    async def _apply_fault(
        self, kind: Literal["batch", "events"], observed: Observed
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

    async def _take_body(
        self, request: Request, observed: Observed, kind: Literal["batch", "events"], limit: int
    ) -> tuple[Fault | None, Response | None, Any]:
        """What both Events API endpoints check first: key, fault, size, emptiness; then the
        body, decoded. Returns the fault applied, the response that replaces normal handling
        (or None), and the decoded body."""
        raw = await self._intake.read(request, observed, limit)
        fault, replaced = await self._apply_fault(kind, observed)
        if replaced is not None:
            return fault, replaced, None
        if observed.body_bytes > limit:
            raise Reject(400, ErrorText.BODY_TOO_LARGE, "bodies_too_large")
        if not raw:
            raise Reject(400, ErrorText.BODY_EMPTY, "empty_bodies")
        decode = decode_batch if kind == "batch" else decode_body
        encoding = request.headers.get("content-encoding")
        value = await self._intake.in_worker(decode, raw, media_type(request.headers), encoding)
        return fault, None, value

    async def _batch(self, request: Request, observed: Observed) -> Response:
        fault, replaced, items = await self._take_body(request, observed, "batch", MAX_BODY_BYTES)
        if replaced is not None:
            return replaced
        dataset = observed.dataset or ""
        results = await self._intake.in_worker(
            self._intake.store_items, dataset, items, fault, observed
        )
        return _json(results, _retry_after(fault))

    async def _single(self, request: Request, observed: Observed) -> Response:
        fault, replaced, data = await self._take_body(
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
        (stored,) = await self._intake.in_worker(self._intake.admit, event.dataset, [event])
        if not stored:
            observed.counts["events_rejected"] += 1
            raise Reject(400, ErrorText.DATASET_TOO_MANY_COLUMNS, "dataset_too_many_columns")
        observed.counts["events_accepted"] += 1
        return Response(status_code=200, headers=headers)

    async def _auth(self, request: Request, observed: Observed) -> Response:
        self._intake.check_key(request)
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
            },
            # The exporters' trace links then point at this receiver's own trace pages
            # (otel/_trace_links.py): Honeycomb's UI knows nothing of what was sent here.
            headers={"X-Honeycomb-Events-Receiver": "1"},
        )
