"""Times and durations as people write them in a query: ``90s``, ``15m``, ``1h30m``, ``1.5h``,
``now``, a time ago, or RFC3339. The query page reads ``since``, ``until`` and
``granularity`` with them and writes its links' times back; the command line's ``--since`` and
``--until`` take the same forms."""

from __future__ import annotations

import re
import time
from typing import Final

from ._model import parse_rfc3339_ns
from ._query_spec import SECOND_NS, QueryError

_DURATION_PART: Final = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h|d|w)")
_UNIT_NS: Final = {
    "ms": SECOND_NS // 1000,
    "s": SECOND_NS,
    "m": 60 * SECOND_NS,
    "h": 3600 * SECOND_NS,
    "d": 86400 * SECOND_NS,
    "w": 7 * 86400 * SECOND_NS,
}


def duration_ns(text: str) -> int | None:
    """``90s``, ``15m``, ``1h30m``, ``2d``, ``1w``, ``500ms``, ``1.5h`` in nanoseconds;
    None if `text` is not such a duration."""
    compact = text.strip().lower().replace(" ", "")
    if not compact or _DURATION_PART.sub("", compact):
        return None
    return round(
        sum(float(amount) * _UNIT_NS[unit] for amount, unit in _DURATION_PART.findall(compact))
    )


def moment_ns(text: str, now_ns: int) -> int:
    """A moment: ``now``, a duration ago (``1h``) or an RFC3339 time; raises `QueryError`."""
    if text.strip().lower() == "now":
        return now_ns
    ago = duration_ns(text)
    if ago is not None:
        return now_ns - ago
    try:
        return parse_rfc3339_ns(text)
    except ValueError:
        raise QueryError(
            f"{text[:100]!r} is neither a time ago such as 15m, 2h or 1d, nor an RFC3339 time "
            "such as 2024-05-01T12:00:00Z"
        ) from None


def rfc3339(nanos: int) -> str:
    """RFC3339 UTC, short: whole seconds without a fraction, others to the nanosecond."""
    seconds, fraction = divmod(nanos, SECOND_NS)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{text}Z" if not fraction else f"{text}.{fraction:09d}Z"
