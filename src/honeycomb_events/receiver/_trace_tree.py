"""The order a waterfall draws spans in: parents before children, siblings by start time; and
how many spans each one has below it (what collapsing it hides).

Whatever the stored ids say, every span is drawn exactly once and nothing recurses: a chain of
any length is walked with an explicit stack, a span whose parent is not among the spans (or is
itself) starts a tree of its own, and spans reachable only through a parent cycle are drawn
from the earliest of them, as if it were a root.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def depth_first(
    spans: Sequence[T],
    *,
    span_id: Callable[[T], str | None],
    parent_id: Callable[[T], str | None],
    start: Callable[[T], int],
) -> list[tuple[T, int]]:
    """Every span of `spans` once, with its depth (0 for a root), in waterfall order.

    When two spans share an id, children attach to the earlier one in `spans`.
    """
    first_with_id: dict[str, int] = {}
    for index, span in enumerate(spans):
        key = span_id(span)
        if key is not None:
            first_with_id.setdefault(key, index)
    by_start = sorted(range(len(spans)), key=lambda index: (start(spans[index]), index))
    children: list[list[int]] = [[] for _ in spans]
    roots: list[int] = []
    for index in by_start:
        parent_key = parent_id(spans[index])
        parent = None if parent_key is None else first_with_id.get(parent_key)
        if parent is None or parent == index:
            roots.append(index)
        else:
            children[parent].append(index)
    # A cycle keeps its spans out of reach of every root: the earliest span of each such
    # group becomes a root too, and all roots are then drawn in start order.
    reached = [False] * len(spans)
    _walk(roots, children, reached)
    for index in by_start:
        if not reached[index]:
            roots.append(index)
            _walk([index], children, reached)
    rank = {index: position for position, index in enumerate(by_start)}
    roots.sort(key=rank.__getitem__)
    return [(spans[index], depth) for index, depth in _walk(roots, children, [False] * len(spans))]


def _walk(roots: list[int], children: list[list[int]], drawn: list[bool]) -> list[tuple[int, int]]:
    """Depth first from each root in turn, skipping what `drawn` marks (and marking it)."""
    ordered: list[tuple[int, int]] = []
    for root in roots:
        stack = [(root, 0)]
        while stack:
            index, depth = stack.pop()
            if drawn[index]:
                continue
            drawn[index] = True
            ordered.append((index, depth))
            stack.extend((child, depth + 1) for child in reversed(children[index]))
    return ordered


def descendant_counts(depths: Sequence[int]) -> list[int]:
    """For spans in waterfall order with these depths, how many spans each has below it: they
    are the ones right after it that are deeper."""
    counts = [0] * len(depths)
    open_spans: list[int] = []
    for index, depth in enumerate(depths):
        while open_spans and depths[open_spans[-1]] >= depth:
            above = open_spans.pop()
            counts[above] = index - above - 1
        open_spans.append(index)
    for above in open_spans:
        counts[above] = len(depths) - above - 1
    return counts
