from __future__ import annotations

import dataclasses

from lab import subjects
from lab.check import Judgement
from lab.contract import ENVS_BUCKET, LAB_RUNNER, Clock, Event, LockKind, Op, Phase
from lab.result import RunResult, representative, summarize
from lab.scenario import Scenario
from lab.vocabulary import Outcome, RunStatus, StepKind, Topology, Verdict

K = "sdists-v11/editable/k"
ENV = f"{ENVS_BUCKET}/e"


def _e(t: float, runner: str, op: Op, phase: str, key: str | None = None, **data: object) -> Event:
    return Event(t, 1000 + t, runner, op, Phase(phase), key, Clock.ARRIVAL, data=dict(data))


def _step(t: float, index: int, phase: str, kind: StepKind) -> Event:
    return _e(t, LAB_RUNNER, Op.STEP, phase, f"step-{index}", kind=kind, steps=2)


def _summary(events: list[Event]) -> RunResult:
    scenario = Scenario(name="two-steps", runners=2)
    subject = subjects.make("uv", scenario.subject_settings())
    outcomes = {"runner-1": Outcome.VALID, "runner-2": Outcome.VALID}
    judgement = Judgement(Verdict.VALID, [], [], outcomes)
    return summarize(
        events,
        run_id="r",
        scenario=scenario,
        status=RunStatus.OK,
        backend="local",
        subject=subject,
        judgement=judgement,
    )


def test_a_run_of_several_steps_is_measured_by_its_last_run_step() -> None:
    first = [  # runner-2 waits out runner-1's whole build
        _step(0.0, 1, "start", StepKind.RUN),
        _e(0.1, "runner-1", Op.RUN, "start"),
        _e(0.1, "runner-2", Op.RUN, "start"),
        _e(0.2, "runner-1", Op.LOCK, "acquired", K),
        _e(0.3, "runner-2", Op.LOCK, "wait", K),
        _e(10.2, "runner-1", Op.LOCK, "released", K),
        _e(10.2, "runner-2", Op.LOCK, "acquired", K),
        _e(10.3, "runner-1", Op.RUN, "end", rc=0),
        _e(20.2, "runner-2", Op.LOCK, "released", K),
        _e(20.3, "runner-2", Op.RUN, "end", rc=0),
        _step(20.4, 1, "end", StepKind.RUN),
    ]
    second = [  # then both reuse the cache at once
        _step(30.0, 2, "start", StepKind.RUN),
        _e(30.1, "runner-1", Op.RUN, "start"),
        _e(30.1, "runner-2", Op.RUN, "start"),
        _e(31.1, "runner-1", Op.RUN, "end", rc=0),
        _e(31.6, "runner-2", Op.RUN, "end", rc=0),
        _step(31.7, 2, "end", StepKind.RUN),
    ]
    whole = _summary(first)
    assert whole.serialized and whole.makespan_s == 20.2
    last = _summary(first + second)
    assert last.longest_wait is None and not last.serialized
    assert last.makespan_s == 1.5
    assert [r.lock_wait_s for r in last.runners] == [0, 0]


def _loaded_machine() -> list[Event]:
    """uv on a loaded machine (catalog, fleet-8): each build of 10 s holds the lock 10 s, but
    venv and install work off the lock make the fastest runner's wall time 30 s."""
    return [
        _e(0.0, "runner-1", Op.RUN, "start"),
        _e(0.0, "runner-2", Op.RUN, "start"),
        _e(10.0, "runner-1", Op.LOCK, "acquired", K),
        _e(10.1, "runner-2", Op.LOCK, "wait", K),
        _e(20.0, "runner-1", Op.LOCK, "released", K),
        _e(20.0, "runner-2", Op.LOCK, "acquired", K),
        _e(30.0, "runner-1", Op.RUN, "end", rc=0),
        _e(30.1, "runner-2", Op.LOCK, "released", K),
        _e(45.0, "runner-2", Op.RUN, "end", rc=0),
    ]


def test_serialized_is_judged_against_the_holders_hold_not_a_runners_wall_time() -> None:
    """runner-2 waited 9.9 s, a third of the fastest runner's 30 s, yet it sat out all of
    runner-1's build and then built for 10.1 s itself: serialized, however loaded."""
    events = _loaded_machine()
    result = _summary(events)
    assert result.single_build_s == 30.0
    assert result.serialized
    # the same run twice as slow everywhere: the same verdict
    slow = [dataclasses.replace(e, t_mono=2 * e.t_mono) for e in events]
    assert _summary(slow).serialized
    # the waiter then held the lock only to install what the holder built: not serialized
    reused = [e for e in events if e.runner != "runner-2" or e.t_mono < 20.0]
    reused += [
        _e(20.0, "runner-2", Op.LOCK, "acquired", K),
        _e(20.3, "runner-2", Op.LOCK, "released", K),
        _e(21.0, "runner-2", Op.RUN, "end", rc=0),
    ]
    assert not _summary(sorted(reused, key=lambda e: e.t_mono)).serialized


def _env_wait(then: Event) -> list[Event]:
    """runner-2 waits 3 s of a 4 s build for the build env runner-1 is making, then ``then``."""
    make = f"{ENVS_BUCKET}/e.make"
    return [
        _e(0.0, "runner-1", Op.RUN, "start"),
        _e(0.0, "runner-2", Op.RUN, "start"),
        _e(0.1, "runner-1", Op.LOCK, "acquired", make, kind=LockKind.ENV_MAKE),
        _e(0.2, "runner-2", Op.LOCK, "wait", make, kind=LockKind.ENV_MAKE),
        _e(3.1, "runner-1", Op.LOCK, "released", make, kind=LockKind.ENV_MAKE),
        _e(3.2, "runner-2", Op.LOCK, "acquired", make, kind=LockKind.ENV_MAKE),
        then,
        _e(3.3, "runner-2", Op.LOCK, "released", make, kind=LockKind.ENV_MAKE),
        _e(4.0, "runner-1", Op.RUN, "end", rc=0),
        _e(7.0, "runner-2", Op.RUN, "end", rc=0),
    ]


def test_a_wait_for_a_build_env_is_coalesced_only_where_the_env_was_taken() -> None:
    took = _summary(_env_wait(_e(3.2, "runner-2", Op.ENV, "hit", ENV, coalesced=True)))
    assert took.coalesced and not took.serialized
    assert took.longest_hold_s == 0  # held to make an env, not to publish
    made = _summary(_env_wait(_e(3.2, "runner-2", Op.ENV, "miss", ENV)))
    assert made.serialized and not made.coalesced  # its maker failed: it made it again


def _trial(run_id: str, makespan: float | None, **changes: object) -> RunResult:
    trial = RunResult(
        run_id=run_id,
        scenario="issue-15380",
        status=RunStatus.OK,
        backend="local",
        subject="narrow",
        subject_label="narrow builder",
        topology=Topology.SAME_PATH,
        build_delay_s=2.0,
        runners=[],
        single_build_s=makespan,
        makespan_s=makespan,
        ratio=1.0,
        longest_wait=None,
        verdict=Verdict.VALID,
    )
    return dataclasses.replace(trial, **changes)  # type: ignore[arg-type]


def test_a_cell_run_several_times_stands_for_its_median_trial_or_its_failure() -> None:
    trials = [_trial("a", 5.0), _trial("b", 3.0), _trial("c", 4.0)]
    assert representative(trials).run_id == "c"
    assert representative(trials[:2]).run_id == "b"  # the lower median: a run that happened
    failed = _trial("d", None, status=RunStatus.FAILED)
    invalid = _trial("e", 3.5, verdict=Verdict.INVALID)
    assert representative([*trials, invalid, failed]).run_id == "e"
    assert representative([failed, *trials]).run_id == "d"
