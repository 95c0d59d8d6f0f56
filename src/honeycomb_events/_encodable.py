"""What every encoder can write: Python values in the plain forms msgspec writes them in, and
copies of anything else that encode.

Shared by Honeycomb's limits (`_limits`), which convert field values into these forms, and the
encoder (`_encode`), which falls back to `encodable` copies when msgspec refuses an event.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

import msgspec

if TYPE_CHECKING:
    from ._limits import LimitTally

# What a 64-bit signed or unsigned number holds.
MIN_INT: Final = -(2**63)
MAX_INT: Final = 2**64 - 1

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


# ValueError: an integer past Python's 4,300 digits, which msgspec will not write either.
ENCODE_ERRORS: Final = (
    msgspec.EncodeError,
    TypeError,
    UnicodeEncodeError,
    OverflowError,
    ValueError,
)


def encode_safely(
    encode: Callable[[Any], bytes], value: Any, tally: LimitTally | None = None
) -> bytes:
    """`value` encoded; if msgspec refuses it (a lone surrogate inside a list, say), its
    `encodable` copy encoded, what that replaced counted in `tally` when one is given."""
    try:
        return encode(value)
    except ENCODE_ERRORS:
        return encode(encodable(value, tally))


def encodable(value: Any, tally: LimitTally | None) -> Any:  # noqa: PLR0911 - one per kind
    """A deep copy of `value` that any encoder takes: string keys, valid text, no odd types.

    Known types are converted as msgspec would have written them, so the rest of the event
    keeps its usual form. Lone surrogates become U+FFFD, counted in `tally` when one is given.
    """
    if isinstance(value, str):
        if has_surrogates(value):
            if tally is not None:
                tally.surrogates_replaced += 1
            return replace_surrogates(value)
        return str.__str__(value)
    if isinstance(value, Mapping):
        return {
            encodable(key if type(key) is str else text_of(key), tally): encodable(item, tally)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple, set, frozenset)):
        return [encodable(item, tally) for item in value]
    if value is None or isinstance(value, (bool, float)):
        return value
    if isinstance(value, int):
        return value if MIN_INT <= value <= MAX_INT else _big_int_text(value, tally)
    builtin = to_builtin(value)
    return str(value) if builtin is UNKNOWN else encodable(builtin, tally)


def _big_int_text(value: int, tally: LimitTally | None) -> str | None:
    """An integer past 64 bits as its digits; past Python's 4,300 digits, None (null)."""
    try:
        return str(value)
    except ValueError:
        if tally is not None:
            tally.values_dropped += 1
        return None
