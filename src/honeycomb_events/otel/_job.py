"""A batch on its way through the courier, and what became of each of its events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from honeycomb_events._encode import EncodedEvents
from honeycomb_events._model import ACCEPTED, EventResult


@dataclass(eq=False)
class Job:
    """A batch for one dataset: its events, and what became of each (None while pending).

    A retry of some of its events is a child job, whose results land in the parent's.
    """

    dataset: str
    encoded: EncodedEvents
    parent: Job | None = None
    positions: Sequence[int] = ()
    results: list[EventResult | None] = field(init=False)
    pending: int = field(init=False)

    def __post_init__(self) -> None:
        self.results = [None] * len(self.encoded)
        self.pending = len(self.encoded)

    @property
    def size(self) -> int:
        return self.encoded.raw_size

    @property
    def settled(self) -> bool:
        return self.pending == 0

    @property
    def accepted(self) -> bool:
        # Identity first: a C loop over the usual answer, no __eq__ per event.
        return self.settled and (
            self.results.count(ACCEPTED) == len(self.results)
            or all(result is not None and result.ok for result in self.results)
        )

    @property
    def failed(self) -> bool:
        """Some of its events failed for good already."""
        results = self.results
        # Nothing settled yet, or all accepted (counted in C: the answer is a singleton).
        if self.pending == len(results) or results.count(ACCEPTED) == len(results):
            return False
        return any(result is not None and not result.ok for result in results)

    def settle_all(self, results: list[EventResult]) -> None:
        """Final results for every event, in order: the usual case, without a loop per
        event."""
        if self.pending != len(self.results):  # some were settled before: one by one
            self.settle(dict(enumerate(results)))
            return
        self.results = list(results)
        self.pending = 0
        if self.parent is not None:
            self.parent.settle(dict(zip(self.positions, results, strict=True)))

    def settle(self, outcome: dict[int, EventResult]) -> None:
        """Final results for some of the events, by position."""
        for position, result in outcome.items():
            if self.results[position] is None:
                self.pending -= 1
            self.results[position] = result
        if self.parent is not None:
            self.parent.settle({self.positions[p]: result for p, result in outcome.items()})

    def everything(self, result: EventResult) -> dict[int, EventResult]:
        """`result` for every event still pending."""
        return {p: result for p, current in enumerate(self.results) if current is None}
