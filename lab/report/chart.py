"""Where each part of a timeline goes on the page: the SVG geometry, in pixels.

One or more runs share one time axis (``compare``: uv above, the reference builder below, at
one scale, so a wait is as long on the page as it was). Widths are exact: a bar of 1 s is as
wide in every lane of a chart; only bars too short to see are drawn wider, at ``MIN_BAR_PX``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from lab.report.lanes import PHASES_ROW, Bar, BarKind, Lane, Mark, Timeline

LABEL_PX = 190  # the row labels left of the plot
PLOT_PX = 900
RIGHT_PX = 20
ROW_PX = 16
ROW_GAP_PX = 3
LANE_HEADER_PX = 18
LANE_GAP_PX = 10
SECTION_HEADER_PX = 26
AXIS_PX = 24
MIN_BAR_PX = 2.0
STEP_LABEL_PX = 12
RUN_BAR_PX = 6  # the run itself: a thin bar beneath its phases
# Bars narrower than this carry their name only in their title and the table.
_CHAR_PX = 6.5


@dataclass(frozen=True)
class DrawnBar:
    bar: Bar
    element_id: str  # unique on the page: a compare draws several runs
    holder_id: str | None  # a wait's: the element id of the hold it waited on
    x: float
    y: float
    width: float
    height: float
    show_label: bool


@dataclass(frozen=True)
class DrawnMark:
    mark: Mark
    x: float
    top: float
    bottom: float


@dataclass(frozen=True)
class DrawnRow:
    label: str
    y: float


@dataclass(frozen=True)
class DrawnLane:
    lane: Lane
    title: str
    y: float
    rows: list[DrawnRow]
    bars: list[DrawnBar]
    marks: list[DrawnMark]


@dataclass(frozen=True)
class Section:
    title: str  # "" for a chart of one run
    y: float
    lanes: list[DrawnLane]
    steps: list[DrawnStep]


@dataclass(frozen=True)
class DrawnStep:
    label: str
    x: float
    label_y: float
    top: float
    bottom: float


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    plot_left: int
    plot_width: int
    seconds_per_px: float
    sections: list[Section]
    ticks: list[Tick]
    axis_y: float  # the top axis' baseline


def row_label(row: str, lock_kinds: dict[str, str]) -> str:
    """A row's name for people: "phases", or the lock's kind and its short key."""
    if row.startswith(PHASES_ROW):
        return row
    kind = lock_kinds.get(row, "lock")
    tail = row.rsplit("/", 1)[-1]
    return f"{kind} lock {tail[:12]}"


def _ticks(duration: float, scale: float) -> list[Tick]:
    """Round seconds, about every 90 px."""
    if duration <= 0:
        return [Tick(LABEL_PX, "0 s")]
    raw = 90 / scale
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    count = int(duration / step + 1e-9)
    return [
        Tick(round(LABEL_PX + i * step * scale, 2), f"{i * step:g} s") for i in range(count + 1)
    ]


def layout(runs: Sequence[tuple[str, Timeline]]) -> Chart:
    """Lay out ``runs`` (a section title and a timeline each) on one time axis."""
    duration = max((t.duration for _, t in runs), default=0.0)
    scale = PLOT_PX / duration if duration > 0 else 1.0
    y = float(AXIS_PX)
    sections = []
    for index, (title, timeline) in enumerate(runs):
        prefix = f"s{index + 1}-" if len(runs) > 1 else ""
        section_y = y
        if title:
            y += SECTION_HEADER_PX
        lanes = []
        steps_top = y
        if timeline.steps:  # a band for the steps' names, two rows so that close ones fit
            y += 2 * STEP_LABEL_PX + 4
        for lane in timeline.lanes:
            drawn = _lane(lane, timeline, y, scale, prefix)
            lanes.append(drawn)
            y += LANE_HEADER_PX + len(lane.rows) * (ROW_PX + ROW_GAP_PX) + LANE_GAP_PX
        steps = [
            DrawnStep(
                step.label,
                round(LABEL_PX + step.at * scale, 2),
                steps_top + STEP_LABEL_PX * (1 + i % 2) - 2,
                steps_top,
                y,
            )
            for i, step in enumerate(timeline.steps)
        ]
        sections.append(Section(title, section_y, lanes, steps))
    return Chart(
        width=LABEL_PX + PLOT_PX + RIGHT_PX,
        height=math.ceil(y + AXIS_PX),
        plot_left=LABEL_PX,
        plot_width=PLOT_PX,
        seconds_per_px=1 / scale,
        sections=sections,
        ticks=_ticks(duration, scale),
        axis_y=AXIS_PX - 6,
    )


def _lane(lane: Lane, timeline: Timeline, y: float, scale: float, prefix: str) -> DrawnLane:
    rows_top = y + LANE_HEADER_PX
    row_y = {row: rows_top + i * (ROW_PX + ROW_GAP_PX) for i, row in enumerate(lane.rows)}
    bars = []
    for bar in lane.bars:
        width = round(max(bar.duration * scale, MIN_BAR_PX), 2)
        height = RUN_BAR_PX if bar.kind is BarKind.RUN else ROW_PX
        top = row_y[bar.row] + (ROW_PX - height) / 2
        fits = width >= len(bar.label) * _CHAR_PX + 6 and bar.kind is not BarKind.RUN
        holder = f"{prefix}{bar.holder}" if bar.holder else None
        x = round(LABEL_PX + bar.start * scale, 2)
        bars.append(DrawnBar(bar, prefix + bar.id, holder, x, top, width, height, fits))
    bottom = rows_top + len(lane.rows) * (ROW_PX + ROW_GAP_PX)
    marks = [
        DrawnMark(m, round(LABEL_PX + m.at * scale, 2), rows_top - 4, bottom) for m in lane.marks
    ]
    rows = [DrawnRow(row_label(r, timeline.lock_kinds), row_y[r]) for r in lane.rows]
    exit_text = "killed" if lane.rc is None else f"exit {lane.rc}"
    where = f" on {lane.node}" if lane.node else ""
    return DrawnLane(lane, f"{lane.runner}{where} · {exit_text}", y, rows, bars, marks)
