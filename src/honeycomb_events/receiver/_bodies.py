"""Request bodies: read whole, decompressed within the size limit, their values counted on the
wire (`_item_count`), then decoded. Everything but the reading runs in a worker thread."""

from __future__ import annotations

import zlib
from typing import Any, Final

import msgspec
import zstandard
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request

from ._errors import ErrorText, Reject
from ._item_count import MAX_ITEMS, TooManyItems, json_items, msgpack_items

MAX_DECODED_BYTES: Final = 50_000_000
"""A compressed body may expand to at most this many bytes; beyond, it is "too large"."""

_MSGPACK_TYPES: Final = frozenset({"application/msgpack", "application/x-msgpack"})
_READ_CHUNK: Final = 1 << 16

SPLIT_ABOVE: Final = 1 << 20
"""Batch bodies larger than this are decoded an item at a time (`decode_batch`)."""

_json_decoder: Final = msgspec.json.Decoder()
# No fallback for unknown types: a msgpack extension value in an event makes it malformed.
_msgpack_decoder: Final = msgspec.msgpack.Decoder()
_json_parts: Final = msgspec.json.Decoder(list[msgspec.Raw])
_msgpack_parts: Final = msgspec.msgpack.Decoder(list[msgspec.Raw])


class Disconnected(Exception):
    """The client went away before its body was read."""


def media_type(headers: Headers) -> str:
    """The ``Content-Type`` without its parameters, in lower case; empty when there is none."""
    return (headers.get("content-type") or "").split(";", 1)[0].strip().lower()


async def read_body(request: Request, limit: int) -> tuple[bytes, int]:
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
        raise Disconnected from None
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
                raise Reject(400, ErrorText.BODY_TOO_LARGE, "bodies_too_large")
            if not progressed:
                raise Reject(400, ErrorText.MALFORMED, "malformed_bodies")  # truncated
        pending = decompressor.unused_data  # another gzip member follows
    return bytes(out)


def _unzstd(body: bytes) -> bytes:
    out = bytearray()
    reader = zstandard.ZstdDecompressor().stream_reader(body, read_across_frames=True)
    with reader:
        while chunk := reader.read(_READ_CHUNK):
            out += chunk
            if len(out) > MAX_DECODED_BYTES:
                raise Reject(400, ErrorText.BODY_TOO_LARGE, "bodies_too_large")
    return bytes(out)


def decompress(body: bytes, content_encoding: str | None) -> bytes:
    encoding = (content_encoding or "").strip().lower()
    try:
        if encoding in ("", "identity"):
            return body
        if encoding in ("gzip", "x-gzip"):
            return _gunzip(body)
        if encoding == "zstd":
            return _unzstd(body)
    except (zlib.error, zstandard.ZstdError, ValueError, EOFError) as exc:
        raise Reject(400, ErrorText.MALFORMED, "malformed_bodies") from exc
    raise Reject(400, ErrorText.MALFORMED, "malformed_bodies")


def decode_body(raw: bytes, media: str, content_encoding: str | None) -> Any:
    """A ``/1/events`` body decompressed, counted and decoded, or a `Reject`."""
    body, msgpack = _checked(raw, media, content_encoding)
    try:
        return _msgpack_decoder.decode(body) if msgpack else _json_decoder.decode(body)
    except (msgspec.MsgspecError, ValueError, RecursionError) as exc:
        raise Reject(400, ErrorText.MALFORMED, "malformed_bodies") from exc


def decode_batch(raw: bytes, media: str, content_encoding: str | None) -> list[dict[str, Any]]:
    """A ``/1/batch`` body decompressed, counted and decoded: its items, each an object; or a
    `Reject`.

    A body over `SPLIT_ABOVE` bytes is split into its items first and each decoded by a call of
    its own: one call over a whole big batch would hold the GIL, and so keep the event loop's
    thread from answering anyone, for as long as the body takes to decode (a 3.5 MB batch:
    up to 0.1 s on a busy machine).
    """
    body, msgpack = _checked(raw, media, content_encoding)
    decode = _msgpack_decoder.decode if msgpack else _json_decoder.decode
    try:
        if len(body) <= SPLIT_ABOVE:
            items = decode(body)
            if not isinstance(items, list):
                raise Reject(400, ErrorText.MALFORMED, "malformed_bodies")
        else:
            parts = (_msgpack_parts if msgpack else _json_parts).decode(body)
            items = [decode(part) for part in parts]
    except (msgspec.MsgspecError, ValueError, RecursionError) as exc:
        raise Reject(400, ErrorText.MALFORMED, "malformed_bodies") from exc
    if not all(isinstance(item, dict) for item in items):
        raise Reject(400, ErrorText.MALFORMED, "malformed_bodies")
    if not items:
        raise Reject(400, ErrorText.BODY_EMPTY, "empty_bodies")
    return items


def _checked(raw: bytes, media: str, content_encoding: str | None) -> tuple[bytes, bool]:
    """The body decompressed, refused when empty or holding too many values; and whether it
    is msgpack."""
    body = decompress(raw, content_encoding)
    msgpack = media in _MSGPACK_TYPES
    if not (body if msgpack else body.strip()):
        raise Reject(400, ErrorText.BODY_EMPTY, "empty_bodies")
    try:
        (msgpack_items if msgpack else json_items)(body, MAX_ITEMS)
    except TooManyItems:
        raise Reject(400, ErrorText.TOO_MANY_ITEMS, "bodies_too_many_items") from None
    return body, msgpack
