"""What every page of the receiver shares: the HTML document around a page's body, its base
style, and how times, durations, counts, stored values and services are shown.

Pages are server-rendered with their style (and any script) inline: nothing is fetched, so
they work without a network and need no build step.
"""

from __future__ import annotations

import datetime as _dt
import html
import zlib
from typing import Any, Final

import msgspec

BASE_STYLE: Final = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d1d1f; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
a { color: #1f5fd6; }
table.list { border-collapse: collapse; } .list td, .list th { padding: 4px 12px 4px 0;
  text-align: left; border-bottom: 1px solid #eee; }
.error { color: #c62828; font-weight: 600; }
.note { color: #555; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px;
  margin-right: 4px; vertical-align: baseline; background: var(--c); }
[hidden] { display: none !important; }
"""

SERVICE_COLOURS: Final = (
    "#3b6fe0",
    "#2e9d5b",
    "#9c5de0",
    "#e08a1e",
    "#1aa3b8",
    "#c2418f",
    "#7a8b1f",
    "#5d6bd6",
    "#b0672c",
    "#3b8f8a",
    "#c9a012",
    "#6f7d8c",
)
"""The colours of services, none of them red (failures are): a service's colour is picked by
a checksum of its name, so it is the same on every page and in every run."""
NO_SERVICE_COLOUR: Final = "#a1a1a6"
"""The colour of spans without a ``service.name``."""


def page(title: str, body: str, *, style: str = "", script: str = "") -> str:
    """A whole HTML document: `body` with the base style, the page's own `style` and
    `script` inline (both are this package's text, never stored data)."""
    scripted = f"<script>{script}</script>" if script else ""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>{BASE_STYLE}{style}</style></head>"
        f"<body>{body}{scripted}</body></html>"
    )


def service_colour(service: str | None) -> str:
    """The colour of `service`'s spans and swatches."""
    if service is None:
        return NO_SERVICE_COLOUR
    return SERVICE_COLOURS[zlib.crc32(service.encode("utf-8", "replace")) % len(SERVICE_COLOURS)]


def swatch(service: str | None) -> str:
    """A small square of the service's colour."""
    return f"<span class=swatch style='--c:{service_colour(service)}'></span>"


def time_text(nanos: int) -> str:
    try:
        moment = _dt.datetime.fromtimestamp(nanos / 1e9, tz=_dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return f"{nanos} ns since the epoch"
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def ms_text(duration_ms: float | None) -> str:
    if duration_ms is None:
        return ""
    return f"{duration_ms:.2f} ms" if abs(duration_ms) < 1e12 else f"{duration_ms:.3g} ms"


def value_text(value: Any) -> str:
    """A stored value as text: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    return msgspec.json.encode(value, enc_hook=str).decode("utf-8")


def count_text(number: int | str, noun: str) -> str:
    """ "1 span", "2 spans": a header of a one-span trace said "1 spans"."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
