"""Hooks this package installs in the process (log filters, fork and exit hooks): each once,
when the first object that needs it is made, never as a side effect of an import."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable


def once(install: Callable[[], None]) -> Callable[[], None]:
    """`install`, made to run at most once per process however many threads call it.

    A forked child inherits what the parent installed (the hooks and the note that they are
    installed), so it does not install them again.
    """
    lock = threading.Lock()
    done = False

    @functools.wraps(install)
    def install_once() -> None:
        nonlocal done
        if done:
            return
        with lock:
            if not done:
                install()
                done = True

    return install_once
