"""The couriers and the process's end: one deadline for all of them at exit, and a fresh start
in a forked child.

At interpreter exit the SDK shuts its providers down one after another (traces, metrics, logs),
and each shutdown closes an exporter. Were each close given its own wait, a backend that stalls
would cost the exit one wait per signal: the closes made once the main thread has ended share
one deadline instead, and exports made then do not wait for answers (the closes deliver what
they can until that deadline). The order of exit hooks does not matter: Python marks the main
thread as ended before it runs any of them.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
import weakref
from typing import Final, Protocol

from honeycomb_events._once import once

EXIT_WAIT: Final = 1.2
"""The longest a close takes, and at exit the longest all of them take together (with the
SDK's last exports and the spool's writes, an exit ends within 2 s of the application's end)."""
_LAST_WORD: Final = 0.05  # a close past the deadline still sets its batches aside
# Closes this long after the shared deadline are another shutdown (non-daemon threads may keep
# a process going long after its main thread ended).
_ANOTHER_SHUTDOWN: Final = 5.0


class Closeable(Protocol):
    def close(self, timeout: float = EXIT_WAIT) -> None: ...
    def restart_in_child(self) -> None: ...


class _Exit:
    """By when the couriers closing at exit must be done."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.deadline = float("-inf")


_live: weakref.WeakSet[Closeable] = weakref.WeakSet()
_exit = _Exit()


def track(courier: Closeable) -> None:
    """Close `courier` at exit if nobody did, and restart it in a forked child."""
    _install_process_hooks()
    _live.add(courier)


def exiting() -> bool:
    """Whether the interpreter is on its way out (its main thread has ended)."""
    return not threading.main_thread().is_alive()


def close_by(timeout: float) -> float:
    """When a close that starts now and may take `timeout` seconds must end."""
    now = time.monotonic()
    ends = now + min(timeout, EXIT_WAIT)
    if not exiting():
        return ends
    with _exit.lock:
        if now > _exit.deadline + _ANOTHER_SHUTDOWN:
            _exit.deadline = now + EXIT_WAIT
        return min(ends, max(_exit.deadline, now + _LAST_WORD))


# Registered on import, unlike the fork hook: exit hooks run last registered first, and this
# one must run after the SDK's, which its providers register when they are made (before the
# exporters, under `opentelemetry-instrument` as in the usual code). Registered by the first
# courier, it would close every courier before the SDK's last exports reached them.
@atexit.register
def _close_the_rest() -> None:
    """Couriers whose exporter was not shut down (the SDK does it, at exit) stop here."""
    for courier in list(_live):
        courier.close()


def _after_fork_in_child() -> None:
    _exit.deadline = float("-inf")
    for courier in list(_live):
        courier.restart_in_child()


@once
def _install_process_hooks() -> None:
    """The fork hook of the couriers, once per process, by the first courier."""
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
