from __future__ import annotations

import dataclasses

from lab.contract import EDITABLE_BUCKET
from lab.report.terminal import checked, duration, side_by_side, verdict
from lab.result import LockWait, RunnerResult, RunResult
from lab.vocabulary import Outcome, RunStatus, Topology, Verdict

UV = RunResult(
    run_id="r1",
    scenario="issue-15380",
    status=RunStatus.OK,
    backend="docker",
    subject="uv@0.13.9",
    subject_label="uv 0.13.9",
    topology=Topology.SAME_PATH,
    build_delay_s=10.0,
    runners=[
        RunnerResult("runner-1", 0, 10.9, 0.0, 10.5),
        RunnerResult("runner-2", 0, 21.3, 10.4, 10.5),
    ],
    single_build_s=10.9,
    makespan_s=21.4,
    ratio=1.96,
    longest_wait=LockWait("runner-2", "sdists-v11/editable/1de208056d3879b5", 10.38, "runner-1"),
    longest_hold_s=10.5,
    serialized=True,
    keys=["sdists-v11/editable/1de208056d3879b5"],
)
NARROW = dataclasses.replace(
    UV,
    subject="narrow",
    subject_label="narrow builder",
    makespan_s=13.7,
    ratio=1.01,
    longest_wait=None,
    longest_hold_s=0.0012,
    serialized=False,
    keys=[f"{EDITABLE_BUCKET}/56c9e1c4b5360a5b"],
)


def test_the_verdict_names_who_waited_on_which_key() -> None:
    assert verdict(UV) == (
        "reproduced: runner-2 waited 10.4 s for the editable lock on "
        "sdists-v11/editable/1de208056d3879b5 (held by runner-1); "
        "makespan 21.4 s = 1.96 × one build (10.9 s)"
    )
    assert verdict(NARROW).startswith("not serialized: no lock wait, longest lock hold 1 ms")


def test_side_by_side() -> None:
    assert side_by_side([UV, NARROW]) == (
        "uv 0.13.9: makespan 21.4 s (1.96×), longest lock wait 10.4 s · "
        "narrow builder: makespan 13.7 s (1.01×), longest lock hold 1 ms"
    )


def test_a_failed_run_says_which_runner() -> None:
    failed = dataclasses.replace(
        UV,
        status=RunStatus.FAILED,
        runners=[RunnerResult("runner-1", 0, 1.0, 0, 0), RunnerResult("runner-2", 2, 1.0, 0, 0)],
    )
    assert verdict(failed).startswith("run failed: runner(s) runner-2 did not finish cleanly")


def test_a_wait_that_reused_the_holders_build_is_coalesced() -> None:
    wide = dataclasses.replace(
        UV,
        subject="wide",
        subject_label="wide builder",
        longest_wait=LockWait("runner-2", f"{EDITABLE_BUCKET}/k", 10.4, "runner-1"),
        serialized=False,
        coalesced=True,
    )
    assert verdict(wide).startswith(
        f"coalesced: runner-2 waited 10.4 s for the lock on {EDITABLE_BUCKET}/k "
        "(held by runner-1), then reused what it built"
    )
    tree = dataclasses.replace(wide, longest_wait=LockWait("runner-2", "tree/1:2", 3.6, "runner-1"))
    assert verdict(tree).startswith("coalesced on the shared tree: runner-2 waited 3.6 s")


def test_durations() -> None:
    assert [duration(s) for s in (0, 0.0042, 0.25, 10.456)] == ["0 s", "4 ms", "250 ms", "10.46 s"]


def test_a_valid_verdict_says_whose_installs_it_judged() -> None:
    def runners(*outcomes: Outcome) -> RunResult:
        made = [
            RunnerResult(f"runner-{i}", 0 if o is Outcome.VALID else 1, 1.0, 0.0, 0.0, o)
            for i, o in enumerate(outcomes, 1)
        ]
        return dataclasses.replace(NARROW, runners=made, verdict=Verdict.VALID)

    assert checked(runners(Outcome.VALID, Outcome.VALID)) == [
        "checked: valid (every runner has its own checkout's install; cache intact)"
    ]
    assert checked(runners(Outcome.VALID, Outcome.FAILED_CLEAN)) == [
        "checked: valid (runner-1 has its own checkout's install; failed cleanly, nothing "
        "installed to judge: runner-2 (exit 1); cache intact)"
    ]
    (line,) = checked(runners(Outcome.FAILED_CLEAN, Outcome.FAILED_CLEAN))
    assert "every runner" not in line and "no runner installed anything" in line
    assert "runner-1 (exit 1), runner-2 (exit 1)" in line
