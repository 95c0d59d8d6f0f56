"""How many values a request body holds, counted on the wire before anything is decoded.

What a request costs in memory follows the number of objects it becomes, not its size: a
178-byte zstd body of msgpack can hold 5,000,000 empty maps (1.7 GB once decoded), and a few
dozen gzipped bytes of OTLP 300,000 empty spans. Each counter here walks the encoding's own
framing, without building a value, and stops as soon as the count passes the limit, so refusing
a body costs at most `limit` steps whatever it claims to hold.

Every value takes at least one byte in each of these encodings, so a body no longer than the
limit is not walked at all: only large bodies pay for the count. A body the counter cannot walk
is left to the decoder, which refuses it with its own error.
"""

from __future__ import annotations

import re
from typing import Final

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

MAX_ITEMS: Final = 1_000_000
"""The most values one request may hold: every event, map, array, key, string, number,
boolean and null counts one (for OTLP: every field of every message, and every element of a
packed list). A 5 MB batch of real events holds a few hundred thousand."""


class TooManyItems(Exception):
    """The body holds more than the limit of values."""


class _Unreadable(Exception):
    """The framing is broken; the decoder will say so."""


# msgpack: for each first byte from 0xc0, how many bytes of length or payload follow.
# (extra bytes, bytes holding a length to skip, a count of nested objects: 0 none, 1 array, 2 map)
_MSGPACK_LONG: Final[dict[int, tuple[int, int, int]]] = {
    0xC0: (0, 0, 0), 0xC2: (0, 0, 0), 0xC3: (0, 0, 0),  # nil, false, true
    0xC4: (0, 1, 0), 0xC5: (0, 2, 0), 0xC6: (0, 4, 0),  # bin 8/16/32
    0xC7: (1, 1, 0), 0xC8: (1, 2, 0), 0xC9: (1, 4, 0),  # ext 8/16/32 (+ type byte)
    0xCA: (4, 0, 0), 0xCB: (8, 0, 0),  # float 32/64
    0xCC: (1, 0, 0), 0xCD: (2, 0, 0), 0xCE: (4, 0, 0), 0xCF: (8, 0, 0),  # uint
    0xD0: (1, 0, 0), 0xD1: (2, 0, 0), 0xD2: (4, 0, 0), 0xD3: (8, 0, 0),  # int
    0xD4: (2, 0, 0), 0xD5: (3, 0, 0), 0xD6: (5, 0, 0), 0xD7: (9, 0, 0), 0xD8: (17, 0, 0),  # fixext
    0xD9: (0, 1, 0), 0xDA: (0, 2, 0), 0xDB: (0, 4, 0),  # str 8/16/32
    0xDC: (0, 2, 1), 0xDD: (0, 4, 1),  # array 16/32
    0xDE: (0, 2, 2), 0xDF: (0, 4, 2),  # map 16/32
}  # fmt: skip


def msgpack_items(body: bytes, limit: int = MAX_ITEMS) -> int:
    """At least the number of msgpack objects in `body` (map keys included); `TooManyItems` past
    `limit`. Broken framing ends the count early: the decoder refuses such a body anyway."""
    end = len(body)
    if end <= limit:
        return end
    position = 0
    count = 0
    pending = 1
    while pending and position < end:
        first = body[position]
        position += 1
        count += 1
        pending -= 1
        if count > limit:
            raise TooManyItems
        if first < 0x80 or first >= 0xE0:  # fixint
            continue
        if first < 0x90:  # fixmap
            pending += 2 * (first & 0x0F)
        elif first < 0xA0:  # fixarray
            pending += first & 0x0F
        elif first < 0xC0:  # fixstr
            position += first & 0x1F
        else:
            shape = _MSGPACK_LONG.get(first)
            if shape is None:
                return count
            extra, length_bytes, nested = shape
            length = int.from_bytes(body[position : position + length_bytes], "big")
            position += length_bytes
            if nested:
                pending += nested * length
            else:
                position += extra + length
    return count


# A JSON string, escapes included, written so the regular expression engine takes a run of
# plain characters in one step.
_JSON_STRING: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def json_items(body: bytes, limit: int = MAX_ITEMS) -> int:
    """An upper bound of the values in JSON `body` (keys included); `TooManyItems` past
    `limit`. Outside strings, every value but the first follows a comma, a colon or an
    opening bracket."""
    if len(body) <= limit:
        return len(body)
    marks = (b",", b":", b"[", b"{")
    count = 1 + sum(body.count(mark) for mark in marks)
    if count <= limit:
        return count
    # Only a body this dense pays for finding its strings, whose commas do not count.
    framing = _JSON_STRING.sub(b"", body)
    count = 1 + sum(framing.count(mark) for mark in marks)
    if count > limit:
        raise TooManyItems
    return count


_PACKED_SIZES: Final = {
    FieldDescriptor.TYPE_DOUBLE: 8,
    FieldDescriptor.TYPE_FIXED64: 8,
    FieldDescriptor.TYPE_SFIXED64: 8,
    FieldDescriptor.TYPE_FLOAT: 4,
    FieldDescriptor.TYPE_FIXED32: 4,
    FieldDescriptor.TYPE_SFIXED32: 4,
}
_TEXT_TYPES: Final = frozenset({FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES})
OTLP_REQUESTS: Final = {
    "traces": ExportTraceServiceRequest.DESCRIPTOR,
    "metrics": ExportMetricsServiceRequest.DESCRIPTOR,
    "logs": ExportLogsServiceRequest.DESCRIPTOR,
}


def _varint(body: memoryview, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = body[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7
        if shift > 63:
            raise _Unreadable


def _skip_scalar(data: memoryview, position: int, wire: int) -> int:
    """Where the value of a field of wire type `wire` (other than length-delimited) ends."""
    if wire == 0:
        return _varint(data, position)[1]
    if wire == 1:
        return position + 8
    if wire == 5:
        return position + 4
    raise _Unreadable  # groups (3, 4) are in no OTLP message; 6 and 7 are not wire types


def protobuf_items(body: bytes, request: Descriptor, limit: int = MAX_ITEMS) -> int:
    """At least the number of values protobuf `body`, a `request` message, becomes: each
    field, counting into every nested message (without recursion, so any depth), each element
    of a packed list, and `EVENT_WEIGHT` more for each message that becomes an event, however
    empty; `TooManyItems` past `limit`."""
    # Such a message takes at least two bytes (its tag and length).
    if len(body) * (1 + EVENT_WEIGHT // 2) <= limit:
        return len(body)
    count = 0
    data = memoryview(body)
    position, end, fields = 0, len(data), _fields(request)
    # Where each enclosing message ends, and its fields: a nested message is walked when met,
    # so what is held grows with the nesting, not with the number of messages.
    enclosing: list[tuple[int, _Fields]] = []
    try:
        while True:
            if position >= end:
                if not enclosing:
                    break
                end, fields = enclosing.pop()
                continue
            key, position = _varint(data, position)
            count += 1
            if count > limit:
                raise TooManyItems
            if key & 7 != 2:
                position = _skip_scalar(data, position, key & 7)
                continue
            length, position = _varint(data, position)
            inside = fields.get(key >> 3)
            if isinstance(inside, tuple):
                weight, nested = inside
                count += weight
                if length:
                    enclosing.append((end, fields))
                    end, fields = position + length, nested
                    continue
            elif inside is not None:
                count += length // inside
            position += length
    except (IndexError, _Unreadable):
        pass
    if count > limit:
        raise TooManyItems
    return count


EVENT_WEIGHT: Final = 16
"""What an OTLP span, span event, link, log record or data point counts besides its fields:
about the fields every event it becomes has (ids, name, duration, kind, ...)."""

_EVENT_MESSAGES: Final = frozenset(
    {
        "opentelemetry.proto.trace.v1.Span",
        "opentelemetry.proto.trace.v1.Span.Event",
        "opentelemetry.proto.trace.v1.Span.Link",
        "opentelemetry.proto.logs.v1.LogRecord",
        "opentelemetry.proto.metrics.v1.NumberDataPoint",
        "opentelemetry.proto.metrics.v1.HistogramDataPoint",
        "opentelemetry.proto.metrics.v1.ExponentialHistogramDataPoint",
        "opentelemetry.proto.metrics.v1.SummaryDataPoint",
    }
)

# Per message type, by field number: for a nested message what it counts besides its fields
# and its own table, or for a packed list of numbers the bytes an element takes at least.
_Fields = dict[int, "tuple[int, _Fields] | int"]
_tables: dict[str, _Fields] = {}


def _fields(message: Descriptor) -> _Fields:
    """The field table of `message`, built once per type (OTLP's types refer to each other:
    ``AnyValue`` holds arrays of ``AnyValue``)."""
    table = _tables.get(message.full_name)
    if table is not None:
        return table
    table = _tables[message.full_name] = {}
    for field in message.fields:
        nested = field.message_type
        if nested is not None:
            weight = EVENT_WEIGHT if nested.full_name in _EVENT_MESSAGES else 0
            table[field.number] = (weight, _fields(nested))
        elif field.is_repeated and field.type not in _TEXT_TYPES:
            # A packed list of numbers: each element becomes a Python number.
            table[field.number] = _PACKED_SIZES.get(field.type, 1)
    return table
