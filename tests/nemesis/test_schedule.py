"""The seeded schedule: the same seed and trial give the same plan, whatever else."""

from __future__ import annotations

import dataclasses

from lab.contract import FaultAction, Op, Phase
from lab.nemesis.schedule import KILLS, PAUSES, TRIGGERS, Fault, ScheduledTrial, scheduled

RUNNERS = ["runner-1", "runner-2"]
FAULTS = (Fault.KILL, Fault.PAUSE, Fault.ENOSPC)


def _plan(seed: int, trial: int, faults: tuple[Fault, ...] = FAULTS) -> ScheduledTrial:
    return scheduled(
        seed,
        trial,
        faults=faults,
        runners=RUNNERS,
        build_delay=2.0,
        pause_s=(1.0, 15.0),
        lock_timeout=10.0,
    )


def test_a_trial_is_its_seed_and_its_number() -> None:
    assert _plan(1, 4) == _plan(1, 4)
    assert _plan(1, 4) != _plan(2, 4)
    assert [_plan(1, k).fault for k in range(1, 7)] == [*FAULTS, *FAULTS]


def test_kills_and_pauses_go_through_their_points_in_turn() -> None:
    kills = [_plan(5, k) for k in range(1, 3 * len(KILLS) + 1, 3)]  # every third: the kills
    assert [(p.failpoint, p.kill) for p in kills] == list(KILLS)
    pauses = [_plan(5, k, (Fault.PAUSE,)) for k in range(1, len(PAUSES) + 1)]
    assert [p.failpoint for p in pauses] == [point for point, _ in PAUSES]
    # longer than the 10 s lock timeout by 2 s at least, or shorter: never in between
    assert [p.pause_s >= 12.0 for p in pauses] == [long for _, long in PAUSES]
    assert all(1.0 <= p.pause_s <= 15.0 and not 10.0 < p.pause_s < 12.0 for p in pauses)


def test_draws_stay_in_their_ranges() -> None:
    for k in range(1, 50):
        p = _plan(7, k)
        assert p.runner in RUNNERS and p.after in TRIGGERS
        assert 0 <= p.delay_s <= 2.0 and 0.5 <= p.size_mb <= 6.0 and 0.3 <= p.stagger_s <= 2.0


def test_the_subject_decides_between_a_failpoint_and_the_nemesis() -> None:
    kill = dataclasses.replace(
        _plan(1, 1),
        runner="runner-2",
        failpoint="mid-build",
        kill=FaultAction.KILL,
        after=(Op.LOCK, Phase.ACQUIRED),
        delay_s=0.5,
    )
    assert kill.run_faults(True, RUNNERS).failpoints == {"runner-2": "mid-build=kill"}
    (strike,) = kill.run_faults(False, RUNNERS).strikes
    assert (strike.runner, strike.action, strike.after, strike.delay_s) == (
        "runner-2",
        FaultAction.KILL,
        (Op.LOCK, Phase.ACQUIRED),
        0.5,
    )
    # a pause: whichever runner holds the lock first hangs with it
    pause = dataclasses.replace(
        kill, fault=Fault.PAUSE, failpoint="lock-acquired.entry", pause_s=13.0
    )
    assert pause.run_faults(True, RUNNERS).failpoints == {
        "runner-1": "lock-acquired.entry=pause:13",
        "runner-2": "lock-acquired.entry=pause:13",
    }
    (held,) = pause.run_faults(False, RUNNERS).strikes
    assert (held.runner, held.action, held.after, held.pause_s) == (
        None,
        FaultAction.PAUSE,
        (Op.LOCK, Phase.ACQUIRED),
        13.0,
    )
    assert pause.describe(failpoints=False) == "pause 13 s of the first runner at lock/acquired"
    assert dataclasses.replace(kill, fault=Fault.ENOSPC).run_faults(True, RUNNERS).failpoints == {}
