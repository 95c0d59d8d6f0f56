"""Failures a user must see: each kind said once per process, on stderr, whatever the
application did with logging (reliability.md, "Every failure is visible").

A warning on the ``honeycomb_events`` logger reaches stderr by itself only when no handler is
configured anywhere (Python's last resort, every time). An application that configured nothing
but OpenTelemetry's logging bridge has a handler on the root logger, and our warning would go
to the very backend that fails. So the first notice of each kind is written to stderr by us,
unless a handler of the application's already prints it there; the application's handlers
hear every notice. ``HONEYCOMB_QUIET=true`` keeps stderr silent.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from typing import Final

from ._config import ENV_QUIET, flag_set

NOTICE: Final = "honeycomb_events_notice"
"""Set on the log records of notices: the log exporter never sends them (they are about
this package's own exports)."""

logger = logging.getLogger("honeycomb_events")

_said: set[str] = set()
_lock = threading.Lock()


def notice(
    kind: str, message: str, *, level: int = logging.WARNING, again: int = logging.DEBUG
) -> bool:
    """Say `message`: the first time `kind` happens in this process at `level`, and on stderr
    if nothing else prints it there; later times at `again`, to the application's handlers
    only. True the first time."""
    with _lock:
        first = kind not in _said
        _said.add(kind)
    printed = False
    # Without a handler anywhere, logging would print through its last resort, every time and
    # without saying who speaks: the first time is printed below instead.
    if logger.hasHandlers():
        logger.log(level if first else again, "%s", message, extra={NOTICE: True})
        printed = _printed_on_a_terminal_stream(level)
    if first and not printed and not quiet():
        # A closed stderr leaves nothing more to do.
        with contextlib.suppress(OSError, ValueError):
            print(f"honeycomb-events: {message}", file=sys.stderr, flush=True)
    return first


def quiet() -> bool:
    """Whether ``HONEYCOMB_QUIET`` asks for silence on stderr."""
    return flag_set(ENV_QUIET)


def _printed_on_a_terminal_stream(level: int) -> bool:
    """Whether a handler of the application's writes a record of `level` from our logger to
    stderr or stdout."""
    if not logger.isEnabledFor(level):
        return False
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            stream = getattr(handler, "stream", None)
            if stream in (sys.stderr, sys.stdout) and level >= handler.level:
                return True
        if not current.propagate:
            break
        current = current.parent
    return False
