"""Reading the parts of SDK objects that may not be what the SDK makes: a hand-built
`ReadableSpan`, a log record from another library, a `MetricsData` assembled by a bridge.

Each reader takes what it is given and answers with a part the mappings can use, or with
`MISSING` where there is none; nothing here raises. Ids and times are read as Honeycomb reads
them from OTLP.
"""

from __future__ import annotations

from typing import Any, Final

from honeycomb_events._model import MAX_TIME_NS, MIN_TIME_NS

MISSING: Final[Any] = type("Missing", (), {"__repr__": lambda self: "MISSING"})()
"""A part that could not be read, or is not what it must be."""

_TRACE_ID_LIMIT: Final = 1 << 128
_SPAN_ID_LIMIT: Final = 1 << 64
_UINT64: Final = 1 << 64


def trace_id_hex(trace_id: int) -> str:
    """Lowercase hex; a 128-bit id whose upper 64 bits are zero is written as 16 characters.
    `OverflowError` for an id that is negative or wider than 128 bits (no SDK makes one: the
    span is then read part by part, without it)."""
    return trace_id.to_bytes(8 if trace_id >> 64 == 0 else 16, "big").hex()


def span_id_hex(span_id: int) -> str:
    """16 lowercase hex characters; `OverflowError` past 64 bits or below 0."""
    return span_id.to_bytes(8, "big").hex()


def read(obj: Any, name: str) -> Any:
    """``obj.name``, or `MISSING` when reading it raises."""
    try:
        return getattr(obj, name)
    except Exception:
        return MISSING


def trace_id_of(value: Any) -> Any:
    """A trace id as the integer of its 16 bytes, or `MISSING`."""
    return value if type(value) is int and 0 <= value < _TRACE_ID_LIMIT else MISSING


def span_id_of(value: Any) -> Any:
    """A span id as the integer of its 8 bytes, or `MISSING`."""
    return value if type(value) is int and 0 <= value < _SPAN_ID_LIMIT else MISSING


def time_of(value: Any) -> Any:
    """Nanoseconds since the epoch as Honeycomb reads an OTLP time, or `MISSING`.

    OTLP carries an unsigned 64-bit count; Honeycomb reads it as a signed one, so a count past
    2^63 - 1 is a time before 1970, as there. A finite float is taken to the nanosecond.
    """
    if type(value) is float and value - value == 0.0:
        value = int(value)
    if type(value) is not int and not (isinstance(value, int) and not isinstance(value, bool)):
        return MISSING
    value = int(value)
    if MIN_TIME_NS <= value <= MAX_TIME_NS:
        return value
    if MAX_TIME_NS < value < _UINT64:
        return value - _UINT64
    return MISSING
