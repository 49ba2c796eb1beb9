"""Small SVG charts drawn on the server: no JavaScript, no CDN, readable in any browser.

Every value and label goes through ``format_html``, so the markup is escaped
like any other template output.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 720, 200
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 28


@dataclass(frozen=True)
class Point:
    label: str  # the x-axis label (a day)
    value: float | None  # None: no data that day (drawn as a gap)


def _scale(values: Sequence[float | None], ceiling: float | None) -> float:
    top = ceiling if ceiling is not None else max((v for v in values if v is not None), default=0)
    return top or 1.0


def _axes(points: Sequence[Point], top: float, fmt: Callable[[float], str]) -> SafeString:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    # Gridlines at 0, half and the top; a half that reads like a neighbour (0.5 → "0" for counts) is left out.
    ticks_at: dict[str, float] = {}
    for fraction in (0, 0.5, 1):
        ticks_at.setdefault(fmt(top * fraction), fraction)
    ticks = format_html_join(
        "",
        '<line x1="{}" y1="{}" x2="{}" y2="{}" class="grid"/><text x="{}" y="{}" text-anchor="end">{}</text>',
        (
            (LEFT, y, LEFT + plot_w, y, LEFT - 4, y + 4, label)
            for label, fraction in ticks_at.items()
            for y in [round(TOP + plot_h * (1 - fraction), 1)]
        ),
    )
    step = max(1, len(points) // 6)
    labels = format_html_join(
        "",
        '<text x="{}" y="{}" text-anchor="middle">{}</text>',
        (
            (round(LEFT + plot_w * (index + 0.5) / len(points), 1), HEIGHT - 8, point.label)
            for index, point in enumerate(points)
            if index % step == 0 or index == len(points) - 1
        ),
    )
    return format_html("{}{}", ticks, labels)


def _frame(title: str, body: SafeString) -> SafeString:
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="100%" role="img" aria-label="{}" '
        'class="huyi-chart"><title>{}</title>'
        "<style>.grid{{stroke:#8884;stroke-width:1}} text{{font:11px sans-serif;fill:currentColor}}</style>"
        "{}</svg>",
        WIDTH,
        HEIGHT,
        title,
        title,
        body,
    )


def bar_chart(title: str, points: Sequence[Point], *, fmt: Callable[[float], str] = lambda v: f"{v:g}") -> SafeString:
    """One bar per point (sends per day)."""
    if not points:
        return _frame(title, mark_safe(""))
    top = _scale([p.value for p in points], None)
    if top > 1:
        top = math.ceil(top / 2) * 2  # counts: an even top puts a whole number on the half-way line
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(points)
    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="#417690"><title>{}: {}</title></rect>',
        (
            (
                round(LEFT + slot * index + slot * 0.15, 1),
                round(TOP + plot_h - plot_h * (point.value or 0) / top, 1),
                round(slot * 0.7, 1),
                round(plot_h * (point.value or 0) / top, 1),
                point.label,
                fmt(point.value or 0),
            )
            for index, point in enumerate(points)
        ),
    )
    return _frame(title, format_html("{}{}", _axes(points, top, fmt), bars))


def line_chart(
    title: str,
    points: Sequence[Point],
    *,
    ceiling: float | None = None,
    fmt: Callable[[float], str] = lambda v: f"{v:g}",
) -> SafeString:
    """A line through the points with a dot on each; days without data break the line."""
    if not points:
        return _frame(title, mark_safe(""))
    top = _scale([p.value for p in points], ceiling)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def xy(index: int, value: float) -> tuple[float, float]:
        return (
            round(LEFT + plot_w * (index + 0.5) / len(points), 1),
            round(TOP + plot_h - plot_h * min(value, top) / top, 1),
        )

    segments: list[list[tuple[float, float]]] = [[]]
    for index, point in enumerate(points):
        if point.value is None:
            segments.append([])
        else:
            segments[-1].append(xy(index, point.value))
    lines = format_html_join(
        "",
        '<polyline points="{}" fill="none" stroke="#417690" stroke-width="2"/>',
        ((" ".join(f"{x},{y}" for x, y in segment),) for segment in segments if len(segment) > 1),
    )
    dots = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="3" fill="#417690"><title>{}: {}</title></circle>',
        (
            (*xy(index, point.value), point.label, fmt(point.value))
            for index, point in enumerate(points)
            if point.value is not None
        ),
    )
    return _frame(title, format_html("{}{}{}", _axes(points, top, fmt), lines, dots))
