"""Bar charts drawn on the server as SVG geometry (the template ``macros.bar_chart`` renders it).

No chart library and no script: a chart is a few rectangles whose sizes are
computed here, so it obeys the console's CSP and reads the same without
JavaScript. Each bar may be stacked from named parts (e.g. events and refusals).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Part:
    name: str
    value: float
    css: str
    x: float = 0
    y: float = 0
    w: float = 0
    h: float = 0


@dataclass(frozen=True)
class Bar:
    label: str
    parts: tuple[Part, ...]
    cx: float = 0
    top: float = 0
    total_label: str = ""


@dataclass(frozen=True)
class BarChart:
    id: str
    title: str
    caption: str
    bars: tuple[Bar, ...]
    width: int = 640
    height: int = 220
    left: int = 10
    base: float = 190
    limit_y: float | None = None
    limit_label: str = ""
    legend: tuple[tuple[str, str], ...] = field(default=())


def bar_chart(
    chart_id: str,
    title: str,
    caption: str,
    rows: Sequence[tuple[str, Sequence[tuple[str, float, str]]]],
    *,
    limit: float | None = None,
    limit_label: str = "",
    unit: str = "",
    width: int = 640,
    height: int = 220,
) -> BarChart:
    """``rows``: (label, [(part name, value, css class)...]) left to right; ``limit``: a line."""
    left, right, top_pad, bottom = 10, 10, 24, 30
    base: float = height - bottom
    totals = [sum(v for _, v, _ in parts) for _, parts in rows]
    scale_max = max([*totals, limit or 0, 1])
    plot_h = base - top_pad
    slot = (width - left - right) / max(1, len(rows))
    bar_w = max(4.0, min(48.0, slot * 0.6))
    bars = []
    for index, ((label, parts), total) in enumerate(zip(rows, totals, strict=True)):
        cx = left + slot * index + slot / 2
        y = base
        drawn = []
        for name, value, css in parts:
            h = plot_h * value / scale_max
            y -= h
            drawn.append(
                Part(
                    name,
                    value,
                    css,
                    round(cx - bar_w / 2, 1),
                    round(y, 1),
                    round(bar_w, 1),
                    round(h, 1),
                )
            )
        shown = f"{total:g}{unit}"
        bars.append(Bar(label, tuple(drawn), round(cx, 1), round(y, 1), shown))
    limit_y = None if limit is None else round(base - plot_h * limit / scale_max, 1)
    return BarChart(
        chart_id,
        title,
        caption,
        tuple(bars),
        width=width,
        height=height,
        left=left,
        base=base,
        limit_y=limit_y,
        limit_label=limit_label,
    )
