"""Server-side SVG charts: pure Python that turns series into coordinates for a template to draw.

No JavaScript and no CDN, so the charts work offline and under a strict Content-Security-Policy
(no inline script, no inline style: series are coloured through CSS classes). Nothing here
touches Django or the database; templates/recommendations/_chart.html draws the result.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Number = float | int | None


@dataclass(frozen=True)
class Tick:
    position: float  # pixels along the axis, in the chart's viewBox
    label: str


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str  # what a pointer hover (an SVG <title>) says about this point


@dataclass(frozen=True)
class Line:
    name: str
    css_class: str
    # One "x,y x,y …" string per unbroken stretch: a missing value breaks the line rather than
    # drawing a slope through a point that was never measured.
    segments: list[str]
    points: list[Point]


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css_class: str
    label: str


@dataclass(frozen=True)
class LegendEntry:
    name: str
    css_class: str
    shape: str  # "line" or "box", to match how the series is drawn


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    lines: list[Line]
    bars: list[Bar]
    legend: list[LegendEntry]

    @property
    def is_empty(self) -> bool:
        return not any(line.points for line in self.lines) and not self.bars

    # Where the axis labels sit (templates cannot do arithmetic).
    @property
    def y_label_x(self) -> float:
        return self.left - 8

    @property
    def x_label_y(self) -> float:
        return self.bottom + 20


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[Number]
    css_class: str = ""


WIDTH, HEIGHT = 640, 260
# The right margin holds half of the last x label ("27 Nov"), which is centred on the last point.
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 56, 30, 14, 36
MAX_X_LABELS = 8


def nice_ticks(low: float, high: float, *, count: int = 5) -> list[float]:
    """About `count` round tick values (steps of 1, 2, 2.5 or 5 × 10^k) covering [low, high].

    The first tick is <= low and the last >= high. An empty range is widened around its value.
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError("tick range must be finite")
    if low > high:
        low, high = high, low
    if low == high == 0:
        high = 1.0
    elif low == high:
        pad = abs(low) * 0.1
        low, high = low - pad, high + pad
    raw_step = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw_step * (1 - 1e-9))
    first = math.floor(low / step + 1e-9) * step
    ticks = [round(first, 10)]
    while ticks[-1] < high - step * 1e-9:
        ticks.append(round(first + step * len(ticks), 10))
    return ticks


def format_tick(value: float, ticks: Sequence[float]) -> str:
    """`value` with as many decimals as the tick step needs (0.05 steps → two decimals)."""
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else abs(value) or 1.0
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    if not float(round(step * 10**decimals, 6)).is_integer() and decimals < 6:
        decimals += 1  # 2.5, 0.25 …
    return f"{value:.{decimals}f}"


def _clean(value: Number) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


class _Frame:
    """Maps data to pixels: x by position in the sequence, y linearly between the outer ticks."""

    def __init__(self, n: int, y_ticks: list[float], *, width: int, height: int, band: bool):
        self.n = n
        self.left, self.right = MARGIN_LEFT, width - MARGIN_RIGHT
        self.top, self.bottom = MARGIN_TOP, height - MARGIN_BOTTOM
        self.y_low, self.y_high = y_ticks[0], y_ticks[-1]
        # Bars need a band per value; a line can run edge to edge.
        self.band = band
        slots = n if band else max(n - 1, 1)
        self.step = (self.right - self.left) / max(slots, 1)

    def x(self, index: int) -> float:
        if self.band:
            return round(self.left + self.step * (index + 0.5), 2)
        if self.n == 1:
            return round((self.left + self.right) / 2, 2)
        return round(self.left + self.step * index, 2)

    def y(self, value: float) -> float:
        span = self.y_high - self.y_low
        return round(self.bottom - (value - self.y_low) / span * (self.bottom - self.top), 2)


def _x_ticks(frame: _Frame, x_labels: Sequence[str]) -> list[Tick]:
    # Label every k-th position so that at most MAX_X_LABELS labels share the axis.
    every = max(1, math.ceil(len(x_labels) / MAX_X_LABELS))
    return [Tick(frame.x(i), label) for i, label in enumerate(x_labels) if i % every == 0]


def _y_range(values: list[float], *, include_zero: bool) -> tuple[float, float]:
    if not values:
        return (0.0, 1.0)
    low, high = min(values), max(values)
    if include_zero:
        low, high = min(low, 0.0), max(high, 0.0)
    return low, high


def _check_lengths(x_labels: Sequence[str], series: Sequence[Series], tick_labels: Sequence[str] | None) -> None:
    if tick_labels is not None and len(tick_labels) != len(x_labels):
        raise ValueError(f"{len(tick_labels)} tick labels for {len(x_labels)} x labels")
    for s in series:
        if len(s.values) != len(x_labels):
            raise ValueError(f"series {s.name!r} has {len(s.values)} values for {len(x_labels)} labels")


def _legend(series: Sequence[Series], shape: str) -> list[LegendEntry]:
    return [LegendEntry(s.name, s.css_class or f"series-{i + 1}", shape) for i, s in enumerate(series)]


def line_chart(
    *,
    x_labels: Sequence[str],
    series: Sequence[Series],
    tick_labels: Sequence[str] | None = None,
    include_zero: bool = False,
    value_format: Callable[[float], str] = lambda v: f"{v:g}",
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Chart:
    """One polyline per series over positions 0..len(x_labels)-1.

    Every series has one value per x label; None (or NaN) leaves a gap. `x_labels` name the
    positions in each point's hover label, `tick_labels` (default: the same) label the x axis.
    The y axis spans round ticks around the data, from zero when `include_zero`. Series without
    a css_class are classed series-1, series-2 … in order. Raises ValueError on length mismatch.
    """
    _check_lengths(x_labels, series, tick_labels)
    cleaned = [[_clean(v) for v in s.values] for s in series]
    y_ticks = nice_ticks(*_y_range([v for vs in cleaned for v in vs if v is not None], include_zero=include_zero))
    frame = _Frame(len(x_labels), y_ticks, width=width, height=height, band=False)
    legend = _legend(series, "line")
    lines = []
    for s, values, entry in zip(series, cleaned, legend, strict=True):
        segments: list[list[str]] = [[]]
        points = []
        for i, value in enumerate(values):
            if value is None:
                if segments[-1]:
                    segments.append([])
                continue
            x, y = frame.x(i), frame.y(value)
            segments[-1].append(f"{x:g},{y:g}")
            points.append(Point(x, y, f"{x_labels[i]}: {s.name} {value_format(value)}"))
        lines.append(Line(s.name, entry.css_class, [" ".join(seg) for seg in segments if seg], points))
    return _chart(frame, width, height, x_labels if tick_labels is None else tick_labels, y_ticks, legend, lines=lines)


def stacked_bar_chart(
    *,
    x_labels: Sequence[str],
    series: Sequence[Series],
    tick_labels: Sequence[str] | None = None,
    value_format: Callable[[float], str] = lambda v: f"{v:g}",
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Chart:
    """One bar per x label, the series' values (None or negative counted as 0) stacked from zero.

    Labels and classes as for `line_chart`; the y axis always starts at zero.
    """
    _check_lengths(x_labels, series, tick_labels)
    cleaned = [[max(_clean(v) or 0.0, 0.0) for v in s.values] for s in series]
    totals = [sum(column) for column in zip(*cleaned, strict=True)] if cleaned else []
    y_ticks = nice_ticks(*_y_range(totals, include_zero=True))
    frame = _Frame(len(x_labels), y_ticks, width=width, height=height, band=True)
    legend = _legend(series, "box")
    bar_width = round(min(frame.step * 0.7, 48), 2)
    bars = []
    for i, label in enumerate(x_labels):
        base = 0.0
        for s, values, entry in zip(series, cleaned, legend, strict=True):
            value = values[i]
            if value <= 0:
                continue
            y_top, y_bottom = frame.y(base + value), frame.y(base)
            bars.append(
                Bar(
                    x=round(frame.x(i) - bar_width / 2, 2),
                    y=y_top,
                    width=bar_width,
                    height=round(y_bottom - y_top, 2),
                    css_class=entry.css_class,
                    label=f"{label}: {s.name} {value_format(value)}",
                )
            )
            base += value
    return _chart(frame, width, height, x_labels if tick_labels is None else tick_labels, y_ticks, legend, bars=bars)


def _chart(frame, width, height, tick_labels, y_ticks, legend, *, lines=(), bars=()) -> Chart:
    return Chart(
        width=width,
        height=height,
        left=frame.left,
        top=frame.top,
        right=frame.right,
        bottom=frame.bottom,
        x_ticks=_x_ticks(frame, tick_labels),
        y_ticks=[Tick(frame.y(t), format_tick(t, y_ticks)) for t in y_ticks],
        lines=list(lines),
        bars=list(bars),
        legend=legend,
    )
