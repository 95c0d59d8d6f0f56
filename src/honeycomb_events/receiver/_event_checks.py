"""Honeycomb's per-event checks and repairs, for both Events API endpoints: fields, size, time
and sample rate. Counts of each repair go to the request's counter."""

from __future__ import annotations

import collections
import datetime as _dt
from typing import Any, Final

import msgspec

from honeycomb_events._limits import MAX_EVENT_BYTES, MAX_FIELDS, MAX_STRING_BYTES, truncate_utf8
from honeycomb_events._model import datetime_to_ns, epoch_to_ns, parse_rfc3339_ns

from ._errors import ErrorText, Reject
from ._stored_event import StoredEvent

MAX_FUTURE_NS: Final = 3600 * 1_000_000_000
"""Honeycomb replaces event times more than an hour ahead of its clock with the receipt time."""

_INT64: Final = range(-(2**63), 2**63)  # what SQLite can store as an integer
_size_encoder: Final = msgspec.json.Encoder()


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
        raise Reject(400, ErrorText.BAD_SAMPLERATE, "bad_samplerates")
    if value < 1:
        counts["bad_samplerates"] += 1
        return 1
    return value


def check_event(
    dataset: str,
    data: object,
    *,
    time_value: object,
    samplerate_value: object,
    received_ns: int,
    counts: collections.Counter[str],
) -> StoredEvent:
    """The event to store, after Honeycomb's per-event checks and repairs; or a `Reject`."""
    if data is None:
        raise Reject(400, ErrorText.NO_DATA, "missing_data")
    if not isinstance(data, dict) or not all(isinstance(key, str) for key in data):
        raise Reject(400, ErrorText.MALFORMED, "malformed_events")
    if len(data) > MAX_FIELDS:
        raise Reject(400, ErrorText.TOO_MANY_COLUMNS, "too_many_columns")
    try:
        size = len(_size_encoder.encode(data))
    except (msgspec.MsgspecError, TypeError, ValueError, OverflowError) as exc:
        raise Reject(400, ErrorText.MALFORMED, "malformed_events") from exc
    if size > MAX_EVENT_BYTES:
        raise Reject(400, ErrorText.EVENT_TOO_LARGE, "events_too_large")
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


def header_samplerate(value: str | None) -> object:
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
