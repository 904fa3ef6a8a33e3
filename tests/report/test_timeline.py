"""The timeline model, from recorded histories and small made-up ones."""

from __future__ import annotations

import itertools

from lab.contract import EDITABLE_BUCKET, Clock, Event, Op, Phase
from lab.report.lanes import PHASES_ROW, BarKind, MarkKind
from lab.report.timeline import build
from lab.rundir import RunDir, read_history
from tests.conftest import FIXTURES

ENTRY = f"{EDITABLE_BUCKET}/k"


def _event(
    t: float, runner: str, op: Op, phase: Phase, key: str | None = None, **data: object
) -> Event:
    return Event(t, 1.8e9 + t, runner, op, phase, key, Clock.SOURCE, data=dict(data))


def test_a_wait_names_the_hold_it_waited_on() -> None:
    tl = build(read_history(RunDir(FIXTURES / "runs" / "uv-valid").history))
    bars = {b.id: b for lane in tl.lanes for b in lane.bars}
    (wait,) = [b for b in bars.values() if b.kind is BarKind.WAIT]
    hold = bars[wait.holder or ""]
    assert hold.kind is BarKind.HOLD and hold.runner != wait.runner and hold.row == wait.row
    assert hold.start <= wait.start and abs(hold.end - wait.end) < 0.01
    assert dict(wait.details)["held by"] == hold.runner


def test_the_reference_builders_phases_are_bars_and_overlaps_get_their_own_row() -> None:
    tl = build(read_history(RunDir(FIXTURES / "runs" / "narrow-valid").history))
    lane = tl.lanes[0]
    kinds = {b.kind for b in lane.bars if b.row.startswith(PHASES_ROW)}
    assert kinds == {
        BarKind.RUN,
        BarKind.ENV,
        BarKind.BUILD,
        BarKind.INSTALL,
        BarKind.PUBLISH,
        BarKind.CHECK,
    }
    for row in lane.rows:  # no two bars of one row overlap, but the run beneath its phases
        bars = sorted(
            (b for b in lane.bars if b.row == row and b.kind is not BarKind.RUN),
            key=lambda b: b.start,
        )
        assert all(a.end <= b.start for a, b in itertools.pairwise(bars)), row
    assert [lane.runner for lane in tl.lanes] == ["runner-1", "runner-2"]
    assert tl.lock_kinds and set(tl.lock_kinds.values()) == {"entry", "env", "tree"}


def test_a_runner_killed_mid_build_has_an_unfinished_bar_and_the_fault_is_marked() -> None:
    events = [
        _event(0.0, "runner-1", Op.RUN, Phase.START),
        _event(0.5, "runner-1", Op.BUILD, Phase.START, ENTRY, backend="hatchling.build"),
        _event(1.0, "runner-1", Op.FAULT, Phase.STRUCK, "mid-build", action="kill"),
        _event(1.1, "runner-1", Op.RUN, Phase.END, rc=-9),
        _event(0.2, "runner-2", Op.RUN, Phase.START),
        _event(0.3, "runner-2", Op.LOCK, Phase.REQUEST, ENTRY, kind="entry"),
        _event(0.3, "runner-2", Op.LOCK, Phase.WAIT, ENTRY, kind="entry"),
        _event(0.9, "runner-2", Op.LOCK, Phase.TIMEOUT, ENTRY, kind="entry"),
        _event(1.0, "runner-2", Op.RUN, Phase.END, rc=1),
    ]
    one, two = build(events).lanes
    (bar,) = [b for b in one.bars if b.kind is BarKind.BUILD]
    assert bar.label == "build (unfinished)" and (bar.start, bar.end) == (0.5, 1.1)
    assert [(m.kind, m.at, m.label) for m in one.marks] == [
        (MarkKind.FAULT, 1.0, "fault: kill at mid-build")
    ]
    assert one.rc == -9 and two.rc == 1
    (wait,) = [b for b in two.bars if b.kind is BarKind.WAIT]
    assert wait.label == "wait, gave up" and (wait.start, wait.end) == (0.3, 0.9)
    assert [m.kind for m in two.marks] == [MarkKind.TIMEOUT]


def test_an_empty_history_is_an_empty_timeline() -> None:
    tl = build([])
    assert tl.lanes == [] and tl.duration == 0
