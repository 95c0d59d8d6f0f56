"""The event model: `BatchEvent`, `EventResult`, and event times as Honeycomb takes them.

Times travel as RFC3339 strings in UTC with nanosecond digits. Internally a time is an integer
count of nanoseconds since the Unix epoch, which is what OpenTelemetry hands us for spans.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import functools
import math
import re
import time as _time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final, TypeAlias

TimeInput: TypeAlias = "_dt.datetime | str | int | float"
"""What an event time may be given as: a datetime, an RFC3339 string or a Unix epoch number."""

MAX_SAMPLERATE: Final = 2_147_483_647

_NANOS_PER_SECOND: Final = 1_000_000_000

# Honeycomb reads an epoch number by its magnitude (its docs show seconds and milliseconds).
# Seconds stay below 1e11 until the year 5138, milliseconds pass 1e11 in 1973, and so on.
_EPOCH_UNIT_BOUNDS: Final = (
    (1e11, _NANOS_PER_SECOND),
    (1e14, 1_000_000),
    (1e17, 1_000),
)

_RFC3339: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})"
)


# Event times are nanoseconds in a signed 64-bit integer, as in Honeycomb's storage and OTel:
# from 1677-09-21 to 2262-04-11.
MIN_TIME_NS: Final = -(2**63)
MAX_TIME_NS: Final = 2**63 - 1


@functools.lru_cache(maxsize=4096)
def _second_prefix(seconds: int) -> str:
    t = _time.gmtime(seconds)
    # strftime("%Y") does not pad years before 1000 on every platform.
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
        f"T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    )


def format_time_ns(nanos: int) -> str:
    """RFC3339 in UTC with nine fractional digits, e.g. ``2024-05-01T12:00:00.123456789Z``.

    The date-and-seconds part is cached, since events of one batch share a handful of seconds.
    """
    global _last_second  # noqa: PLW0603 - one tuple, replaced whole: safe across threads
    seconds, fraction = divmod(nanos, _NANOS_PER_SECOND)
    last = _last_second
    if last[0] != seconds:
        last = _last_second = (seconds, _second_prefix(seconds) + ".")
    # The nine digits of the fraction, zeros ahead: those of a number with a 1 ahead of them.
    return f"{last[1]}{str(fraction + _NANOS_PER_SECOND)[1:]}Z"


# The second of the last time formatted: events of a batch come mostly in time order.
_last_second: tuple[int, str] = (0, _second_prefix(0) + ".")


def parse_rfc3339_ns(text: str) -> int:
    """Nanoseconds since the epoch for an RFC3339 timestamp; `ValueError` if it is not one."""
    match = _RFC3339.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            f"time {text!r} is not an RFC3339 timestamp such as 2024-05-01T12:00:00.123Z"
        )
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, offset = match.group(7) or "", match.group(8)
    if second > 60:  # 60 is a leap second, which timegm carries into the next minute
        raise ValueError(f"time {text!r} has an impossible second")
    # datetime validates the calendar (no 31st of April); timegm does the arithmetic.
    _dt.datetime(year, month, day, hour, minute, min(second, 59))
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    if offset not in ("Z", "z"):
        offset_hours, offset_minutes = int(offset[1:3]), int(offset[4:6])
        if offset_hours > 23 or offset_minutes > 59:
            raise ValueError(f"time {text!r} has an impossible UTC offset")
        sign = 1 if offset[0] == "+" else -1
        seconds -= sign * (offset_hours * 3600 + offset_minutes * 60)
    return _in_range(seconds * _NANOS_PER_SECOND + int(fraction[:9].ljust(9, "0")), text)


def _in_range(nanos: int, given: object) -> int:
    if not MIN_TIME_NS <= nanos <= MAX_TIME_NS:
        raise ValueError(
            f"time {given!r} is outside the range Honeycomb stores (years 1677 to 2262)"
        )
    return nanos


def epoch_to_ns(value: float) -> int:
    """Nanoseconds for a Unix epoch number given in seconds, ms, µs or ns (read by magnitude).

    A float is exact to the microsecond; an int to its unit.
    """
    if not math.isfinite(value):
        raise ValueError(f"time {value!r} is not a finite number")
    if isinstance(value, float) and abs(value) < _EPOCH_UNIT_BOUNDS[0][0]:
        # Seconds, as time.time() gives: exact to the microsecond in one multiplication.
        return _in_range(round(value * 1e6) * 1000, value)
    nanos_per_unit = 1
    for bound, unit in _EPOCH_UNIT_BOUNDS:
        if abs(value) < bound:
            nanos_per_unit = unit
            break
    if isinstance(value, int):
        return _in_range(value * nanos_per_unit, value)
    # A float epoch today resolves about a quarter of a microsecond, so digits below the
    # microsecond are noise: the whole units are exact, the fraction is rounded to 1 µs.
    whole = math.floor(value)
    fraction_us = round((value - whole) * nanos_per_unit / 1000)
    return _in_range(whole * nanos_per_unit + fraction_us * 1000, value)


def datetime_to_ns(value: _dt.datetime) -> int:
    """Nanoseconds for a datetime; a naive datetime is taken as UTC, as Honeycomb would."""
    if value.tzinfo is not None:
        offset = value.utcoffset() or _dt.timedelta(0)
        value = value.replace(tzinfo=None)
    else:
        offset = _dt.timedelta(0)
    # timegm and timedelta arithmetic never overflow, unlike astimezone near year 1 or 9999.
    seconds = calendar.timegm(value.timetuple()) - int(offset.total_seconds())
    return _in_range(seconds * _NANOS_PER_SECOND + value.microsecond * 1000, value)


def time_to_ns(value: TimeInput) -> int:
    """Nanoseconds since the epoch for any accepted time input; `TypeError`/`ValueError` else."""
    if isinstance(value, _dt.datetime):
        return datetime_to_ns(value)
    if isinstance(value, str):
        return parse_rfc3339_ns(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return epoch_to_ns(value)
    raise TypeError(
        "time must be a datetime, an RFC3339 string or a Unix epoch number, "
        f"not {type(value).__name__}"
    )


# A float of seconds nearer the epoch than this is nanoseconds that a signed 64-bit integer
# holds: `time.time()`, the usual event time, needs none of `time_to_ns`'s dispatch and checks.
_FLOAT_SECONDS_IN_RANGE: Final = 9.2e9

# The last such float and its text, one tuple that threads replace whole: the events of a batch
# often share one `time.time()`. NaN equals nothing, so the first time is formatted.
_last_seconds: Final = [(math.nan, "")]


def normalize_time(value: TimeInput) -> str:
    """The RFC3339 text Honeycomb receives for any accepted time input."""
    if type(value) is float and -_FLOAT_SECONDS_IN_RANGE < value < _FLOAT_SECONDS_IN_RANGE:
        # As `epoch_to_ns` reads seconds; a NaN fails the comparison and goes the long way.
        last, text = _last_seconds[0]
        if value != last:
            text = format_time_ns(round(value * 1e6) * 1000)
            _last_seconds[0] = (value, text)
        return text
    return format_time_ns(time_to_ns(value))


def now_rfc3339() -> str:
    return format_time_ns(_time.time_ns())


def normalize_samplerate(value: object) -> int:
    """A sample rate as the positive integer Honeycomb expects; `ValueError`/`TypeError` else.

    A float is rounded to the nearest integer (Honeycomb stores an integer).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"samplerate must be an integer, not {type(value).__name__}")
    rate = value
    if isinstance(rate, float):
        if not math.isfinite(rate):
            raise ValueError(f"samplerate must be finite, not {value!r}")
        rate = round(rate)
    if not 1 <= rate <= MAX_SAMPLERATE:
        raise ValueError(f"samplerate must be from 1 to {MAX_SAMPLERATE}, not {value!r}")
    return int(rate)


class BatchEvent:
    """One event of a batch: its fields, and optionally when it happened and its sample rate.

    `time` accepts a `datetime` (naive means UTC), an RFC3339 string, or a Unix epoch number in
    seconds, milliseconds, microseconds or nanoseconds (told apart by magnitude). It is stored
    normalized, as the RFC3339 UTC text with nanosecond digits that goes on the wire. Without a
    time, Honeycomb stamps the event when it arrives. Bad times and sample rates raise here, in
    the caller's code, rather than failing later in a background thread.
    """

    __slots__ = ("data", "samplerate", "time")

    data: Mapping[str, Any]
    time: str | None
    samplerate: int | None

    within_limits: ClassVar[bool] = False
    """True for an event whose fields already meet Honeycomb's per-field limits, as
    `_limits.mapped_event` answered for an event an OpenTelemetry mapping built: every key a
    non-empty string, every value a string, bool, 64-bit integer or finite float, at most
    `MAX_FIELDS` fields. Only a string's length and its lone surrogates are left unchecked,
    which the encoder finds as it writes the event. The encoder then skips its per-field
    checks. False for every event made any other way; read-only."""

    written: ClassVar[bytes | None] = None
    """The event's bytes as a batch body carries them, for an event written when it was queued
    (`BatchEncoder.written`): the encoder copies them instead of writing the event again.
    None for every other event; read-only."""

    def __init__(
        self,
        data: Mapping[str, Any],
        time: TimeInput | None = None,
        samplerate: int | float | None = None,
    ) -> None:
        if type(data) is not dict and not isinstance(data, Mapping):  # the ABC check is slow
            raise TypeError(f"data must be a mapping of field names to values, not {type(data)}")
        self.data = data
        self.time = None if time is None else normalize_time(time)
        self.samplerate = None if samplerate is None else normalize_samplerate(samplerate)

    @classmethod
    def trusted(
        cls, data: Mapping[str, Any], time: str | None, samplerate: int | None
    ) -> BatchEvent:
        """Build an event from values already normalized (the hot paths of the mappings, the
        buffered sender and the command line): nothing is checked again."""
        event = cls.__new__(cls)
        event.data = data
        event.time = time
        event.samplerate = samplerate
        return event

    def __repr__(self) -> str:
        return f"BatchEvent(data={self.data!r}, time={self.time!r}, samplerate={self.samplerate!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BatchEvent):
            return NotImplemented
        return (self.data, self.time, self.samplerate) == (
            other.data,
            other.time,
            other.samplerate,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable data: not hashable


@dataclass(frozen=True, slots=True)
class EventResult:
    """What became of one event.

    `status` is the HTTP status Honeycomb gave the event (202 accepted in a batch, 200 for the
    single-event endpoint), or 0 when no answer came back at all (connection failure, deadline
    passed, transport shut down); `error` then says why.
    """

    status: int
    error: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


ACCEPTED: Final = EventResult(202)
