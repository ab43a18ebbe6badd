"""Small line charts of KPI series as inline SVG: the server computes the path data, the
template draws it. No script runs in the browser, so a chart swapped in by htmx is complete."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT, PAD = 600, 160, 8


@dataclass(frozen=True)
class Line:
    name: str
    css: str  # the colour's modifier class in app.css
    path: str  # SVG path data; empty when the series has no values
    latest: float | None


@dataclass(frozen=True)
class Chart:
    title: str
    unit: str
    y_max: float
    lines: list[Line]
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def empty(self) -> bool:
        return not any(line.path for line in self.lines)


def line_chart(
    *,
    title: str,
    unit: str,
    series: dict[str, tuple[str, Sequence[float | None]]],
    y_max: float | None = None,
) -> Chart:
    """One line per named series (css class, values per window, None for no value). The y
    axis runs from 0 to `y_max`, or to the largest value."""
    values = [v for _, points in series.values() for v in points if v is not None]
    top = y_max if y_max is not None else max([*values, 0.0])
    top = top or 1.0  # a flat zero line still sits on the axis
    lines = [
        Line(
            name,
            css,
            svg_path(points, top),
            next((v for v in reversed(points) if v is not None), None),
        )
        for name, (css, points) in series.items()
    ]
    return Chart(title=title, unit=unit, y_max=top, lines=lines)


def svg_path(points: Sequence[float | None], top: float) -> str:
    """Path data through the points, evenly spaced across the chart; a None breaks the line
    (no value is not zero). A lone point is drawn as a dot (round caps on a zero-length
    segment)."""
    step = (WIDTH - 2 * PAD) / max(len(points) - 1, 1)
    parts: list[str] = []
    pen_down = False
    for index, value in enumerate(points):
        if value is None:
            pen_down = False
            continue
        x = PAD + index * step if len(points) > 1 else WIDTH / 2
        y = HEIGHT - PAD - (min(value, top) / top) * (HEIGHT - 2 * PAD)
        parts.append(f"{'L' if pen_down else 'M'}{x:.1f} {y:.1f}")
        if not pen_down:
            parts.append("h0")
        pen_down = True
    return " ".join(parts)
