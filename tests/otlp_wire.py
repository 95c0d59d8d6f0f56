"""OTLP requests written byte by byte, as any SDK's protobuf encoder writes them, for values
nested deeper than Python's protobuf runtime builds (it refuses 100 levels; Go SDKs and
Honeycomb take 10,000). Only the fields the tests use; checked against the official message
classes in test_otlp_foreign.py.

Values: `hostile.KvList` for a kvlist, a list for an array, bytes, str, bool, int (64-bit),
float; None for an empty ``AnyValue``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import Any

from .hostile import KvList

VARINT, I64, LEN = 0, 1, 2


def _varint(number: int) -> bytes:
    number &= (1 << 64) - 1  # negative integers are their two's complement, ten bytes
    out = bytearray()
    while True:
        byte = number & 0x7F
        number >>= 7
        if number:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def tag(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


def length_delimited(number: int, payload: bytes) -> bytes:
    return tag(number, LEN) + _varint(len(payload)) + payload


def text(number: int, value: str) -> bytes:
    return length_delimited(number, value.encode())


def varint(number: int, value: int) -> bytes:
    return tag(number, VARINT) + _varint(value)


def fixed64(number: int, value: int) -> bytes:
    return tag(number, I64) + struct.pack("<Q", value)


def double(number: int, value: float) -> bytes:
    return tag(number, I64) + struct.pack("<d", value)


def any_value(value: Any) -> bytes:
    """The bytes of one ``AnyValue``, written leaves first, without recursion."""
    done: dict[int, bytes] = {}
    pending: list[tuple[Any, bool]] = [(value, False)]
    keep: list[Any] = []  # holds every node, so that no id is reused while writing
    while pending:
        node, children_done = pending.pop()
        keep.append(node)
        if isinstance(node, KvList):
            children = [item for _, item in node]
        elif isinstance(node, list):
            children = node
        else:
            done[id(node)] = _scalar(node)
            continue
        if not children_done:
            pending.append((node, True))
            pending.extend((child, False) for child in children)
        elif isinstance(node, KvList):
            pairs = b"".join(
                length_delimited(1, text(1, key) + length_delimited(2, done[id(item)]))
                for key, item in node
            )
            done[id(node)] = length_delimited(6, pairs)
        else:
            items = b"".join(length_delimited(1, done[id(item)]) for item in node)
            done[id(node)] = length_delimited(5, items)
    return done[id(value)]


def _scalar(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bool):
        return varint(2, int(value))
    if isinstance(value, int):
        return varint(3, value)
    if isinstance(value, float):
        return double(4, value)
    if isinstance(value, str):
        return text(1, value)
    if isinstance(value, bytes):
        return length_delimited(7, value)
    raise TypeError(type(value))


def key_values(number: int, pairs: Iterable[tuple[str, Any]]) -> bytes:
    return b"".join(
        length_delimited(number, text(1, key) + length_delimited(2, any_value(value)))
        for key, value in pairs
    )


def export_request(
    resource: Sequence[tuple[str, Any]],
    items: Sequence[bytes],
    scope_name: str = "io.opentelemetry",
) -> bytes:
    """An ``Export{Trace,Logs,Metrics}ServiceRequest`` of one resource and scope holding
    `items` (spans, log records or metrics): the three nest alike, field for field."""
    scope = length_delimited(1, text(1, scope_name))
    by_scope = length_delimited(2, scope + b"".join(length_delimited(2, item) for item in items))
    return length_delimited(1, length_delimited(1, key_values(1, resource)) + by_scope)


def span(
    *,
    trace_id: bytes,
    span_id: bytes,
    name: str = "",
    kind: int = 0,
    start: int = 0,
    end: int = 0,
    attributes: Sequence[tuple[str, Any]] = (),
    trace_state: str = "",
    parent_span_id: bytes = b"",
    status_code: int = 0,
    status_message: str = "",
) -> bytes:
    """A ``Span``'s bytes; fields at their zero value are left out, as protobuf does."""
    parts = [
        length_delimited(1, trace_id) if trace_id else b"",
        length_delimited(2, span_id) if span_id else b"",
        text(3, trace_state) if trace_state else b"",
        length_delimited(4, parent_span_id) if parent_span_id else b"",
        text(5, name) if name else b"",
        varint(6, kind) if kind else b"",
        fixed64(7, start) if start else b"",
        fixed64(8, end) if end else b"",
        key_values(9, attributes),
        length_delimited(
            15, (text(2, status_message) if status_message else b"") + varint(3, status_code)
        )
        if status_code or status_message
        else b"",
    ]
    return b"".join(parts)


def log_record(
    *,
    time: int,
    body: Any = None,
    attributes: Sequence[tuple[str, Any]] = (),
    severity_number: int = 9,
    span_id: bytes = b"",
    trace_id: bytes = b"",
) -> bytes:
    parts = [
        fixed64(1, time),
        varint(2, severity_number) if severity_number else b"",
        length_delimited(5, any_value(body)) if body is not None else b"",
        key_values(6, attributes),
        length_delimited(9, trace_id) if trace_id else b"",
        length_delimited(10, span_id) if span_id else b"",
    ]
    return b"".join(parts)


def gauge(name: str, points: Sequence[tuple[Sequence[tuple[str, Any]], int, float]]) -> bytes:
    """A gauge metric of points (attributes, time, value)."""
    data = b"".join(
        length_delimited(1, key_values(7, attributes) + fixed64(3, time) + double(4, value))
        for attributes, time, value in points
    )
    return text(1, name) + length_delimited(5, data)


def summary(
    name: str,
    *,
    attributes: Sequence[tuple[str, Any]],
    time: int,
    count: int,
    total: float,
    quantiles: Sequence[tuple[float, float]],
) -> bytes:
    point = (
        fixed64(3, time)
        + fixed64(4, count)
        + double(5, total)
        + b"".join(length_delimited(6, double(1, q) + double(2, v)) for q, v in quantiles)
        + key_values(7, attributes)
    )
    return text(1, name) + length_delimited(11, length_delimited(1, point))


def histogram(
    name: str, *, time: int, count: int, bounds: Sequence[float], counts: Sequence[int]
) -> bytes:
    """A histogram metric of one point without a sum (which OTLP makes optional)."""
    point = (
        fixed64(3, time)
        + fixed64(4, count)
        + length_delimited(6, b"".join(struct.pack("<Q", n) for n in counts))
        + length_delimited(7, b"".join(struct.pack("<d", b) for b in bounds))
    )
    return text(1, name) + length_delimited(9, length_delimited(1, point) + varint(2, 1))
