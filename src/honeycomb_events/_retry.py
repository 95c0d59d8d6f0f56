"""When a failed send is tried again: `RetryPolicy`, and the waits a `Retry-After` asks for."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

RETRYABLE_STATUSES: Final = frozenset({429, 502, 503, 504})

# Jitter from a generator of our own: the global one is the application's (a test seeding it
# should not make our waits predictable, nor our draws move its sequence).
_JITTER: Final = random.Random()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When and how often a failed send is tried again. Immutable: each transport holds one.

    Waits grow as ``initial_backoff * 2**n`` up to `max_backoff`, each drawn between half and
    all of that ("equal jitter"), so many processes failing together do not retry together.
    A `Retry-After` header replaces the computed wait. No wait ever outlasts the deadline of
    the send: a retry that could not happen in time is not attempted.
    """

    max_attempts: int = 6
    initial_backoff: float = 0.5
    max_backoff: float = 30.0
    retryable_statuses: frozenset[int] = RETRYABLE_STATUSES

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 <= self.initial_backoff <= self.max_backoff:
            raise ValueError("backoffs must satisfy 0 <= initial_backoff <= max_backoff")

    def backoff(self, retry: int, draw: Callable[[], float] | None = None) -> float:
        """The wait before retry number `retry` (0 for the first retry)."""
        # The exponent is capped: 2.0**1024 overflows, and the ceiling stopped growing long before.
        ceiling = min(self.max_backoff, self.initial_backoff * 2.0 ** min(retry, 64))
        return ceiling / 2 + (draw or _JITTER.random)() * ceiling / 2


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (seconds or an HTTP date), if usable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
