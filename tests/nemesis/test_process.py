"""The nemesis strikes real runners on their own events: kill, or pause and resume."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from lab.contract import Clock, Event, FaultAction, Op, Phase
from lab.nemesis import Strike
from lab.nemesis.process import ProcessNemesis
from lab.runners.base import Backend, RunnerSpec
from lab.subjects import Observation

pytestmark = pytest.mark.integration  # starts runners

TICKS = "i=0; while [ $i -lt 40 ]; do echo tick; i=$((i+1)); sleep 0.05; done"  # about 2 s


def _spec(tmp_path: Path) -> RunnerSpec:
    return RunnerSpec("runner-1", ["sh", "-c", TICKS], {"PATH": "/usr/bin:/bin"}, str(tmp_path))


def _event(op: Op, phase: Phase) -> Event:
    return Event(time.monotonic(), time.time(), "runner-1", op, phase, clock=Clock.ARRIVAL)


def test_a_kill_after_an_event_ends_the_runner(tmp_path: Path, backend: Backend) -> None:
    recorded: list[Observation] = []
    nemesis = ProcessNemesis([Strike("runner-1", FaultAction.KILL, (Op.RUN, Phase.OUTPUT), 0.3)])
    with backend.session(f"nemesis-kill-{tmp_path.name}") as session:
        handle = session.start(_spec(tmp_path), lambda _stream, _line, _stamp=None: None)
        nemesis.start("runner-1", handle, lambda _runner, obs: recorded.append(obs))
        started = time.monotonic()
        nemesis(_event(Op.LOCK, Phase.ACQUIRED))  # not its trigger
        nemesis(_event(Op.RUN, Phase.OUTPUT))
        rc = handle.wait(30)
        nemesis.stop()
    assert rc in (-9, 137)
    assert time.monotonic() - started < 1.5
    (struck,) = recorded
    assert (struck.op, struck.phase, struck.data["action"]) == (Op.FAULT, Phase.STRUCK, "kill")


def test_a_pause_stops_the_runner_for_a_while(tmp_path: Path, backend: Backend) -> None:
    nemesis = ProcessNemesis(
        [Strike("runner-1", FaultAction.PAUSE, (Op.RUN, Phase.OUTPUT), 0.1, pause_s=2.0)]
    )
    with backend.session(f"nemesis-pause-{tmp_path.name}") as session:
        handle = session.start(_spec(tmp_path), lambda _stream, _line, _stamp=None: None)
        nemesis.start("runner-1", handle, lambda _runner, _obs: None)
        started = time.monotonic()
        nemesis(_event(Op.RUN, Phase.OUTPUT))
        assert handle.wait(30) == 0
        nemesis.stop()
    assert time.monotonic() - started >= 2.0 + 1.5  # its 2 s of ticks, after a 2 s pause
