"""What arrived, in a few lines: the text of a failed wait or match.

A failure must show what the receiver did get, so that the test's author sees at once whether
the name, the parent or one field is wrong; it must also stay short whatever arrived.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

MAX_LINES: Final = 20
"""A failure's text is at most this many lines, however many events arrived."""

_MISSING: Final = object()
_VALUE_CHARS: Final = 60


def short(value: Any) -> str:
    """`repr(value)`, cut to a length that fits a line."""
    text = repr(value)
    return text if len(text) <= _VALUE_CHARS else text[: _VALUE_CHARS - 3] + "..."


def differences(fields: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    """`field=actual` for each wanted field the event lacks or holds another value in."""
    found = []
    for key, value in wanted.items():
        actual = fields.get(key, _MISSING)
        if actual is _MISSING:
            found.append(f"{key} missing")
        elif actual != value:
            found.append(f"{key}={short(actual)}")
    return found


def matches(fields: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """Every wanted field is present with an equal value."""
    return all(key in fields and fields[key] == value for key, value in wanted.items())


def listing(headline: str, lines: Sequence[str], counts: Mapping[str, int] | None = None) -> str:
    """`headline`, then `lines` indented, cut to fit in `MAX_LINES` with what was left out."""
    body = [f"  {line}" for line in lines]
    room = MAX_LINES - 1
    if counts:
        summary = ", ".join(f"{name!r}: {count}" for name, count in counts.items())
        body.insert(0, f"  arrived by dataset: {summary}")
    if len(body) > room:
        body[room - 1 :] = [f"  ... and {len(body) - room + 1} more"]
    return "\n".join([headline, *body])


def event_line(
    dataset: str, fields: Mapping[str, Any], wanted: Mapping[str, Any], place: str = ""
) -> str:
    """One event: its dataset, its name if it has one, `place` (where a span hangs), and how
    it differs from `wanted`."""
    name = f" name={short(fields['name'])}" if "name" in fields else ""
    differ = differences(fields, {key: value for key, value in wanted.items() if key != "name"})
    tail = f" differs: {', '.join(differ)}" if differ else ""
    shown = "" if name or differ else f" {short(dict(fields))}"
    return f"{dataset}:{name}{shown}{place}{tail}"
