"""What the receiver saw: counts of events and their fates, and the recent requests, for tests
and tools to read while it runs."""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass(eq=False)
class ReceiverStats:
    """Counts of what the receiver saw and did, for tests to assert on. Thread-safe.

    `requests` counts requests to the Honeycomb endpoints; `events_received`, `events_accepted`
    and `events_rejected` the events of readable bodies and their fate (an injected per-event
    status other than 202 counts as rejected). Rejections by reason: `too_many_columns`,
    `events_too_large`, `dataset_too_many_columns`, `missing_data`, `malformed_events`,
    `malformed_bodies`, `empty_bodies`, `bodies_too_large`, `bodies_too_many_items` (over
    `MAX_ITEMS` values), `key_rejections`.

    What Honeycomb would silently repair is counted too, so a test can check that a client never
    needed the repair: `oversize_strings` (over 65,535 bytes, stored truncated), `non_finite`
    (NaN or infinities, which only msgpack can carry; the field is not stored), `null_values`
    (not stored), `bad_times` (unreadable, or outside 1677-2262: the receipt time is used),
    `future_times` (over an hour ahead: the receipt time is used) and `bad_samplerates` (below
    1, stored as 1; or not an integer, and the event is rejected). `faults_applied` counts
    requests that consumed a fault rule.
    """

    requests: int = 0
    events_received: int = 0
    events_accepted: int = 0
    events_rejected: int = 0
    oversize_strings: int = 0
    non_finite: int = 0
    null_values: int = 0
    too_many_columns: int = 0
    events_too_large: int = 0
    dataset_too_many_columns: int = 0
    missing_data: int = 0
    malformed_events: int = 0
    bad_samplerates: int = 0
    bad_times: int = 0
    future_times: int = 0
    malformed_bodies: int = 0
    empty_bodies: int = 0
    bodies_too_large: int = 0
    bodies_too_many_items: int = 0
    key_rejections: int = 0
    faults_applied: int = 0
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    @classmethod
    def counter_names(cls) -> tuple[str, ...]:
        return tuple(item.name for item in fields(cls) if not item.name.startswith("_"))

    def add(self, **counts: int) -> None:
        """Add to the named counters; an unknown name is a `KeyError`."""
        names = self.counter_names()
        with self._lock:
            for name, amount in counts.items():
                if name not in names:
                    raise KeyError(f"unknown receiver counter {name!r}")
                setattr(self, name, getattr(self, name) + amount)

    def snapshot(self) -> dict[str, int]:
        """Every counter, read at one moment."""
        with self._lock:
            return {name: getattr(self, name) for name in self.counter_names()}

    def reset(self) -> None:
        """Set every counter back to zero."""
        with self._lock:
            for name in self.counter_names():
                setattr(self, name, 0)


@dataclass(frozen=True, slots=True)
class SeenRequest:
    """One request to a Honeycomb endpoint, as the receiver saw it (never with its key).

    `path` is the raw URL path without the query, `dataset` the decoded dataset name (None for
    ``/1/auth``), `body_bytes` the raw body size, `event_count` the events the body held (0 when
    it could not be read), `status` the response status (0 when no complete response was sent:
    a dropped-connection fault, or a client that went away), `has_key` whether a non-blank
    ``X-Honeycomb-Team`` header came with it.
    """

    method: str
    path: str
    dataset: str | None
    content_type: str | None
    content_encoding: str | None
    body_bytes: int
    event_count: int
    status: int
    has_key: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RequestLog:
    """The most recent requests to the Honeycomb endpoints, oldest first. Thread-safe."""

    def __init__(self, maxlen: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._entries: collections.deque[SeenRequest] = collections.deque(maxlen=maxlen)

    def append(self, seen: SeenRequest) -> None:
        with self._lock:
            self._entries.append(seen)

    def entries(self) -> list[SeenRequest]:
        """A copy of the log."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __iter__(self) -> Iterator[SeenRequest]:
        return iter(self.entries())

    def __getitem__(self, index: int) -> SeenRequest:
        with self._lock:
            return self._entries[index]
