"""What the store holds and gives back: `StoredEvent`, what `EventStore.add` takes
(`EventLike`), and the key a dataset name is stored under."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from honeycomb_events._model import format_time_ns


class EventLike(Protocol):
    """What `EventStore.add` needs from an event; `StoredEvent` is one."""

    @property
    def time_ns(self) -> int: ...

    @property
    def samplerate(self) -> int: ...

    @property
    def data(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One event as the receiver stored it.

    `dataset` is the dataset's display name (the casing it was first received with), `time_ns`
    the event time in nanoseconds since the Unix epoch and `time` the same instant as RFC3339
    UTC text with nine fractional digits.
    """

    dataset: str
    time_ns: int
    time: str
    samplerate: int
    data: dict[str, Any]

    @classmethod
    def create(
        cls, dataset: str, time_ns: int, data: dict[str, Any], samplerate: int = 1
    ) -> StoredEvent:
        """An event with its `time` text derived from `time_ns`."""
        return cls(dataset, time_ns, format_time_ns(time_ns), samplerate, data)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form served by ``GET /_receiver/events/{dataset}``."""
        return {
            "dataset": self.dataset,
            "time": self.time,
            "time_ns": self.time_ns,
            "samplerate": self.samplerate,
            "data": self.data,
        }


def dataset_key(name: str) -> str:
    """The key a dataset name is stored under: Honeycomb's dataset names ignore case."""
    return name.lower()
