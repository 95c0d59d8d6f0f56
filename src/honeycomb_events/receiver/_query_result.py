"""What a query answers: its groups, each with the overall value and the time series of every
calculation, and the heatmaps; and the JSON form the endpoint and ``query --json`` write."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from honeycomb_events._model import format_time_ns
from honeycomb_events._query_spec import QuerySpec


@dataclass(frozen=True, slots=True)
class Heatmap:
    """``HEATMAP(field)`` over every matching event: the field's numbers counted (weighted by
    sample rate) by value bucket and time bucket.

    `edges` are the value buckets' bounds, lowest first: bucket ``j`` holds values from
    ``edges[j]`` up to ``edges[j + 1]`` (the last one including its upper bound); no numbers
    means no edges. ``counts[t][j]`` is the count of time bucket ``t`` and value bucket ``j``.
    """

    edges: tuple[float, ...]
    counts: tuple[tuple[int | float, ...], ...]

    def to_json(self) -> dict[str, Any]:
        return {"edges": list(self.edges), "counts": [list(row) for row in self.counts]}


@dataclass(frozen=True, slots=True)
class GroupResult:
    """One group: its breakdown values and its calculations.

    `key` holds the group's value of each breakdown, in the query's order (None where the
    events lack the field); `events` how many stored events it holds (not weighted).
    `values` maps each calculation's label to its value over the whole time range: a number,
    or None where the group has no numbers for it (COUNT and COUNT_DISTINCT are never None);
    for ``HEATMAP(field)``, the list of the group's counts per value bucket of the query's
    heatmap. `series` maps each label but the heatmaps' to one value per time bucket, None
    where the bucket has no numbers for it (COUNT: 0).
    """

    key: tuple[Any, ...]
    events: int
    values: dict[str, Any]
    series: dict[str, list[Any]]


@dataclass(frozen=True, slots=True)
class QueryResult:
    """A query's answer: `groups` ordered and cut to the query's limit, out of
    `total_groups`; `events` matching events (not weighted); a `Heatmap` per HEATMAP label;
    `bucket_starts_ns` the start of each time bucket of the series."""

    spec: QuerySpec
    bucket_starts_ns: list[int]
    groups: list[GroupResult]
    total_groups: int
    events: int
    heatmaps: dict[str, Heatmap]

    @property
    def labels(self) -> list[str]:
        """The calculations' labels, in the query's order."""
        return [calc.label for calc in self.spec.calculations]

    def to_json(self) -> dict[str, Any]:
        """The endpoint's answer: the query (absolute times), ``times`` (each bucket's start,
        RFC3339) and ``times_ns``, ``calculations`` (labels), ``breakdowns``, ``groups``
        (each ``{"group": {breakdown: value}, "events", "values", "series"}``),
        ``total_groups``, ``events`` and ``heatmaps``."""
        breakdowns = self.spec.breakdowns
        return {
            "query": self.spec.to_json(),
            "times": [format_time_ns(start) for start in self.bucket_starts_ns],
            "times_ns": self.bucket_starts_ns,
            "calculations": self.labels,
            "breakdowns": list(breakdowns),
            "groups": [
                {
                    "group": dict(zip(breakdowns, group.key, strict=True)),
                    "events": group.events,
                    "values": group.values,
                    "series": group.series,
                }
                for group in self.groups
            ],
            "total_groups": self.total_groups,
            "events": self.events,
            "heatmaps": {label: heatmap.to_json() for label, heatmap in self.heatmaps.items()},
        }
