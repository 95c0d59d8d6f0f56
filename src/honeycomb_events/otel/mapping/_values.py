"""One conversion of attribute values, for every signal and every source: span, span event,
link, resource, scope, log record and metric point attributes, log bodies, and the OTLP
``AnyValue`` trees the receiver decodes, stored as Honeycomb's OTLP translation stores them
(mapping.md, "Attribute values"; limits.md, "Attribute values").

Total over every Python value: the worst any value can cost is its own field, dropped and
counted. No exception, no Python repr, no recursion error, whatever the nesting, and whatever
refers to itself. Counts go into a `collections.Counter` keyed by `LimitTally` field names,
which the caller adds to its tally once the item it maps is done.
"""

from __future__ import annotations

import base64
import collections
import decimal
import enum
import math
import re
from collections.abc import Iterator, Mapping, Sequence, Set
from typing import Any, Final, TypeAlias, cast

import msgspec

from honeycomb_events._encodable import (
    UNKNOWN,
    has_surrogates,
    replace_surrogates,
    text_of,
    to_builtin,
)
from honeycomb_events._limits import MAX_STRING_BYTES

MAX_FLATTEN_DEPTH: Final = 5
"""Mappings are flattened into ``key.a.b...`` fields down to this depth below the key; a
mapping found at it is one field, its JSON text (Honeycomb's rule since husky 0.38)."""

MAX_JSON_DEPTH: Final = 10_000
"""Containers nest this deep in JSON text; deeper ones are written as ``"[too deep]"``. It is
the deepest OTLP Honeycomb itself decodes (Go protobuf's limit)."""

RECURSIVE: Final = "[recursive]"
"""Written in JSON text where a list or mapping holds itself (or one that holds it)."""
TOO_DEEP: Final = "[too deep]"

SURROGATES_REPLACED: Final = "surrogates_replaced"
VALUES_CUT: Final = "values_cut"
VALUES_DROPPED: Final = "values_dropped"

Counts: TypeAlias = "collections.Counter[str]"

_JSON = msgspec.json.Encoder()
_SCALAR_TYPES: Final = frozenset({str, bool, int})  # JSON-encoded by msgspec as Go does
_BYTES_TYPES: Final = (bytes, bytearray, memoryview)
_END: Final = object()


class _Unconvertible(Exception):
    """A value with no faithful text: an object whose `str()` would only be its repr."""


def go_float(value: float) -> str:
    """A float as Go's encoding/json writes it (which Honeycomb's translation uses).

    Go writes the shortest digits that round-trip: positionally from 1e-6 up to 1e21, with no
    ``.0`` on whole numbers, and with a bare exponent outside that range (``1e-7``,
    ``1.5e+21``). Python's repr has the same digits and is scientific there too.
    """
    if not math.isfinite(value):
        # JSON has no spelling for these; Go would fail the whole field, we keep a string.
        return '"NaN"' if math.isnan(value) else ('"Infinity"' if value > 0 else '"-Infinity"')
    shortest = repr(value)
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        mantissa, _, exponent = shortest.partition("e")
        power = int(exponent)
        return f"{mantissa}e{'-' if power < 0 else '+'}{abs(power)}"
    text = format(decimal.Decimal(shortest), "f")
    return text[:-2] if text.endswith(".0") else text


def plain(value: Any) -> Any:  # noqa: PLR0911 - one return per kind of value
    """`value` as one of the types the conversion knows: str, bool, int, float, bytes, None, a
    mapping or a sequence (or set). Subclasses become their base type, an `Enum` its value,
    what msgspec knows (datetime, UUID, Decimal, dataclass, ...) what msgspec writes for it,
    other objects their `str()` when their class defines one; `_Unconvertible` else."""
    cls = type(value)
    if cls is str or cls is bool or cls is int or cls is float or value is None:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, _BYTES_TYPES):
        return bytes(value)
    if isinstance(value, (Mapping, Sequence, Set)):
        return value
    builtin = to_builtin(value)
    if builtin is not UNKNOWN:
        return builtin
    if getattr(cls, "__str__", None) is object.__str__:  # its text would be its repr only
        raise _Unconvertible
    return str(value)


def key_text(key: Any) -> str:
    """A field name for a mapping key: a string as it is, other keys as the encoder writes a
    non-string field name (limits.md). Raises for a key with no text of its own (an object
    whose `str()` would be its repr, a tuple): a field named after a memory address is no
    field."""
    if type(key) is str:
        return key
    if isinstance(plain(key), (Mapping, Sequence, Set)) and not isinstance(key, (str, bytes)):
        raise _Unconvertible  # a tuple's text is its repr
    return text_of(key)


def add_value(fields: dict[str, Any], key: str, value: Any, counts: Counts, depth: int = 0) -> int:
    """Store `value` under `key` as Honeycomb stores an OTLP attribute value: scalars as they
    are, a mapping as one ``key.sub`` field per entry, flattened the same way down to
    `MAX_FLATTEN_DEPTH` levels below the top key, where a mapping becomes its JSON text, and
    arrays, bytes and everything else as JSON text with a closing newline. `None` is skipped.

    Returns how many fields were dropped because a value (or a key) could not be converted;
    each is counted. Never raises.
    """
    cls = type(value)
    if cls is str or cls is bool or cls is int or cls is float:
        fields[key] = value
        return 0
    if value is None:
        return 0
    try:
        value = plain(value)
        if isinstance(value, Mapping) and depth < MAX_FLATTEN_DEPTH:
            return _flatten(fields, key, value, counts, depth)
        fields[key] = (
            value
            if type(value) in _SCALAR_TYPES or type(value) is float
            else (json_text(value, counts))
        )
    except Exception:  # a value with no text, or whose own methods raise: it goes alone
        counts[VALUES_DROPPED] += 1
        return 1
    return 0


def _flatten(
    fields: dict[str, Any], key: str, mapping: Mapping[Any, Any], counts: Counts, depth: int
) -> int:
    dropped = 0
    for sub_key, sub_value in mapping.items():
        if sub_value is None:
            continue
        try:
            nested = f"{key}.{key_text(sub_key)}"
        except Exception:
            counts[VALUES_DROPPED] += 1
            dropped += 1
            continue
        dropped += add_value(fields, nested, sub_value, counts, depth + 1)
    return dropped


def single_value(value: Any, counts: Counts) -> Any:
    """`value` as one field's value (a name, a status message, a metric's value): a scalar as
    it is, anything else as its JSON text, a mapping included. Raises for a value with no
    faithful text; the caller drops that field."""
    cls = type(value)
    if cls is str or cls is bool or cls is int or cls is float:
        return value
    value = plain(value)
    if type(value) in _SCALAR_TYPES or type(value) is float:
        return value
    return json_text(value, counts)


def json_text(value: Any, counts: Counts) -> str:
    """`value` as JSON text, as Honeycomb's Go encoder writes it: compact, no HTML escaping,
    mapping keys sorted, floats in Go's form, bytes as base64, and a closing newline.

    Written without recursion, so depth costs nothing but output; a container that holds
    itself is written ``"[recursive]"`` where it recurs, one nested deeper than
    `MAX_JSON_DEPTH` ``"[too deep]"`` (each counted). Writing stops once the text is over
    65,535 bytes, where Honeycomb cuts it (the encoder then truncates it). Raises for a value
    with no faithful text; one inside it is written ``null`` (and counted).
    """
    value = plain(value)
    if type(value) is list or type(value) is tuple:
        # The usual array, of strings and integers: one encode, which refuses a surrogate.
        types = set(map(type, value))
        if types <= _SCALAR_TYPES:
            try:
                encoded = _JSON.encode(value)
            except (UnicodeEncodeError, ValueError, msgspec.EncodeError):
                pass  # a lone surrogate, or an integer past 4,300 digits: written carefully
            else:
                if b"\\b" not in encoded and b"\\f" not in encoded:
                    return encoded.decode() + "\n"
    return _JsonWriter(counts).write(value) + "\n"


class _Frame:
    """A container being written: its remaining items, and whether one was written yet."""

    __slots__ = ("identity", "is_map", "items", "started")

    def __init__(self, items: Iterator[Any], is_map: bool, identity: int) -> None:
        self.items = items
        self.is_map = is_map
        self.identity = identity
        self.started = False


class _JsonWriter:
    """JSON text of one value, written with an explicit stack of open containers."""

    __slots__ = ("_counts", "_open", "_out", "_stack")

    def __init__(self, counts: Counts) -> None:
        self._counts = counts
        self._out = bytearray()
        self._stack: list[_Frame] = []
        self._open: set[int] = set()  # the containers being written: a cycle returns to one

    def write(self, root: Any) -> str:
        out = self._out
        stack = self._stack
        self._value(root)
        while stack and len(out) <= MAX_STRING_BYTES:
            frame = stack[-1]
            try:
                item = next(frame.items, _END)
            except Exception:  # a container whose iteration fails: closed where it failed
                self._counts[VALUES_DROPPED] += 1
                item = _END
            if item is _END:
                out += b"}" if frame.is_map else b"]"
                stack.pop()
                self._open.discard(frame.identity)
                continue
            if frame.started:
                out += b","
            frame.started = True
            if frame.is_map:
                key, item = cast("tuple[str, Any]", item)
                out += self._string(key)
                out += b":"
            self._value(item)
        # Bytes cut by the size stop are whole characters: each write is a whole token.
        return out.decode()

    def _value(self, value: Any) -> None:
        try:
            value = plain(value)
        except Exception:  # no faithful text, or its own methods raise: written null
            self._counts[VALUES_DROPPED] += 1
            value = None
        out = self._out
        cls = type(value)
        if cls is str:
            out += self._string(value)
        elif cls is bool:
            out += b"true" if value else b"false"
        elif cls is int:
            try:
                out += b"%d" % value
            except ValueError:  # past Python's 4,300 digits: no text to write
                self._counts[VALUES_DROPPED] += 1
                out += b"null"
        elif cls is float:
            out += go_float(value).encode()
        elif value is None:
            out += b"null"
        elif cls is bytes:
            out += self._string(base64.b64encode(value).decode("ascii"))
        else:
            self._open_container(value)

    def _open_container(self, value: Mapping[Any, Any] | Sequence[Any] | Set[Any]) -> None:
        identity = id(value)
        if identity in self._open:
            self._counts[VALUES_CUT] += 1
            self._out += self._string(RECURSIVE)
            return
        if len(self._stack) >= MAX_JSON_DEPTH:
            self._counts[VALUES_CUT] += 1
            self._out += self._string(TOO_DEEP)
            return
        is_map = isinstance(value, Mapping)
        try:
            if is_map:
                # Go writes a map with its keys sorted (by bytes of UTF-8: code point order).
                entries = cast("Mapping[Any, Any]", value).items()
                pairs = sorted(((key_text(key), item) for key, item in entries), key=_first)
                items: Iterator[Any] = iter(pairs)
            else:
                items = iter(value)
        except Exception:  # its entries cannot be read: written null
            self._counts[VALUES_DROPPED] += 1
            self._out += b"null"
            return
        self._out += b"{" if is_map else b"["
        self._open.add(identity)
        self._stack.append(_Frame(items, is_map, identity))

    def _string(self, text: str) -> bytes:
        try:
            encoded = _JSON.encode(text)
        except UnicodeEncodeError:
            if not has_surrogates(text):
                raise
            self._counts[SURROGATES_REPLACED] += 1
            text = replace_surrogates(text)
            encoded = _JSON.encode(text)
        if b"\\b" in encoded or b"\\f" in encoded:
            return _go_string(text)
        return encoded


def _first(pair: tuple[str, Any]) -> str:
    return pair[0]


def _go_string(text: str) -> bytes:
    """A JSON string as Honeycomb's encoder (jsoniter) writes it, where msgspec differs:
    backspace and form feed as ``\\u0008`` and ``\\u000c``, not ``\\b`` and ``\\f``."""
    pieces = _BACKSPACE_OR_FORM_FEED.split(text)
    return (
        b'"'
        + b"".join(
            _GO_ESCAPES[piece] if piece in _GO_ESCAPES else _JSON.encode(piece)[1:-1]
            for piece in pieces
        )
        + b'"'
    )


_BACKSPACE_OR_FORM_FEED: Final = re.compile("([\b\f])")
_GO_ESCAPES: Final = {"\b": b"\\u0008", "\f": b"\\u000c"}
