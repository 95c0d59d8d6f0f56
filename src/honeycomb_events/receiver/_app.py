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

import asyncio
import collections
import contextvars
import datetime as _dt
import html
import logging
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Final, Literal

import anyio.to_thread
import msgspec
import zstandard
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from honeycomb_events._encode import BatchEncoder, Compression, Encoding
from honeycomb_events._limits import (
    MAX_BODY_BYTES,
    MAX_EVENT_BYTES,
    MAX_FIELDS,
    MAX_STRING_BYTES,
    LimitTally,
    truncate_utf8,
)
from honeycomb_events._model import BatchEvent, datetime_to_ns, epoch_to_ns, parse_rfc3339_ns
from honeycomb_events.otel._common import service_dataset
from honeycomb_events.otel._logs import log_dataset, log_event_groups
from honeycomb_events.otel._metric_exporter import UNKNOWN_METRICS
from honeycomb_events.otel._metrics import map_metrics
from honeycomb_events.otel._spans import span_event_groups

from ._faults import Fault, FaultPlan
from ._otlp import log_records_of, metrics_of, spans_of
from ._store import MAX_DATASET_COLUMNS, EventStore, StoredEvent
from ._web import index_page, trace_page

MAX_DECODED_BYTES: Final = 50_000_000
"""A compressed body may expand to at most this many bytes; beyond, it is "too large"."""

MAX_SINGLE_BODY_BYTES: Final = MAX_EVENT_BYTES
"""Raw (possibly compressed) size limit of a ``/1/events`` body."""

MAX_FUTURE_NS: Final = 3600 * 1_000_000_000
"""Honeycomb replaces event times more than an hour ahead of its clock with the receipt time."""

_INT64: Final = range(-(2**63), 2**63)  # what SQLite can store as an integer
_MSGPACK_TYPES: Final = frozenset({"application/msgpack", "application/x-msgpack"})
_READ_CHUNK: Final = 1 << 16

_json_decoder: Final = msgspec.json.Decoder()
_msgpack_decoder: Final = msgspec.msgpack.Decoder()
# No fallback for unknown types: a msgpack extension value in an event makes it malformed.
_size_encoder: Final = msgspec.json.Encoder()

# Set by a dropped-connection fault in the task that serves the request, so the log filter
# can hide uvicorn's complaint about that one response and no other.
_dropping: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "honeycomb_events_receiver_dropping", default=False
)


class ErrorText:
    """The ``error`` texts the receiver answers with.

    Where Honeycomb documents a text (events-api.md) it is used verbatim; the others follow its
    style.
    """

    INVALID_KEY: Final = "event has an invalid key"
    UNKNOWN_KEY: Final = "unknown API key - check your credentials"
    BODY_TOO_LARGE: Final = "request body is too large"
    BODY_EMPTY: Final = "request body should not be empty"
    MALFORMED: Final = "request body is malformed and cannot be read"
    NO_DATA: Final = "event has no data"
    TOO_MANY_COLUMNS: Final = "event has too many columns"
    EVENT_TOO_LARGE: Final = "event is too large"
    DATASET_TOO_MANY_COLUMNS: Final = "dataset has too many columns"
    BAD_SAMPLERATE: Final = "event samplerate is malformed and cannot be read"
    OTLP_PROTOBUF_ONLY: Final = "OTLP requests must be protobuf (application/x-protobuf)"


@dataclass(eq=False)
class ReceiverStats:
    """Counts of what the receiver saw and did, for tests to assert on. Thread-safe.

    `requests` counts requests to the Honeycomb endpoints; `events_received`, `events_accepted`
    and `events_rejected` the events of readable bodies and their fate (an injected per-event
    status other than 202 counts as rejected). Rejections by reason: `too_many_columns`,
    `events_too_large`, `dataset_too_many_columns`, `missing_data`, `malformed_events`,
    `malformed_bodies`, `empty_bodies`, `bodies_too_large`, `key_rejections`.

    What Honeycomb would silently repair is counted too, so a test can check that a client never
    needed the repair: `oversize_strings` (over 65,535 bytes, stored truncated), `non_finite`
    (NaN or infinities, which only msgpack can carry; the field is not stored), `null_values`
    (not stored), `bad_times` (unreadable, or outside 1677-2262: the receipt time is used),
    `future_times` (over an hour ahead: the receipt time is used) and `bad_samplerates` (below
    1, stored as 1; or not an integer, and the event is rejected). `faults_applied` counts
    requests that consumed a fault rule.
    """

    requests: int = 0
    events_received: int = 0
    events_accepted: int = 0
    events_rejected: int = 0
    oversize_strings: int = 0
    non_finite: int = 0
    null_values: int = 0
    too_many_columns: int = 0
    events_too_large: int = 0
    dataset_too_many_columns: int = 0
    missing_data: int = 0
    malformed_events: int = 0
    bad_samplerates: int = 0
    bad_times: int = 0
    future_times: int = 0
    malformed_bodies: int = 0
    empty_bodies: int = 0
    bodies_too_large: int = 0
    key_rejections: int = 0
    faults_applied: int = 0
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    @classmethod
    def counter_names(cls) -> tuple[str, ...]:
        return tuple(item.name for item in fields(cls) if not item.name.startswith("_"))

    def add(self, **counts: int) -> None:
        """Add to the named counters; an unknown name is a `KeyError`."""
        names = self.counter_names()
        with self._lock:
            for name, amount in counts.items():
                if name not in names:
                    raise KeyError(f"unknown receiver counter {name!r}")
                setattr(self, name, getattr(self, name) + amount)

    def snapshot(self) -> dict[str, int]:
        """Every counter, read at one moment."""
        with self._lock:
            return {name: getattr(self, name) for name in self.counter_names()}

    def reset(self) -> None:
        """Set every counter back to zero."""
        with self._lock:
            for name in self.counter_names():
                setattr(self, name, 0)


@dataclass(frozen=True, slots=True)
class SeenRequest:
    """One request to a Honeycomb endpoint, as the receiver saw it (never with its key).

    `path` is the raw URL path without the query, `dataset` the decoded dataset name (None for
    ``/1/auth``), `body_bytes` the raw body size, `event_count` the events the body held (0 when
    it could not be read), `status` the response status (0 when no complete response was sent:
    a dropped-connection fault, or a client that went away), `has_key` whether a non-blank
    ``X-Honeycomb-Team`` header came with it.
    """

    method: str
    path: str
    dataset: str | None
    content_type: str | None
    content_encoding: str | None
    body_bytes: int
    event_count: int
    status: int
    has_key: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RequestLog:
    """The most recent requests to the Honeycomb endpoints, oldest first. Thread-safe."""

    def __init__(self, maxlen: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._entries: collections.deque[SeenRequest] = collections.deque(maxlen=maxlen)

    def append(self, seen: SeenRequest) -> None:
        with self._lock:
            self._entries.append(seen)

    def entries(self) -> list[SeenRequest]:
        """A copy of the log."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __iter__(self) -> Iterator[SeenRequest]:
        return iter(self.entries())

    def __getitem__(self, index: int) -> SeenRequest:
        with self._lock:
            return self._entries[index]


class _Reject(Exception):
    """Ends a request (or, in a batch, one event) with a Honeycomb-style error."""

    def __init__(self, status: int, text: str, counter: str | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.counter = counter


class _Disconnected(Exception):
    """The client went away before its body was read."""


@dataclass(slots=True)
class _Observed:
    """What is known about a request so far, for its `SeenRequest`."""

    dataset: str | None = None
    body_bytes: int = 0
    event_count: int = 0
    has_key: bool = False
    counts: collections.Counter[str] = field(default_factory=collections.Counter)


class _DroppedConnection(Response):
    """A response head promising 1,000 bytes of body, and then nothing.

    uvicorn closes the connection when the application returns with its response incomplete,
    so the client sees the connection end mid-response, as when a proxy or server dies.
    """

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        _dropping.set(True)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", b"1000"),
                ],
            }
        )


class IncompleteResponseFilter(logging.Filter):
    """Hides uvicorn's "returned without completing response" error for injected drops only.

    Install it on the ``uvicorn.error`` logger; the same error from any other response is a bug
    and stays visible.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            _dropping.get() and str(record.msg).startswith("ASGI callable returned without")
        )


def error_response(
    status: int, text: str, *, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """Honeycomb's error body, ``{"error": text}``, with `status`."""
    return JSONResponse({"error": text}, status_code=status, headers=headers)


def _media_type(request: Request) -> str:
    return (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()


async def _read_body(request: Request, limit: int) -> tuple[bytes, int]:
    """The body (empty once past `limit`) and its full size.

    The whole body is always read, even past the limit: answering before the client has sent
    it would make the client fail writing instead of reading the 400.
    """
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size <= limit:
                chunks.append(chunk)
            elif chunks:
                chunks.clear()
    except ClientDisconnect:
        raise _Disconnected from None
    return (b"".join(chunks) if size <= limit else b""), size


def _gunzip(body: bytes) -> bytes:
    out = bytearray()
    pending = body
    while pending:
        decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        while not decompressor.eof:
            chunk = decompressor.decompress(pending, MAX_DECODED_BYTES + 1 - len(out))
            progressed = bool(chunk) or len(decompressor.unconsumed_tail) < len(pending)
            pending = decompressor.unconsumed_tail
            out += chunk
            if len(out) > MAX_DECODED_BYTES:
                raise _Reject(400, ErrorText.BODY_TOO_LARGE, "bodies_too_large")
            if not progressed:
                raise _Reject(400, ErrorText.MALFORMED, "malformed_bodies")  # truncated
        pending = decompressor.unused_data  # another gzip member follows
    return bytes(out)


def _unzstd(body: bytes) -> bytes:
    out = bytearray()
    reader = zstandard.ZstdDecompressor().stream_reader(body, read_across_frames=True)
    with reader:
        while chunk := reader.read(_READ_CHUNK):
            out += chunk
            if len(out) > MAX_DECODED_BYTES:
                raise _Reject(400, ErrorText.BODY_TOO_LARGE, "bodies_too_large")
    return bytes(out)


def _decompress(body: bytes, content_encoding: str | None) -> bytes:
    encoding = (content_encoding or "").strip().lower()
    try:
        if encoding in ("", "identity"):
            return body
        if encoding in ("gzip", "x-gzip"):
            return _gunzip(body)
        if encoding == "zstd":
            return _unzstd(body)
    except (zlib.error, zstandard.ZstdError, ValueError, EOFError) as exc:
        raise _Reject(400, ErrorText.MALFORMED, "malformed_bodies") from exc
    raise _Reject(400, ErrorText.MALFORMED, "malformed_bodies")


def _decode_body(raw: bytes, request: Request) -> Any:
    """The request body decompressed and decoded, or a `_Reject`."""
    body = _decompress(raw, request.headers.get("content-encoding"))
    msgpack = _media_type(request) in _MSGPACK_TYPES
    if not (body if msgpack else body.strip()):
        raise _Reject(400, ErrorText.BODY_EMPTY, "empty_bodies")
    try:
        return _msgpack_decoder.decode(body) if msgpack else _json_decoder.decode(body)
    except (msgspec.MsgspecError, ValueError, RecursionError) as exc:
        raise _Reject(400, ErrorText.MALFORMED, "malformed_bodies") from exc


def _time_ns(value: object, received_ns: int, counts: collections.Counter[str]) -> int:
    """An event's time by Honeycomb's rules: unreadable or over an hour ahead -> receipt time."""
    if value is None:
        return received_ns
    try:
        if isinstance(value, str):
            nanos = _text_time_ns(value)
        elif isinstance(value, _dt.datetime):  # a msgpack timestamp
            nanos = datetime_to_ns(value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            nanos = epoch_to_ns(value)
        else:
            raise ValueError(f"unsupported time {type(value).__name__}")
    except (ValueError, OverflowError):
        counts["bad_times"] += 1
        return received_ns
    if nanos not in _INT64:  # before 1677 or after 2262: not a time any event has
        counts["bad_times"] += 1
        return received_ns
    if nanos - received_ns > MAX_FUTURE_NS:
        counts["future_times"] += 1
        return received_ns
    return nanos


def _text_time_ns(text: str) -> int:
    try:
        return parse_rfc3339_ns(text)
    except ValueError:
        stripped = text.strip()
        # Epoch numbers also arrive as text in the X-Honeycomb-Event-Time header.
        if stripped.lstrip("-").isdigit():
            return epoch_to_ns(int(stripped))
        return epoch_to_ns(float(stripped))


def _samplerate(value: object, counts: collections.Counter[str]) -> int:
    if value is None:
        return 1
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value not in _INT64:
        raise _Reject(400, ErrorText.BAD_SAMPLERATE, "bad_samplerates")
    if value < 1:
        counts["bad_samplerates"] += 1
        return 1
    return value


def _check_event(
    dataset: str,
    data: object,
    *,
    time_value: object,
    samplerate_value: object,
    received_ns: int,
    counts: collections.Counter[str],
) -> StoredEvent:
    """The event to store, after Honeycomb's per-event checks and repairs; or a `_Reject`."""
    if data is None:
        raise _Reject(400, ErrorText.NO_DATA, "missing_data")
    if not isinstance(data, dict) or not all(isinstance(key, str) for key in data):
        raise _Reject(400, ErrorText.MALFORMED, "malformed_events")
    if len(data) > MAX_FIELDS:
        raise _Reject(400, ErrorText.TOO_MANY_COLUMNS, "too_many_columns")
    try:
        size = len(_size_encoder.encode(data))
    except (msgspec.MsgspecError, TypeError, ValueError, OverflowError) as exc:
        raise _Reject(400, ErrorText.MALFORMED, "malformed_events") from exc
    if size > MAX_EVENT_BYTES:
        raise _Reject(400, ErrorText.EVENT_TOO_LARGE, "events_too_large")
    samplerate = _samplerate(samplerate_value, counts)
    fields_: dict[str, Any] = {}
    for key, value in data.items():
        if value is None:
            counts["null_values"] += 1
            continue
        if isinstance(value, float) and value - value != 0.0:
            # Honeycomb cannot store NaN or an infinity; only msgpack can even carry one.
            counts["non_finite"] += 1
            continue
        if isinstance(value, str) and len(value) > MAX_STRING_BYTES // 4:
            truncated = truncate_utf8(value, MAX_STRING_BYTES)
            if truncated is not value:
                counts["oversize_strings"] += 1
                value = truncated  # noqa: PLW2901 - Honeycomb keeps the truncated string
        fields_[key] = value
    return StoredEvent.create(
        dataset, _time_ns(time_value, received_ns, counts), fields_, samplerate
    )


# OTLP-ingested events are encoded as an exporter would send them, uncompressed.
_OTLP_ENCODER: Final = BatchEncoder(Encoding.JSON, Compression.NONE)
_TRACES_ANSWER: Final = ExportTraceServiceResponse().SerializeToString()
_LOGS_ANSWER: Final = ExportLogsServiceResponse().SerializeToString()
_METRICS_ANSWER: Final = ExportMetricsServiceResponse().SerializeToString()


def _span_groups(body: bytes, dataset: str | None) -> Iterator[tuple[str, Iterable[BatchEvent]]]:
    """Spans go where Honeycomb sends them for an environment key: their service's dataset."""
    for resource, events in span_event_groups(spans_of(body)):
        yield service_dataset(resource.attributes), events


def _metric_groups(body: bytes, dataset: str | None) -> Iterator[tuple[str, Iterable[BatchEvent]]]:
    """Metrics go to the ``X-Honeycomb-Dataset`` header's dataset, else ``unknown_metrics``,
    as the metric exporter's dataset rule has it."""
    for _, events in map_metrics(metrics_of(body)):
        yield dataset or UNKNOWN_METRICS, events


def _log_groups(body: bytes, dataset: str | None) -> Iterator[tuple[str, Iterable[BatchEvent]]]:
    """Logs go to their service's dataset, else the ``X-Honeycomb-Dataset`` header's."""
    for resource, events in log_event_groups(log_records_of(body)):
        yield log_dataset(resource.attributes, dataset), events


class _Handlers:
    """The endpoints, sharing the store, the key set, the fault plan, the log and the stats."""

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

    # Honeycomb endpoints -----------------------------------------------------------------

    async def batch(self, request: Request) -> Response:
        return await self._observe(request, "batch", self._batch)

    async def single(self, request: Request) -> Response:
        return await self._observe(request, "events", self._single)

    async def auth(self, request: Request) -> Response:
        return await self._observe(request, None, self._auth)

    async def otlp_traces(self, request: Request) -> Response:
        return await self._observe(
            request,
            None,
            lambda request, observed: self._otlp(request, observed, _span_groups, _TRACES_ANSWER),
        )

    async def otlp_metrics(self, request: Request) -> Response:
        return await self._observe(
            request,
            None,
            lambda request, observed: self._otlp(
                request, observed, _metric_groups, _METRICS_ANSWER
            ),
        )

    async def otlp_logs(self, request: Request) -> Response:
        return await self._observe(
            request,
            None,
            lambda request, observed: self._otlp(request, observed, _log_groups, _LOGS_ANSWER),
        )

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
            response = await handler(request, observed)
            status = 0 if isinstance(response, _DroppedConnection) else response.status_code
        except _Reject as reject:
            if reject.counter:
                observed.counts[reject.counter] += 1
            response = error_response(reject.status, reject.text)
            status = reject.status
        except _Disconnected:
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
            raise _Reject(400, ErrorText.INVALID_KEY, "key_rejections")
        # Real Honeycomb answers an unknown key with 400 or 401; 401 is the clearer of the two.
        if self._keys is not None and key not in self._keys:
            raise _Reject(401, ErrorText.UNKNOWN_KEY, "key_rejections")

    async def _apply_fault(
        self, kind: Literal["batch", "events"], observed: _Observed
    ) -> tuple[Fault | None, Response | None]:
        """The fault for this request, and the response that replaces normal handling."""
        fault = self.faults.take(kind)
        if fault is None:
            return None, None
        observed.counts["faults_applied"] += 1
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.drop_connection:
            return fault, _DroppedConnection()
        if fault.status is not None:
            return fault, error_response(
                fault.status, fault.error_for(fault.status), headers=_retry_after(fault)
            )
        return fault, None

    async def _intake(
        self, request: Request, observed: _Observed, kind: Literal["batch", "events"], limit: int
    ) -> tuple[Fault | None, Response | None, Any]:
        """What both endpoints check first: key, fault, size, emptiness; then the body.

        Returns the fault applied, the response that replaces normal handling (or None), and
        the decoded body.
        """
        raw, observed.body_bytes = await _read_body(request, limit)
        self._check_key(request)
        fault, replaced = await self._apply_fault(kind, observed)
        if replaced is not None:
            return fault, replaced, None
        if observed.body_bytes > limit:
            raise _Reject(400, ErrorText.BODY_TOO_LARGE, "bodies_too_large")
        if not raw:
            raise _Reject(400, ErrorText.BODY_EMPTY, "empty_bodies")
        return fault, None, _decode_body(raw, request)

    async def _batch(self, request: Request, observed: _Observed) -> Response:
        fault, replaced, items = await self._intake(request, observed, "batch", MAX_BODY_BYTES)
        if replaced is not None:
            return replaced
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise _Reject(400, ErrorText.MALFORMED, "malformed_bodies")
        if not items:
            raise _Reject(400, ErrorText.BODY_EMPTY, "empty_bodies")
        results = await self._store_items(observed.dataset or "", items, fault, observed)
        return JSONResponse(results, headers=_retry_after(fault))

    async def _store_items(
        self,
        dataset: str,
        items: list[dict[str, Any]],
        fault: Fault | None,
        observed: _Observed,
    ) -> list[dict[str, Any]]:
        """Check and store a batch's events; one ``{"status": ...}`` per event."""
        observed.event_count += len(items)
        observed.counts["events_received"] += len(items)
        received_ns = time.time_ns()
        results: list[dict[str, Any]] = [{"status": 202} for _ in items]
        to_store: list[tuple[int, StoredEvent]] = []
        for index, item in enumerate(items):
            injected = None if fault is None else fault.event_status(index)
            if fault is not None and injected is not None and injected != 202:
                results[index] = {"status": injected, "error": fault.error_for(injected)}
                continue
            try:
                event = _check_event(
                    dataset,
                    item.get("data"),
                    time_value=item.get("time"),
                    samplerate_value=item.get("samplerate"),
                    received_ns=received_ns,
                    counts=observed.counts,
                )
            except _Reject as reject:
                if reject.counter:
                    observed.counts[reject.counter] += 1
                results[index] = {"status": reject.status, "error": reject.text}
                continue
            to_store.append((index, event))

        admitted = await anyio.to_thread.run_sync(
            self._admit, dataset, [event for _, event in to_store]
        )
        for (index, _), stored in zip(to_store, admitted, strict=True):
            if not stored:
                observed.counts["dataset_too_many_columns"] += 1
                results[index] = {"status": 400, "error": ErrorText.DATASET_TOO_MANY_COLUMNS}
        accepted = sum(1 for result in results if result["status"] == 202)
        observed.counts["events_accepted"] += accepted
        observed.counts["events_rejected"] += len(results) - accepted
        return results

    async def _otlp(
        self,
        request: Request,
        observed: _Observed,
        groups_of: Callable[[bytes, str | None], Iterable[tuple[str, Iterable[BatchEvent]]]],
        answer: bytes,
    ) -> Response:
        """OTLP/HTTP ingest: the SDK objects of the request, mapped by this package's own
        mappings, checked and stored as a batch of each dataset would be."""
        raw, observed.body_bytes = await _read_body(request, MAX_BODY_BYTES)
        self._check_key(request)
        if observed.body_bytes > MAX_BODY_BYTES:
            raise _Reject(400, ErrorText.BODY_TOO_LARGE, "bodies_too_large")
        if _media_type(request) != "application/x-protobuf":
            raise _Reject(415, ErrorText.OTLP_PROTOBUF_ONLY, "malformed_bodies")
        body = _decompress(raw, request.headers.get("content-encoding"))
        dataset_header = (request.headers.get("x-honeycomb-dataset") or "").strip() or None
        try:
            groups = list(groups_of(body, dataset_header))
        except (DecodeError, ValueError) as exc:
            raise _Reject(400, ErrorText.MALFORMED, "malformed_bodies") from exc
        for dataset, events in groups:
            encoded = _OTLP_ENCODER.encode_events(events, LimitTally())
            items = msgspec.json.decode(encoded.buffer)
            observed.dataset = dataset
            if items:
                await self._store_items(dataset, items, None, observed)
        return Response(answer, media_type="application/x-protobuf")

    def _admit(self, dataset: str, events: list[StoredEvent]) -> list[bool]:
        if not events:
            return []
        return self.store.admit(dataset, events, max_columns=MAX_DATASET_COLUMNS)

    async def _single(self, request: Request, observed: _Observed) -> Response:
        fault, replaced, data = await self._intake(
            request, observed, "events", MAX_SINGLE_BODY_BYTES
        )
        if replaced is not None:
            return replaced
        if not isinstance(data, dict):
            raise _Reject(400, ErrorText.MALFORMED, "malformed_bodies")
        observed.event_count = 1
        observed.counts["events_received"] += 1
        headers = _retry_after(fault)
        injected = None if fault is None else fault.event_status(0)
        if fault is not None and injected is not None and injected != 202:
            observed.counts["events_rejected"] += 1
            return error_response(injected, fault.error_for(injected), headers=headers)
        try:
            event = _check_event(
                observed.dataset or "",
                data,
                time_value=request.headers.get("x-honeycomb-event-time"),
                samplerate_value=_header_samplerate(request.headers.get("x-honeycomb-samplerate")),
                received_ns=time.time_ns(),
                counts=observed.counts,
            )
        except _Reject:
            observed.counts["events_rejected"] += 1
            raise
        (stored,) = await anyio.to_thread.run_sync(self._admit, event.dataset, [event])
        if not stored:
            observed.counts["events_rejected"] += 1
            raise _Reject(400, ErrorText.DATASET_TOO_MANY_COLUMNS, "dataset_too_many_columns")
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

    # Web pages ---------------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        page = await anyio.to_thread.run_sync(index_page, self.store)
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
            since_ns = _int_param(request, "since_ns")
            until_ns = _int_param(request, "until_ns")
            limit = _int_param(request, "limit")
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


def _header_samplerate(value: str | None) -> object:
    """The header's number, read as a batch body's "samplerate" would be (2.0 is 2)."""
    if value is None or not value.strip():
        return None
    try:
        return int(value.strip())
    except ValueError:
        pass
    try:
        number = float(value.strip())
    except ValueError:
        return value
    return int(number) if number.is_integer() else value


def _int_param(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer, not {value!r}") from None


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
) -> Starlette:
    """The receiver as an ASGI application, storing accepted events in `store`.

    `api_keys=None` accepts any non-blank key; otherwise only the keys given. The fault plan,
    request log and stats are created when not passed, and are reachable as
    ``app.state.faults``, ``app.state.requests`` and ``app.state.stats`` (the store as
    ``app.state.store``).
    """
    if isinstance(api_keys, str):
        raise TypeError("api_keys must be a collection of keys, not a single string")
    handlers = _Handlers(
        store,
        api_keys,
        FaultPlan() if faults is None else faults,
        RequestLog() if requests is None else requests,
        ReceiverStats() if stats is None else stats,
    )
    routes = [
        Route("/1/batch/{dataset}", handlers.batch, methods=["POST"]),
        Route("/1/events/{dataset}", handlers.single, methods=["POST"]),
        Route("/1/auth", handlers.auth, methods=["GET"]),
        Route("/", handlers.index, methods=["GET"]),
        Route("/trace/{trace_id}", handlers.trace, methods=["GET"]),
        Route("/v1/traces", handlers.otlp_traces, methods=["POST"]),
        Route("/v1/metrics", handlers.otlp_metrics, methods=["POST"]),
        Route("/v1/logs", handlers.otlp_logs, methods=["POST"]),
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
    return app
