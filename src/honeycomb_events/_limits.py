"""Honeycomb's limits, enforced before an event leaves the process.

Honeycomb would otherwise reject or silently cut an event on arrival. Here every change is a
documented transformation that is counted in a `LimitTally`, and dropping fields is recorded on
the event itself as ``meta.dropped_fields``. An event is never dropped for its size.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, fields
from typing import Any, Final

import msgspec

MAX_FIELDS: Final = 2_000
MAX_STRING_BYTES: Final = 65_535
MAX_EVENT_BYTES: Final = 1_000_000
MAX_BODY_BYTES: Final = 5_000_000
DROPPED_FIELDS: Final = "meta.dropped_fields"

# A str of at most this many characters is at most MAX_STRING_BYTES in UTF-8 (4 bytes a
# character at worst), so the common short string needs no encoding to be checked.
_ALWAYS_SHORT_CHARS: Final = MAX_STRING_BYTES // 4

# What a 64-bit signed or unsigned number holds.
MIN_INT: Final = -(2**63)
MAX_INT: Final = 2**64 - 1

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


_SURROGATE: Final = re.compile("[\ud800-\udfff]")
REPLACEMENT_CHARACTER: Final = "\ufffd"


def has_surrogates(text: str) -> bool:
    """Whether `text` holds a lone surrogate, which UTF-8 (and so JSON and msgpack) cannot
    carry: Python makes them for undecodable bytes (``surrogateescape``)."""
    return not text.isascii() and _SURROGATE.search(text) is not None


def replace_surrogates(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD, as Go (and so Honeycomb) replaces
    each invalid UTF-8 sequence."""
    return _SURROGATE.sub(REPLACEMENT_CHARACTER, text)


def non_finite_text(value: float) -> str:
    """NaN and infinities are not JSON; Honeycomb gets them as these strings."""
    return NON_FINITE_TEXT.get(value, "NaN")


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


UNKNOWN: Final = object()


class _UnknownType(Exception):
    pass


def _refuse_unknown(value: Any) -> Any:
    raise _UnknownType


def to_builtin(value: Any) -> Any:
    """`value` as msgspec's JSON encoder would write it, as a plain Python value.

    bytes, datetimes, UUIDs, Decimals, enums and dataclasses become what msgspec writes for
    them (base64, RFC3339, text, their value, an object), so an event reads the same whichever
    path encoded it. A value of a type msgspec does not know gives the `UNKNOWN` marker.
    """
    try:
        return msgspec.to_builtins(value, enc_hook=_refuse_unknown)
    except _UnknownType:
        return UNKNOWN


def text_of(key: Any) -> str:
    """A field name for a key that is not a string, as msgspec would write it."""
    builtin = to_builtin(key)
    return builtin if isinstance(builtin, str) else str(key)


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
