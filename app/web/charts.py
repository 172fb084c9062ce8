"""Charts drawn by the server as inline SVG: this module only measures (where each bar and label goes, in the
chart's own units); templates/stats/charts.html draws, and Jinja escapes every label. No script, no inline style:
the Content-Security-Policy stays strict."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import ceil

# Horizontal bars: a label line above each bar; the chart is BAR_WIDTH units wide.
BAR_WIDTH, BAR_ROW, BAR_HEIGHT, BAR_SPACE = 400, 42, 15, 40
# Where a row's label sits (its baseline) and where its bar starts, from the row's top.
LABEL_BASELINE, BAR_TOP = 15, 20
LABEL_CHARACTERS = 48
# Columns (months): COLUMN_WIDTH units wide, at most COLUMN_LABELS labels under them.
COLUMN_WIDTH, COLUMN_HEIGHT, COLUMN_TOP, COLUMN_LABELS = 600, 200, 18, 12


@dataclass(frozen=True)
class Bar:
    """One bar: its label (shortened to fit; `title` is the whole), its value and where it is drawn."""

    label: str
    title: str
    value: int
    x: float
    y: float
    width: float
    height: float
    label_x: float
    label_y: float
    value_x: float
    value_y: float
    show_label: bool = True


@dataclass(frozen=True)
class Chart:
    """A chart's bars in a view box of `width` × `height` units."""

    width: float
    height: float
    bars: tuple[Bar, ...]
    baseline: float = 0.0


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARACTERS else label[: LABEL_CHARACTERS - 1] + "…"


def bar_chart(items: Sequence[tuple[str, int]]) -> Chart:
    """Horizontal bars, in the order given, the largest value spanning the chart less room for its number."""
    largest = max((value for _, value in items), default=0) or 1
    span = BAR_WIDTH - BAR_SPACE
    bars = []
    for row, (label, value) in enumerate(items):
        top, width = row * BAR_ROW, max(span * value / largest, 1 if value else 0)
        bars.append(Bar(_short(label), label, value, 0, top + BAR_TOP, width, BAR_HEIGHT, 0, top + LABEL_BASELINE,
                        width + 4, top + BAR_TOP + BAR_HEIGHT - 3))
    return Chart(BAR_WIDTH, max(len(items), 1) * BAR_ROW, tuple(bars))


def column_chart(items: Sequence[tuple[str, int]]) -> Chart:
    """Vertical columns left to right (months), labelled under them: every one up to COLUMN_LABELS columns, else
    evenly spaced ones; each column's number above it while they fit."""
    largest = max((value for _, value in items), default=0) or 1
    slot = COLUMN_WIDTH / max(len(items), 1)
    every = ceil(len(items) / COLUMN_LABELS) if items else 1
    base = COLUMN_TOP + COLUMN_HEIGHT
    bars = []
    for index, (label, value) in enumerate(items):
        height = COLUMN_HEIGHT * value / largest
        bars.append(Bar(label, f"{label}: {value}", value, index * slot + slot * 0.15, base - height, slot * 0.7,
                        height, index * slot + slot / 2, base + 16, index * slot + slot / 2, base - height - 4,
                        show_label=index % every == 0))
    return Chart(COLUMN_WIDTH, base + 24, tuple(bars), baseline=base)
