"""The benchmark chart's geometry: N doubles along equal steps, seconds from zero."""

from __future__ import annotations

from typing import Any

import pytest

from lab.report import curves


def _row(n: int, subject: str, makespan: float | None) -> dict[str, Any]:
    return {
        "runners": n,
        "subject": subject,
        "makespan_s": makespan,
        "status": "ok" if makespan else "failed",
    }


def test_runner_counts_are_equally_spaced_and_seconds_start_at_zero() -> None:
    rows = [_row(1, "uv", 4.0), _row(2, "uv", 8.0), _row(4, "uv", 16.0), _row(4, "narrow", None)]
    chart = curves.chart("sleep", rows, ["uv", "narrow"])
    xs = [tick.at for tick in chart.runner_ticks]
    assert [t.label for t in chart.runner_ticks] == ["1", "2", "4"]
    assert xs[1] - xs[0] == xs[2] - xs[1]
    uv, narrow = chart.lines
    bottom = chart.top + chart.plot_height
    heights = [bottom - y for _, y in uv.points]
    assert heights[1] == pytest.approx(2 * heights[0])  # linear, from zero
    assert heights[2] == pytest.approx(4 * heights[0])
    assert chart.second_ticks[0].label == "0 s" and chart.second_ticks[-1].at <= uv.points[2][1]
    assert narrow.points == () and narrow.failed == (xs[2],)  # a failed run: a mark, no point
    assert uv.colour != narrow.colour
