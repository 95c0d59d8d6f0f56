"""Honeycomb's limits, enforced before an event leaves the process: the one place that says
whether an event meets them, and makes it so.

Honeycomb would otherwise reject or silently cut an event on arrival. Here every change is a
documented transformation that is counted in a `LimitTally`, and dropping fields is recorded on
the event itself as ``meta.dropped_fields``. An event is never dropped for its size.

The OpenTelemetry mappings ask `value_within_limits` and `fields_within_limits` as they build an
event, and `mapped_event` marks it `BatchEvent.within_limits` with their answer; the encoder
trusts the mark, and asks the same of other events (`data_within_limits`). An event whose
fields are not within the limits goes the careful way, `EventFit.limited`: `sanitize_fields`,
then its largest fields dropped until it fits the event size.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Final

import msgspec

from ._encodable import (
    MAX_INT,
    MIN_INT,
    UNKNOWN,
    encode_safely,
    has_surrogates,
    replace_surrogates,
    text_of,
    to_builtin,
)
from ._model import BatchEvent

MAX_FIELDS: Final = 2_000
MAX_STRING_BYTES: Final = 65_535
MAX_EVENT_BYTES: Final = 1_000_000
MAX_BODY_BYTES: Final = 5_000_000
DROPPED_FIELDS: Final = "meta.dropped_fields"

# A str of at most this many characters is at most MAX_STRING_BYTES in UTF-8 (4 bytes a
# character at worst), so the common short string needs no encoding to be checked.
_ALWAYS_SHORT_CHARS: Final = MAX_STRING_BYTES // 4

NON_FINITE_TEXT: Final = {math.inf: "Infinity", -math.inf: "-Infinity"}


@dataclass(slots=True)
class LimitTally:
    """How many values, fields and events the limits changed; one per batch, then summed.

    Besides the encoder's changes: strings whose lone surrogates became U+FFFD; and, made by
    the OpenTelemetry mappings (limits.md, "Attribute values"), nested values cut at a
    self-reference or too deep, fields dropped because their value or key could not be
    converted, items (spans, span events, links, log records, metric points) with parts that
    could not be read, sent with the fields that could, and items that could not be mapped at
    all (which the mappings are built never to meet).
    """

    strings_truncated: int = 0
    non_finite_floats: int = 0
    values_converted: int = 0
    fields_dropped: int = 0
    events_shrunk: int = 0
    surrogates_replaced: int = 0
    values_cut: int = 0
    values_dropped: int = 0
    items_salvaged: int = 0
    items_dropped: int = 0

    def add(self, other: LimitTally) -> None:
        for field in fields(self):
            name = field.name
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def add_counts(self, counts: Mapping[str, int]) -> None:
        """Add counts kept by name (a mapping's per-item `collections.Counter`)."""
        for name, count in counts.items():
            setattr(self, name, getattr(self, name) + count)

    def __bool__(self) -> bool:
        return any(getattr(self, field.name) for field in fields(self))


def truncate_utf8(text: str, max_bytes: int = MAX_STRING_BYTES) -> str:
    """`text` cut to at most `max_bytes` of UTF-8, never inside a character."""
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max_bytes].decode("utf-8", "ignore")


def non_finite_text(value: float) -> str:
    """NaN and infinities are not JSON; Honeycomb gets them as these strings."""
    return NON_FINITE_TEXT.get(value, "NaN")


def value_within_limits(value: Any) -> bool:
    """Whether Honeycomb takes `value` as it is (a string's length aside): a string or bool, an
    integer that 64 bits hold (signed or unsigned), a finite float; of exactly those types."""
    cls = type(value)
    if cls is str or cls is bool:
        return True
    if cls is int:
        return bool(MIN_INT <= value <= MAX_INT)
    if cls is float:
        return math.isfinite(value)
    return False


def fields_within_limits(fields: Mapping[Any, Any], keys_checked: bool = False) -> bool:
    """`value_within_limits` of every value, and every key a non-empty string, in one loop of
    exact-type tests (the mappings ask it of every span's attributes). `keys_checked` skips
    the keys, known good (the SDK's `BoundedAttributes` takes no other). Raises whatever the
    mapping's own methods raise."""
    for key, value in fields.items():
        if not keys_checked and (type(key) is not str or not key):
            return False
        cls = type(value)
        if cls is str or cls is bool:
            continue
        if cls is int:
            if not MIN_INT <= value <= MAX_INT:
                return False
        elif cls is not float or value - value != 0.0:  # NaN or an infinity, without a call
            return False
    return True


def data_within_limits(data: Mapping[Any, Any]) -> bool:
    """`fields_within_limits`, and no more than `MAX_FIELDS` fields: the answer a mapping gives
    as it builds an event, asked of an event's data after the fact (the events client's)."""
    return len(data) <= MAX_FIELDS and fields_within_limits(data)


SMALL_EVENT_BYTES: Final = MAX_STRING_BYTES
"""An event whose fields are within the limits (`fields_within_limits`) and whose encoding (JSON
or msgpack) is at most this long meets every limit as it is: none of its strings can be longer,
and it is far below `MAX_EVENT_BYTES`, even as JSON (at most six bytes of JSON for one of
msgpack). A lone surrogate in a string makes the encoding fail instead, and the event goes the
careful way."""


class _WithinLimits(BatchEvent):
    """An event `mapped_event` found within the limits: only this module makes one."""

    __slots__ = ()
    within_limits: ClassVar[bool] = True


def mapped_event(
    data: dict[str, Any], time: str | None, samplerate: int | None, *, within_limits: bool
) -> BatchEvent:
    """The event an OpenTelemetry mapping built, from values already normalized.

    `within_limits` is the mapping's answer, made of `value_within_limits` and
    `fields_within_limits` for each field it added. The event carries it as
    `BatchEvent.within_limits` when it also has no more than `MAX_FIELDS` fields.
    """
    cls = _WithinLimits if within_limits and len(data) <= MAX_FIELDS else BatchEvent
    event = cls.__new__(cls)  # as `BatchEvent.trusted` makes one, a call less for every event
    event.data = data
    event.time = time
    event.samplerate = samplerate
    return event


def sanitize_fields(data: Mapping[Any, Any], tally: LimitTally) -> dict[str, Any]:  # noqa: PLR0912
    # One flat loop with exact-type tests: this runs for every field of every event.
    """A copy of `data` that Honeycomb accepts as it is.

    - `None` values and empty keys are skipped (Honeycomb stores nothing for them);
      a key that is not a string becomes the text msgspec writes for it (else its `str()`);
      when two keys end up the same, the later one wins.
    - Strings over 65,535 bytes are truncated on a UTF-8 character boundary.
    - NaN and infinities become "NaN", "Infinity", "-Infinity".
    - Integers outside the 64-bit range become their decimal text.
    - bytes, datetimes, UUIDs, Decimals, enums, tuples, sets and dataclasses become what
      msgspec's JSON encoder writes for them (base64, RFC3339, text, value, list, object);
      values of any other type become their `str()`. Lists and dicts are kept, as nested
      JSON that Honeycomb can unpack.
    - A key or value whose conversion raises (a `__str__` that fails, say) is dropped and
      counted in ``meta.dropped_fields``: one bad value never costs its event.
    - Past 2,000 fields, the first 1,999 are kept in order and ``meta.dropped_fields`` counts
      the rest.
    """
    out: dict[str, Any] = {}
    unconvertible = 0
    for key, value in data.items():
        if value is None:
            continue
        if type(key) is not str:
            try:
                key = text_of(key)  # noqa: PLW2901 - the normalized key replaces the given one
            except Exception:  # a key whose text cannot be made costs its own field only
                unconvertible += 1
                continue
        if not key:
            continue
        if not key.isascii() and has_surrogates(key):
            key = _without_surrogates(key, tally)  # noqa: PLW2901
        cls = type(value)
        if cls is str:
            if not value.isascii() and has_surrogates(value):
                value = _without_surrogates(value, tally)  # noqa: PLW2901
            if len(value) > _ALWAYS_SHORT_CHARS:
                value = _limit_string(value, tally)  # noqa: PLW2901
        elif cls is float:
            if value - value != 0.0:  # NaN or an infinity, without a function call
                value = non_finite_text(value)  # noqa: PLW2901
                tally.non_finite_floats += 1
        elif cls is bool:
            pass
        elif cls is int:
            if not MIN_INT <= value <= MAX_INT:
                try:
                    value = str(value)  # noqa: PLW2901
                except ValueError:  # past Python's 4,300 digits: no text to send
                    unconvertible += 1
                    continue
                tally.values_converted += 1
        else:
            try:
                value = _convert(value, tally)  # noqa: PLW2901
            except Exception:  # str() raised, say: the field goes, the event stays
                unconvertible += 1
                continue
        out[key] = value
    if unconvertible:
        tally.values_dropped += unconvertible
        out[DROPPED_FIELDS] = dropped_count(out.pop(DROPPED_FIELDS, 0), unconvertible)
    if len(out) > MAX_FIELDS:
        return _cap_fields(out, tally)
    return out


def _without_surrogates(text: str, tally: LimitTally) -> str:
    tally.surrogates_replaced += 1
    return replace_surrogates(text)


def _limit_string(value: str, tally: LimitTally) -> str:
    limited = truncate_utf8(value)
    if limited is not value:
        tally.strings_truncated += 1
    return limited


def _convert(value: Any, tally: LimitTally) -> Any:  # noqa: PLR0911 - one return per kind
    """Values of other types: subclasses of the JSON scalars, containers, and the rest."""
    if isinstance(value, str):
        text = str.__str__(value)
        if has_surrogates(text):
            text = _without_surrogates(text, tally)
        return _limit_string(text, tally)
    if isinstance(value, int):
        number = int(value)
        if MIN_INT <= number <= MAX_INT:
            return number
        tally.values_converted += 1
        return str(number)
    if isinstance(value, float):
        real = float(value)
        if math.isfinite(real):
            return real
        tally.non_finite_floats += 1
        return non_finite_text(real)
    if isinstance(value, (list, dict)):
        return value
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    builtin = to_builtin(value)
    if builtin is UNKNOWN:
        tally.values_converted += 1
        return _limit_string(str(value), tally)
    return _limit_string(builtin, tally) if isinstance(builtin, str) else builtin


def _cap_fields(out: dict[str, Any], tally: LimitTally) -> dict[str, Any]:
    already_dropped = out.pop(DROPPED_FIELDS, 0)
    dropped = len(out) - (MAX_FIELDS - 1)
    kept = dict(itertools.islice(out.items(), MAX_FIELDS - 1))
    kept[DROPPED_FIELDS] = dropped_count(already_dropped, dropped)
    tally.fields_dropped += dropped
    return kept


def dropped_count(existing: Any, dropped: int) -> int:
    """``meta.dropped_fields`` after `dropped` more: an existing value counts only when it is
    an int from 0 to the largest 64-bit one, and the sum stops there."""
    earlier = existing if type(existing) is int and 0 <= existing <= MAX_INT else 0
    return min(earlier + dropped, MAX_INT)


def shrink_to_fit(
    fields_: dict[str, Any],
    encoded_size: int,
    size_of: Callable[[Any], int],
    tally: LimitTally,
    *,
    budget: int = MAX_EVENT_BYTES,
    protected: Collection[str] = (),
) -> dict[str, Any]:
    """Drop the largest fields until the event's estimated JSON size is within `budget`.

    Fields named in `protected` (an exporter's identifying fields, such as trace ids) go last.
    `size_of` gives a value's size in JSON; the caller re-encodes the result and checks it,
    and may call again if the estimate fell short. ``meta.dropped_fields`` says how many went.
    """
    # Room for the meta.dropped_fields entry itself, whatever its count.
    target = budget - 64
    sizes = {key: size_of(key) + size_of(value) + 2 for key, value in fields_.items()}
    order = sorted(
        (key for key in fields_ if key != DROPPED_FIELDS),
        key=lambda key: (key in protected, -sizes[key]),
    )
    remaining = encoded_size
    drop: set[str] = set()
    for key in order:
        if remaining <= target:
            break
        drop.add(key)
        remaining -= sizes[key]
    kept = {key: value for key, value in fields_.items() if key not in drop}
    kept[DROPPED_FIELDS] = dropped_count(kept.pop(DROPPED_FIELDS, 0), len(drop))
    tally.fields_dropped += len(drop)
    return kept


# The careful way, for every event not marked within the limits: each field checked, then the
# event's size.

_JSON: Final = msgspec.json.Encoder(enc_hook=str)
"""JSON as the encoder writes it, a nested value of an unknown type as its text: Honeycomb
counts the event limit in bytes of JSON, whatever encoding carries the event."""

# JSON is at most this many times longer than msgpack for the same event: an escaped control
# character is 6 bytes of JSON for 1 of msgpack, and nothing else expands more.
_JSON_PER_MSGPACK_BYTE: Final = 6


def wire_item(data: Mapping[str, Any], event: BatchEvent) -> dict[str, Any]:
    """An event as the batch endpoint takes it: data, and time and samplerate when set."""
    wire: dict[str, Any] = {"data": data}
    if event.time is not None:
        wire["time"] = event.time
    if event.samplerate is not None:
        wire["samplerate"] = event.samplerate
    return wire


@dataclass(frozen=True, slots=True)
class EventFit:
    """How an event is made to fit the event limit: its largest fields dropped (`protected`
    last) until its JSON is within `budget`, then encoded by `encode` (JSON, or msgpack when
    not `json_encoded`)."""

    encode: Callable[[Any], bytes] = _JSON.encode
    json_encoded: bool = True
    budget: int = MAX_EVENT_BYTES
    protected: Collection[str] = ()

    def limited(self, event: BatchEvent, tally: LimitTally) -> tuple[dict[str, Any], bytes]:
        """`event`'s fields after every limit (`sanitize_fields`, then `fitted`), and the event
        encoded with them.

        An event whose fields cannot even be read (a mapping whose ``items()`` raises) keeps
        its place as ``{"meta.dropped_fields": 1}`` with its time and sample rate: no other
        event pays.
        """
        try:
            fields = sanitize_fields(event.data, tally)
            return self.fitted(fields, lambda kept: wire_item(kept, event), tally)
        except Exception:
            tally.values_dropped += 1
            lost: dict[str, Any] = {DROPPED_FIELDS: 1}
            return lost, self.encode(wire_item(lost, event))

    def fitted(
        self,
        fields: dict[str, Any],
        wire_of: Callable[[dict[str, Any]], Any],
        tally: LimitTally,
    ) -> tuple[dict[str, Any], bytes]:
        """`fields` with the largest dropped (`shrink_to_fit`) until the JSON of the event
        `wire_of` makes of them fits, and that event encoded."""
        shrunk = False
        counting: LimitTally | None = tally  # what the fallback replaces counts once
        while True:
            wire = wire_of(fields)
            encoded = encode_safely(self.encode, wire, counting)
            counting = None
            size = len(encoded)
            if not self.json_encoded and size * _JSON_PER_MSGPACK_BYTE > self.budget:
                size = _json_size(wire)
            if size <= self.budget or fields.keys() <= {DROPPED_FIELDS}:
                if shrunk:
                    tally.events_shrunk += 1
                return fields, encoded
            fields = shrink_to_fit(
                fields, size, _json_size, tally, budget=self.budget, protected=self.protected
            )
            shrunk = True


_SENT_AS_JSON: Final = EventFit()


def limited_fields(event: BatchEvent, tally: LimitTally) -> Mapping[str, Any]:
    """The fields `event` is sent with as JSON: its own when they are within the limits and the
    event is small, else what `EventFit.limited` makes of them.

    For fields of scalar values, which are all the OpenTelemetry mappings make, these are
    exactly what decoding the sent JSON gives back: the receiver stores what arrives over OTLP
    as the exporters would send it, without encoding and decoding it.
    """
    # As the encoder decides it (`BatchEncoder.encode_events`).
    try:
        within = event.within_limits or data_within_limits(event.data)
        as_it_is = within and len(_JSON.encode(wire_item(event.data, event))) <= SMALL_EVENT_BYTES
    except Exception:  # a lone surrogate, a mapping whose methods raise: the careful way
        as_it_is = False
    return event.data if as_it_is else _SENT_AS_JSON.limited(event, tally)[0]


def _json_size(value: Any) -> int:
    return len(encode_safely(_JSON.encode, value))
