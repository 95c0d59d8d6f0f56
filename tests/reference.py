"""A careful reference of the attribute value rules (mapping.md, "Attribute values";
docs/limits.md), written apart from the package and as plainly as possible: recursion where
the rules recurse, no fast paths, no shared code. The property tests check that what the
package stores is what this predicts.

`stored_fields(attributes)` gives the fields a set of attributes becomes once stored at
Honeycomb (or the local receiver), with the number of fields dropped; `json_text(value)`
the JSON text Honeycomb writes for an array, bytes or a value nested past the flattening depth.
"""

from __future__ import annotations

import base64
import contextlib
import math
import re
import sys
from collections.abc import Iterator, Mapping
from typing import Any

MAX_FLATTEN_DEPTH = 5
MAX_JSON_DEPTH = 10_000
MAX_STRING_BYTES = 65_535
MIN_INT, MAX_INT = -(2**63), 2**64 - 1
MAX_INT_DIGITS = 4_300  # sys.int_info.default_max_str_digits


def digits(value: int) -> int:
    """How many decimal digits `value` has (more than MAX_INT_DIGITS: Python refuses to say)."""
    try:
        return len(str(abs(value)))
    except ValueError:
        return MAX_INT_DIGITS + 1


@contextlib.contextmanager
def _deep_recursion() -> Iterator[None]:
    """Nested values are walked by recursion here, as deep as MAX_JSON_DEPTH and a little
    more (hypothesis lowers the limit while a test runs)."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 4 * MAX_JSON_DEPTH))
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


class Opaque:
    """A value with no text of its own: its str() would be its repr."""


class Raising:
    """A value whose own methods raise."""

    def __str__(self) -> str:
        raise RuntimeError("no text")


class Texty:
    """A value with a text of its own (as a path or an address has)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


class Dropped(Exception):
    """The value has no faithful text: its field is dropped."""


_SURROGATE = re.compile("[\ud800-\udfff]")
_NEEDS_ESCAPE = re.compile('[\x00-\x1f"\\\\]')


def fix_text(text: str) -> str:
    return _SURROGATE.sub("\ufffd", text)


def go_float(number: float) -> str:  # noqa: PLR0911 - one return per form
    """Go's shortest float: positional from 1e-6 to 1e21, else d.ddde±x; whole numbers
    without a fraction. Built from repr's digits by hand."""
    if math.isnan(number):
        return '"NaN"'
    if math.isinf(number):
        return '"Infinity"' if number > 0 else '"-Infinity"'
    if number == 0:
        return "-0" if math.copysign(1, number) < 0 else "0"
    sign = "-" if number < 0 else ""
    text = repr(abs(number))
    mantissa, _, exponent = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    # Position of the decimal point relative to the first significant digit.
    if whole != "0":
        point = len(whole) + (int(exponent) if exponent else 0)
    else:
        point = -(len(fraction) - len(fraction.lstrip("0"))) + (int(exponent) if exponent else 0)
    digits = digits.rstrip("0") or "0"
    magnitude = abs(number)
    if 1e-6 <= magnitude < 1e21:
        if point <= 0:
            return f"{sign}0.{'0' * -point}{digits}"
        if point >= len(digits):
            return f"{sign}{digits}{'0' * (point - len(digits))}"
        return f"{sign}{digits[:point]}.{digits[point:]}"
    power = point - 1
    body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{body}e{'+' if power >= 0 else '-'}{abs(power)}"


def json_string(text: str) -> str:
    text = fix_text(text)
    if not _NEEDS_ESCAPE.search(text):
        return f'"{text}"'
    out = ['"']
    for char in text:
        code = ord(char)
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif char in "\n\r\t":  # jsoniter, as Go's encoder before 1.22: no \b or \f
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[char])
        elif code < 0x20:
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def key_text(key: Any) -> str:
    return key if isinstance(key, str) else str(key)


def plain(value: Any) -> Any:
    if isinstance(value, (Opaque, Raising)):
        raise Dropped
    if isinstance(value, Texty):
        return value.text
    return value


def _scalar_json(value: Any) -> str | None:  # noqa: PLR0911 - one return per kind
    """The JSON of a scalar; None for a container."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if digits(value) <= MAX_INT_DIGITS else None
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return json_string(value)
    if isinstance(value, (bytes, bytearray)):
        return json_string(base64.b64encode(bytes(value)).decode())
    return None


def _json(value: Any, open_ids: set[int], counts: dict[str, int], out: list[str]) -> None:
    """Append the JSON of `value` to `out`, one token at a time (joined once at the end)."""
    try:
        value = plain(value)
    except Dropped:
        counts["values_dropped"] += 1
        out.append("null")
        return
    scalar = _scalar_json(value)
    if scalar is None and isinstance(value, int):  # too many digits to write: null
        counts["values_dropped"] += 1
        out.append("null")
    elif scalar is not None:
        out.append(scalar)
    elif id(value) in open_ids:
        counts["values_cut"] += 1
        out.append(json_string("[recursive]"))
    elif len(open_ids) >= MAX_JSON_DEPTH:
        counts["values_cut"] += 1
        out.append(json_string("[too deep]"))
    else:
        open_ids.add(id(value))
        is_map = isinstance(value, Mapping)
        out.append("{" if is_map else "[")
        entries = (
            [(key_text(key), value[key]) for key in sorted(value, key=key_text)]
            if is_map
            else [(None, item) for item in value]
        )
        for index, (key, item) in enumerate(entries):
            if index:
                out.append(",")
            if key is not None:
                out.append(json_string(key) + ":")
            _json(item, open_ids, counts, out)
        out.append("}" if is_map else "]")
        open_ids.discard(id(value))


def json_text(value: Any, counts: dict[str, int] | None = None) -> str:
    """The JSON text of `value` and its newline, before the string limit; Dropped if the
    value itself has no text. `counts` gets the nested values written null or cut."""
    value = plain(value)
    out: list[str] = []
    with _deep_recursion():
        _json(value, set(), counts if counts is not None else new_counts(), out)
    return "".join(out) + "\n"


def new_counts() -> dict[str, int]:
    return {"values_dropped": 0, "values_cut": 0}


def flatten(key: str, value: Any, depth: int, out: dict[str, Any], counts: dict[str, int]) -> int:
    """Fields of one attribute as Honeycomb's ``addAttributeToMap`` makes them; returns how
    many were dropped."""
    if value is None:
        return 0
    try:
        value = plain(value)
    except Dropped:
        return 1
    if isinstance(value, int) and digits(value) > MAX_INT_DIGITS:
        return 1  # Python writes no integer of more digits: no text, dropped
    if isinstance(value, (bool, int, float, str)):
        out[key] = value
        return 0
    if isinstance(value, Mapping) and depth < MAX_FLATTEN_DEPTH:
        dropped = 0
        for sub_key, sub_value in value.items():
            if sub_value is not None:
                dropped += flatten(f"{key}.{key_text(sub_key)}", sub_value, depth + 1, out, counts)
        return dropped
    out[key] = json_text(value, counts)  # an array, bytes, or a mapping at the fifth level
    return 0


def stored_value(value: Any) -> Any:
    """A top-level field's value after Honeycomb's limits (limits.md, "Field by field")."""
    if isinstance(value, str):
        encoded = fix_text(value).encode()
        if len(encoded) > MAX_STRING_BYTES:
            return encoded[:MAX_STRING_BYTES].decode(errors="ignore")
        return fix_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, int) and not isinstance(value, bool) and not MIN_INT <= value <= MAX_INT:
        return str(value)
    return value


def stored_fields(
    attributes: Mapping[str, Any], counts: dict[str, int] | None = None
) -> tuple[dict[str, Any], int]:
    """What `attributes` become once stored, and how many fields were dropped (each counted
    in `counts`, with the nested values written null or cut)."""
    counts = new_counts() if counts is None else counts
    raw: dict[str, Any] = {}
    dropped = 0
    for key, value in attributes.items():
        if not key or value is None:
            continue
        with _deep_recursion():
            dropped += flatten(key, value, 0, raw, counts)
    counts["values_dropped"] += dropped
    return {fix_text(key): stored_value(value) for key, value in raw.items()}, dropped


def assert_within_limits(data: Mapping[str, Any]) -> None:
    """What Honeycomb stores holds its limits: at most 2,000 fields, no string over 65,535
    bytes of UTF-8, no event over 1,000,000 bytes of JSON, no NaN or infinity, no integer
    outside 64 bits."""
    assert len(data) <= 2_000
    size = 2
    for key, value in data.items():
        assert isinstance(key, str), key
        assert key
        if isinstance(value, str):
            assert len(value.encode()) <= MAX_STRING_BYTES, key
        elif isinstance(value, float):
            assert math.isfinite(value), key
        elif isinstance(value, int) and not isinstance(value, bool):
            assert MIN_INT <= value <= MAX_INT, key
        size += len(json_string(key)) + len(str(value)) + 2
    assert size <= 2 * 1_000_000  # a generous bound on the JSON; the encoder checks exactly
