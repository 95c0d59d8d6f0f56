"""Failures a user must see: each kind said once per process, on stderr, whatever the
application did with logging (reliability.md, "Every failure is visible").

A warning on the ``honeycomb_events`` logger reaches stderr by itself only when no handler is
configured anywhere (Python's last resort). An application that configured nothing but
OpenTelemetry's logging bridge has a handler on the root logger, and our warning would go to
the very backend that fails. So the first notice of each kind is also written to stderr,
unless a handler of the application's already prints it there; ``HONEYCOMB_QUIET=true``
keeps stderr silent.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from typing import Final

from ._config import ENV_QUIET

NOTICE: Final = "honeycomb_events_notice"
"""Set on the log records of notices: the log exporter never sends them (they are about
this package's own exports)."""

logger = logging.getLogger("honeycomb_events")

_said: set[str] = set()
_lock = threading.Lock()


def notice(kind: str, message: str, *, level: int = logging.WARNING, log: bool = True) -> bool:
    """Say `message`: the first time `kind` happens in this process at `level`, and on stderr
    if nothing else prints it there; later times at DEBUG. True the first time. With `log`
    False the caller logs the message itself, and this only sees that stderr gets it once."""
    with _lock:
        first = kind not in _said
        _said.add(kind)
    if log:
        logger.log(level if first else logging.DEBUG, "%s", message, extra={NOTICE: True})
    if first and not quiet() and not _printed_on_a_terminal_stream(level):
        # A closed stderr leaves nothing more to do.
        with contextlib.suppress(OSError, ValueError):
            print(f"honeycomb-events: {message}", file=sys.stderr, flush=True)
    return first


def quiet() -> bool:
    """Whether ``HONEYCOMB_QUIET`` asks for silence on stderr."""
    return os.environ.get(ENV_QUIET, "").strip().lower() in ("1", "true", "yes", "on")


def _printed_on_a_terminal_stream(level: int) -> bool:
    """Whether logging itself writes a record of `level` from our logger to stderr or
    stdout: through a handler of the application's, or Python's last resort."""
    if not logger.isEnabledFor(level):
        return False
    found_handler = False
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            found_handler = True
            stream = getattr(handler, "stream", None)
            if stream in (sys.stderr, sys.stdout) and level >= handler.level:
                return True
        if not current.propagate:
            break
        current = current.parent
    last_resort = logging.lastResort
    return not found_handler and last_resort is not None and level >= last_resort.level
