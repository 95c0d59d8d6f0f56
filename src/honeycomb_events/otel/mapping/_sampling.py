"""Sample rates, read as Honeycomb's OTLP translation reads them (mapping.md, "Sample rate"):
from a ``sampleRate`` or ``SampleRate`` field, else from an OpenTelemetry sampling threshold
in the W3C tracestate.

Pure functions; each rule below is one of Honeycomb's, down to the parsing of numbers (Go's
``strconv.ParseFloat``) and the rounding of a threshold's adjusted count.
"""

from __future__ import annotations

import math
import re
from typing import Any, Final

from honeycomb_events._model import MAX_SAMPLERATE

SAMPLE_RATE_KEYS: Final = ("sampleRate", "SampleRate")

_THRESHOLD_SPACE: Final = 1 << 56  # an OTel sampling threshold is 56 bits: 14 hex digits
_HEX_THRESHOLD: Final = re.compile("[0-9a-fA-F]{1,14}")
_RANDOMIZED_UP_TO: Final = 100
"""Honeycomb draws a rate at random between an adjusted count's floor and ceiling only up to
this floor; above it, it takes the floor."""


def event_sample_rate(fields: dict[str, Any], tracestate: str = "") -> int | None:
    """The sample rate an event is sent with, ``sampleRate`` and ``SampleRate`` removed from
    its `fields`: read from ``sampleRate`` when both are there, else from the `tracestate`
    header (see `tracestate_sample_rate`). None for Honeycomb's default of 1, which need not
    be sent.

    A field's value: an integer as it is, a float rounded half up, a string read as Go reads
    a float (no surrounding spaces; ``1e3``, ``inf`` and hex floats allowed); 0, less, or
    anything unreadable means 1; capped at 2,147,483,647.
    """
    rate = None
    for key in SAMPLE_RATE_KEYS:
        if key in fields:
            value = fields.pop(key)
            if rate is None:
                rate = rate_of(value)
    if rate is None and tracestate:
        rate = tracestate_sample_rate(tracestate)
    return None if rate == 1 else rate


def rate_of(value: Any) -> int:
    """A ``sampleRate`` field's value as the rate Honeycomb takes from it."""
    number: float | None
    if type(value) is int or type(value) is float:
        number = value
    elif type(value) is str:
        number = _go_parse_float(value)
    else:  # bool, or a structure (already JSON text when it reaches here): Honeycomb's 1
        return 1
    if number is None or not number > 0:  # unreadable, NaN, zero or negative
        return 1
    if number >= MAX_SAMPLERATE:
        return MAX_SAMPLERATE
    # Go adds 0.5 to a float and converts it to an integer, truncating: half rounds up.
    return max(int(number) if type(number) is int else math.trunc(number + 0.5), 1)


def _go_parse_float(text: str) -> float | None:
    """`text` as Go's ``strconv.ParseFloat(text, 64)`` reads it, None where Go fails: no
    surrounding space, no digit separators, ASCII only, hex floats with an exponent, and a
    value past the float range (``1e400``) is an error, not an infinity."""
    if not text or not text.isascii() or text != text.strip() or "_" in text:
        return None
    unsigned = text.lstrip("+-")
    if len(text) - len(unsigned) > 1:
        return None
    try:
        if unsigned[:2].lower() == "0x":
            if "p" not in unsigned.lower():
                return None
            number = float.fromhex(text)
        else:
            number = float(text)
    except (ValueError, OverflowError):
        return None
    if math.isinf(number) and unsigned.lower() not in ("inf", "infinity"):
        return None  # out of range: Go's ErrRange
    return number


def tracestate_sample_rate(header: str) -> int | None:
    """The rate implied by an OpenTelemetry sampling threshold in a W3C tracestate header, or
    None when it holds none that Honeycomb reads.

    The threshold T is the ``th:`` sub-key of the first ``ot=`` entry that has one
    (``ot=p:8;th:c;r:62``); failing that, the legacy form: the whole header split on ``;``
    into ``k=v`` pairs, one of them ``th=<hex>``. T is 1 to 14 hex digits, right-padded with
    zeros to 56 bits; a span was kept with probability (2^56 - T) / 2^56, and the rate is the
    inverse, the adjusted count. Honeycomb rounds it at random between floor and ceiling up to
    a floor of 100, and takes the floor above: this takes the nearer of the two up to 100, and
    the floor above, so it is always one of Honeycomb's values, and its likeliest.
    """
    threshold = _ot_threshold(header)
    if threshold is None:
        threshold = _legacy_threshold(header)
    if threshold is None or _HEX_THRESHOLD.fullmatch(threshold) is None:
        return None
    rejected = int(threshold, 16) << (4 * (14 - len(threshold)))
    if rejected == 0:
        return 1
    # The adjusted count exactly as Go's sampling package computes it, in floats.
    adjusted = 1.0 / (float(_THRESHOLD_SPACE - rejected) / float(_THRESHOLD_SPACE))
    floor = math.floor(adjusted)
    if floor > _RANDOMIZED_UP_TO:
        return min(floor, MAX_SAMPLERATE)
    return floor if adjusted - floor < 0.5 else math.ceil(adjusted)


def _ot_threshold(header: str) -> str | None:
    for entry in header.split(","):
        if entry.startswith("ot="):
            for pair in entry[3:].split(";"):
                parts = pair.split(":")
                if len(parts) == 2 and parts[0] == "th":
                    return parts[1]
    return None


def _legacy_threshold(header: str) -> str | None:
    pairs: dict[str, str] = {}
    for pair in header.split(";"):
        parts = pair.split("=")
        if len(parts) == 2:
            pairs[parts[0]] = parts[1]
    return pairs.get("th")
