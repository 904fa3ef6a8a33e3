"""A benchmark's makespans against N as an SVG line chart: the geometry, in pixels.

One chart per workload, one line per subject, N on a log2 axis (the runner counts double),
seconds on a linear one from zero, so that a line twice as high took twice as long.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

WIDTH_PX = 640
HEIGHT_PX = 320
LEFT_PX = 56  # the seconds' labels
RIGHT_PX = 170  # the legend
TOP_PX = 16
BOTTOM_PX = 40  # the runner counts' labels and the axis title
# one colour per line, told apart by lightness too (Okabe-Ito)
COLOURS = ("#000000", "#e69f00", "#56b4e9", "#009e73", "#d55e00", "#0072b2", "#cc79a7")


@dataclass(frozen=True)
class Line:
    subject: str
    colour: str
    points: tuple[tuple[float, float], ...]  # x, y of each measured N
    failed: tuple[float, ...]  # x of the N where its run failed: a mark on the axis

    @property
    def path(self) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in self.points)


@dataclass(frozen=True)
class Tick:
    label: str
    at: float  # x for N, y for seconds


@dataclass(frozen=True)
class Chart:
    title: str
    width: int
    height: int
    left: int
    top: int
    plot_width: float
    plot_height: float
    lines: tuple[Line, ...]
    runner_ticks: tuple[Tick, ...]
    second_ticks: tuple[Tick, ...]


def _step(top: float) -> float:
    """A round step for about five ticks up to ``top`` seconds."""
    raw = max(top, 1.0) / 5
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1.0, 2.0, 5.0, 10.0) if m * magnitude >= raw)


def chart(title: str, rows: Sequence[dict[str, Any]], subjects: Sequence[str]) -> Chart:
    """The chart of ``rows`` (the suite's, for one workload) with a line per subject, in
    ``subjects``' order; a failed run has no point, only a mark at its N."""
    counts = sorted({int(r["runners"]) for r in rows})
    done = [r for r in rows if r["makespan_s"] and r["status"] == "ok"]
    top = max((float(r["makespan_s"]) for r in done), default=1.0)
    step = _step(top)
    ceiling = step * math.ceil(top / step)
    plot_w = WIDTH_PX - LEFT_PX - RIGHT_PX
    plot_h = HEIGHT_PX - TOP_PX - BOTTOM_PX
    span = max(math.log2(counts[-1]) - math.log2(counts[0]), 1.0) if counts else 1.0

    def x(n: int) -> float:
        return LEFT_PX + (math.log2(n) - math.log2(counts[0])) / span * plot_w

    def y(seconds: float) -> float:
        return TOP_PX + plot_h - seconds / ceiling * plot_h

    lines = []
    for i, subject in enumerate(subjects):
        mine = sorted((r for r in rows if r["subject"] == subject), key=lambda r: r["runners"])
        points = tuple((x(r["runners"]), y(float(r["makespan_s"]))) for r in mine if r in done)
        failed = tuple(x(r["runners"]) for r in mine if r not in done)
        lines.append(Line(subject, COLOURS[i % len(COLOURS)], points, failed))
    ticks = round(ceiling / step)
    return Chart(
        title=title,
        width=WIDTH_PX,
        height=HEIGHT_PX,
        left=LEFT_PX,
        top=TOP_PX,
        plot_width=plot_w,
        plot_height=plot_h,
        lines=tuple(lines),
        runner_ticks=tuple(Tick(str(n), x(n)) for n in counts),
        second_ticks=tuple(Tick(f"{k * step:g} s", y(k * step)) for k in range(ticks + 1)),
    )
