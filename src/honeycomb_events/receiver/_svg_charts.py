"""A query's charts as inline SVG, drawn on the server: a time series with one line per group,
and a heatmap of counts by time and value. Pure functions of numbers and texts.

Anything can arrive as a value (an engine's None for an empty bucket, a huge integer, a
non-finite float, a string): what is not a finite number is a gap. The drawing stays bounded:
a path per line, a hover target per point only up to `MAX_POINT_TARGETS`, and a heatmap merges
time buckets down to `MAX_HEATMAP_COLUMNS` columns.
"""

from __future__ import annotations

import datetime as _dt
import html
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

COLOURS: Final = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#0b3d91",
    "#b35806",
    "#1b7837",
    "#8e0152",
    "#542788",
    "#5d3a1a",
    "#c51b7d",
    "#252525",
    "#808000",
    "#006d77",
)
"""Twenty colours told apart on white; lines past the twentieth reuse them, dashed."""
_DASHES: Final = ("", "7 3", "2 3")
MAX_POINT_TARGETS: Final = 2000
"""A chart gives its points a hover target (a circle with the value as its title) while it has
at most this many; past that, only the lines have titles."""
MAX_HEATMAP_COLUMNS: Final = 240
"""A heatmap with more time buckets draws neighbouring ones merged, about 4 px a column."""
_DOTS_UP_TO: Final = 60
"""A series of at most this many buckets shows its points; a longer one only on hover."""

_WIDTH, _HEIGHT = 960, 280
_LEFT, _RIGHT, _TOP, _BOTTOM = 84, 16, 12, 40
_PLOT_W, _PLOT_H = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM
_SECOND: Final = 1_000_000_000
_TIME_STEPS: Final = tuple(
    n * unit
    for unit, counts in (
        (_SECOND, (1, 2, 5, 10, 15, 30)),
        (60 * _SECOND, (1, 2, 5, 10, 15, 30)),
        (3600 * _SECOND, (1, 2, 3, 6, 12)),
        (86400 * _SECOND, (1, 2, 7, 14, 28, 91, 364)),
    )
    for n in counts
)
_EPOCH: Final = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_LOW_RGB: Final = (222, 235, 247)
_HIGH_RGB: Final = (8, 48, 107)


def series_style(index: int) -> tuple[str, str]:
    """The colour and dash pattern of the line drawn `index`-th (the dash is "" for solid)."""
    return COLOURS[index % len(COLOURS)], _DASHES[(index // len(COLOURS)) % len(_DASHES)]


def swatch(index: int) -> str:
    """A short stroke in the style of line `index`, for a legend or a table row."""
    colour, dash = series_style(index)
    dashed = f" stroke-dasharray='{dash}'" if dash else ""
    return (
        "<svg class=swatch width=26 height=10 aria-hidden=true>"
        f"<line x1=1 y1=5 x2=25 y2=5 stroke='{colour}' stroke-width=3{dashed} /></svg>"
    )


def finite(value: Any) -> float | None:
    """`value` as a finite float; None for anything else (booleans, text, NaN, 10**400)."""
    if type(value) is float:
        return value if math.isfinite(value) else None
    if type(value) is int and -sys.float_info.max <= value <= sys.float_info.max:
        return float(value)
    return None


def number_text(value: float) -> str:
    """A number short enough for an axis: ``0.25``, ``1.5k``, ``12M``, ``-6.67e+299``."""
    size = abs(value)
    for unit, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if unit <= size < 1e15:
            return f"{value / unit:.3g}{suffix}"
    return f"{value:.3g}"


def time_text(nanos: int, step_ns: int = _SECOND) -> str:
    """A moment in UTC, as precise as a step of `step_ns` needs."""
    moment = _EPOCH + _dt.timedelta(microseconds=nanos // 1000)
    if step_ns >= 86400 * _SECOND:
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%H:%M:%S" if step_ns < 60 * _SECOND else "%H:%M")


def moment_text(nanos: int) -> str:
    """A moment in UTC to the second, ``2024-05-01 12:00:05``."""
    return (_EPOCH + _dt.timedelta(microseconds=nanos // 1000)).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True, slots=True)
class Line:
    """One group's series: its name (plain text), its style index, a value per time bucket."""

    name: str
    index: int
    values: Sequence[Any]


class _Scale:
    """A linear map from [low, high] to [start, end] pixels, exact for any finite bounds."""

    def __init__(self, low: float, high: float, start: float, end: float) -> None:
        self.low, self.high, self.start, self.end = low, high, start, end
        # Halves: high - low overflows when the bounds are near the float range's ends.
        self.half_span = high / 2 - low / 2

    def at(self, value: float) -> float:
        share = (value / 2 - self.low / 2) / self.half_span if self.half_span else 0.5
        return self.start + (self.end - self.start) * share


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round values (1, 2, 2.5 or 5 times a power of ten apart) covering
    [low, high]; just the bounds when no such steps fit in floats."""
    if high <= low:
        high, low = (low + 1, low) if low == 0 else (low + abs(low) / 2, low - abs(low) / 2)
    raw = (high / 2 - low / 2) * 2 / count
    if not math.isfinite(raw) or raw <= 0:
        return [low, high]
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw), 0.0)
    if not step or not math.isfinite(step):
        return [low, high]
    first, last = math.floor(low / step), math.ceil(high / step)
    ticks = [(first + i) * step for i in range(int(last - first) + 1)]
    if len(ticks) > 4 * count or not all(map(math.isfinite, ticks)):
        return [low, high]
    return ticks


def _time_ticks(first_ns: int, last_ns: int) -> tuple[list[int], int]:
    """Round moments (multiples of a step, in UTC) from `first_ns` to `last_ns`, at most
    about seven, and the step."""
    span = max(last_ns - first_ns, 1)
    step = next((s for s in _TIME_STEPS if span / s <= 7), _TIME_STEPS[-1])
    if span / step > 7:
        step = step * math.ceil(span / step / 7)
    start = -(-first_ns // step) * step
    return list(range(start, last_ns + 1, step)), step


def _frame(y_ticks: Sequence[tuple[float, str]], x_ticks: Sequence[tuple[float, str]]) -> str:
    """The axes, grid lines and tick labels, given each tick's pixel position and text."""
    bottom = _TOP + _PLOT_H
    parts = [
        f"<line class=axis x1={_LEFT} y1={bottom} x2={_LEFT + _PLOT_W} y2={bottom} />",
        f"<line class=axis x1={_LEFT} y1={_TOP} x2={_LEFT} y2={bottom} />",
    ]
    for y, label in y_ticks:
        parts.append(
            f"<line class=grid x1={_LEFT} y1={y:.1f} x2={_LEFT + _PLOT_W} y2={y:.1f} />"
            f"<text class='tick value' x={_LEFT - 6} y={y + 4:.1f} text-anchor=end>"
            f"{html.escape(label)}</text>"
        )
    for x, label in x_ticks:
        # A label at the right end would be cut by the chart's edge: it ends at its tick.
        anchor = "end" if x > _LEFT + _PLOT_W - 30 else "middle"
        parts.append(
            f"<line class=axis x1={x:.1f} y1={bottom} x2={x:.1f} y2={bottom + 4} />"
            f"<text class='tick time' x={x:.1f} y={bottom + 16} text-anchor={anchor}>"
            f"{html.escape(label)}</text>"
        )
    return "".join(parts)


def _svg(kind: str, y_name: str, body: str) -> str:
    """A chart of `kind`, named for the value on its y axis."""
    return (
        f"<svg class='chart {kind}' viewBox='0 0 {_WIDTH} {_HEIGHT}' role=img "
        f"aria-label='{html.escape(y_name)}' preserveAspectRatio='xMinYMin meet'>"
        f"<text class=axis-name transform='translate(14 {_TOP + _PLOT_H / 2}) rotate(-90)' "
        f"text-anchor=middle>{html.escape(y_name)}</text>"
        f"<text class=axis-name x={_LEFT + _PLOT_W / 2} y={_HEIGHT - 4} text-anchor=middle>"
        "time (UTC)</text>"
        f"{body}</svg>"
    )


def line_chart(times_ns: Sequence[int], lines: Sequence[Line], *, value_name: str) -> str:
    """One line per group over the time buckets starting at `times_ns`, titled by
    `value_name` (a calculation's label); empty buckets leave gaps."""
    numbers = [_padded(line.values, len(times_ns)) for line in lines]
    present = [n for values in numbers for n in values if n is not None]
    if not times_ns or not present:
        return f"<p class=note>{html.escape(value_name)}: no values in this time range.</p>"
    ticks = nice_ticks(min(0.0, *present), max(0.0, *present))
    y = _Scale(ticks[0], ticks[-1], _TOP + _PLOT_H, _TOP)
    first, last = times_ns[0], times_ns[-1]
    x = _Scale(first, last, _LEFT, _LEFT + _PLOT_W)
    xs = [x.at(t) for t in times_ns]
    moments, step = _time_ticks(first, last)
    frame = _frame(
        [(y.at(tick), number_text(tick)) for tick in ticks],
        [(x.at(moment), time_text(moment, step)) for moment in moments],
    )
    targets = len(present) <= MAX_POINT_TARGETS
    dots = " dots" if len(times_ns) <= _DOTS_UP_TO else ""
    drawn = "".join(
        _line(
            line,
            [
                (t, px, None if n is None else y.at(n), n)
                for t, px, n in zip(times_ns, xs, values, strict=True)
            ],
            targets,
        )
        for line, values in zip(lines, numbers, strict=True)
    )
    body = f"{frame}<g class='lines{dots}'>{drawn}</g>"
    return _svg("line-chart", value_name, body)


def _padded(values: Sequence[Any], length: int) -> list[float | None]:
    numbers = [finite(value) for value in values[:length]]
    return numbers + [None] * (length - len(numbers))


def _runs(points: Sequence[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    """The points split where a value is missing."""
    runs: list[list[tuple[float, float]]] = [[]]
    for px, py in points:
        if py is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((px, py))
    return [run for run in runs if run]


def _line(
    line: Line, points: Sequence[tuple[int, float, float | None, float | None]], targets: bool
) -> str:
    """A group's path (a subpath per run of buckets with values; a lone value is a dot, the
    round line cap of a zero-length subpath) and, with `targets`, a titled circle per value.
    `points` are each bucket's start, x, y (None without a value) and value."""
    path = " ".join(
        "M" + " L".join(f"{px:.1f},{py:.1f}" for px, py in run) + (" h0" if len(run) == 1 else "")
        for run in _runs([(px, py) for _, px, py, _ in points])
    )
    colour, dash = series_style(line.index)
    name = html.escape(line.name)
    dashed = f" stroke-dasharray='{dash}'" if dash else ""
    circles = ""
    if targets:
        circles = "".join(
            f"<circle cx={px:.1f} cy={py:.1f} r=3 fill='{colour}'><title>{name}&#10;"
            f"{moment_text(t)}: {value:.6g}</title></circle>"
            for t, px, py, value in points
            if py is not None and value is not None
        )
    return (
        f"<g class=series data-series={line.index}><path d='{path}' stroke='{colour}'{dashed}>"
        f"<title>{name}</title></path>{circles}</g>"
    )


def _shade(share: float) -> str:
    """The colour of a heatmap cell holding `share` (0 to 1) of the fullest cell's count."""
    mixed = [round(lo + (hi - lo) * share) for lo, hi in zip(_LOW_RGB, _HIGH_RGB, strict=True)]
    return "#" + "".join(f"{part:02x}" for part in mixed)


def _columns(
    times_ns: Sequence[int], granularity_ns: int, counts: Sequence[Sequence[Any]], rows: int
) -> list[tuple[int, int, list[float]]]:
    """Each column's start and end and its count per value bucket: time buckets merged by
    the fewest that keeps at most `MAX_HEATMAP_COLUMNS` columns."""
    merge = max(1, math.ceil(len(times_ns) / MAX_HEATMAP_COLUMNS))
    columns = []
    for first in range(0, len(times_ns), merge):
        block = counts[first : first + merge]
        sums = [
            math.fsum(finite(row[j]) or 0.0 for row in block if j < len(row)) for j in range(rows)
        ]
        last = min(first + merge, len(times_ns)) - 1
        columns.append((times_ns[first], times_ns[last] + granularity_ns, sums))
    return columns


def _edge_ticks(edges: Sequence[Any], cell_h: float) -> list[tuple[float, str]]:
    """About seven of the value buckets' bounds, placed where their rows meet."""
    every = max(1, math.ceil(len(edges) / 7))
    ticks = []
    for k in range(0, len(edges), every):
        number = finite(edges[k])
        label = number_text(number) if number is not None else str(edges[k])[:20]
        ticks.append((_TOP + _PLOT_H - k * cell_h, label))
    return ticks


def heatmap_chart(
    times_ns: Sequence[int],
    granularity_ns: int,
    edges: Sequence[Any],
    counts: Sequence[Sequence[Any]],
    *,
    value_name: str,
    cell_href: Callable[[int, int, int], str | None] | None = None,
) -> str:
    """Counts by time bucket (x) and value bucket (y, between consecutive `edges`), as
    rectangles shaded by count; an empty cell is not drawn. ``counts[t][j]`` is time bucket
    ``t`` and value bucket ``j``. `cell_href(start_ns, end_ns, j)` links each cell (None: not
    that one)."""
    rows = len(edges) - 1
    columns = _columns(times_ns, granularity_ns, counts, rows) if rows > 0 else []
    top = max((count for _, _, sums in columns for count in sums), default=0.0)
    if top <= 0:
        return f"<p class=note>{html.escape(value_name)}: no numbers in this time range.</p>"
    cell_w, cell_h = _PLOT_W / len(columns), _PLOT_H / rows
    name = html.escape(value_name)
    cells = []
    for c, (start, end, sums) in enumerate(columns):
        for j, count in enumerate(sums):
            if count <= 0:
                continue
            title = (
                f"{moment_text(start)} to {moment_text(end)}&#10;{name} "
                f"{html.escape(_bound_text(edges[j]))} to {html.escape(_bound_text(edges[j + 1]))}"
                f": {count:.6g} events"
            )
            shade = _shade(math.log1p(count) / math.log1p(top))
            rect = (
                f"<rect x={_LEFT + c * cell_w:.2f} y={_TOP + _PLOT_H - (j + 1) * cell_h:.2f} "
                f"width={cell_w + 0.3:.2f} height={cell_h + 0.3:.2f} "
                f"fill='{shade}'><title>{title}</title></rect>"
            )
            href = None if cell_href is None else cell_href(start, end, j)
            if href is not None:
                rect = f"<a href='{html.escape(href)}'>{rect}</a>"
            cells.append(rect)
    x = _Scale(columns[0][0], columns[-1][1], _LEFT, _LEFT + _PLOT_W)
    moments, step = _time_ticks(columns[0][0], columns[-1][1])
    frame = _frame(_edge_ticks(edges, cell_h), [(x.at(m), time_text(m, step)) for m in moments])
    scale = "".join(
        f"<span class=heat style='background:{_shade(share / 4)}'></span>" for share in range(5)
    )
    return (
        _svg("heatmap", value_name, f"<g class=cells>{''.join(cells)}</g>{frame}")
        + f"<p class=heat-scale>events in a cell: 1 {scale} {top:.6g}</p>"
    )


def _bound_text(edge: Any) -> str:
    number = finite(edge)
    return f"{number:.6g}" if number is not None else str(edge)[:20]


def mini_histogram(counts: Sequence[Any]) -> str:
    """A group's counts per value bucket as small bars, for a table cell."""
    numbers = [finite(count) or 0.0 for count in counts[:MAX_HEATMAP_COLUMNS]]
    top = max(numbers, default=0.0)
    if top <= 0:
        return ""
    width = 2
    bars = "".join(
        f"<rect x={i * width} y={16 - 16 * n / top:.1f} width={width - 0.4} "
        f"height={16 * n / top:.1f} />"
        for i, n in enumerate(numbers)
        if n > 0
    )
    return (
        f"<svg class=histogram width={len(numbers) * width} height=16 "
        f"aria-label='counts by value'>{bars}</svg>"
    )
