"""The fault campaign, reduced (the full one is `make torture`): every fault on both kinds of
subject, the unsafe policy caught, and the same seed giving the same schedule and outcomes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab import scenario
from lab.campaigns import torture
from lab.errors import ExitCode
from lab.nemesis.schedule import Fault
from lab.run import Lab
from lab.runners.local import LocalBackend
from lab.toolchain import Toolchain
from lab.vocabulary import Outcome

pytestmark = pytest.mark.integration


def _settings(
    name: str,
    subjects: tuple[str, ...],
    faults: tuple[Fault, ...],
    seed: int,
    trial: int | None = None,
) -> torture.Settings:
    s = scenario.load_named(name, ["build_delay=1", "lock_timeout=3"])
    return torture.Settings(
        scenario=s,
        subjects=subjects,
        faults=faults,
        trials=max(len(faults), 1),
        seed=seed,
        pause_s=(1.0, 6.0),
        only_trial=trial,
    )


def test_the_unsafe_policy_is_caught(
    tmp_path: Path, local_backend: LocalBackend, lab_toolchain: Toolchain
) -> None:
    settings = _settings("none-race", ("none",), (), seed=2)
    _, results = torture.run(Lab(lab_toolchain, local_backend, tmp_path), settings)
    (result,) = results
    assert result.outcome is Outcome.INVALID, result
    assert torture.exit_code(results) == ExitCode.FAILED
    assert "differs from the size and sha256 in entry.json" in str(result.first_violation)


@pytest.mark.usefixtures("can_mount")
def test_every_fault_on_uv_and_the_reference_builder(
    tmp_path: Path, local_backend: LocalBackend, lab_toolchain: Toolchain
) -> None:
    faults = tuple(Fault)
    settings = _settings("issue-15380", ("uv", "narrow"), faults, seed=1)
    out, results = torture.run(Lab(lab_toolchain, local_backend, tmp_path), settings)
    saved = json.loads(out.record.read_text())
    assert saved["seed"] == 1 and len(saved["schedule"]) == len(faults)
    assert [(r["subject"], r["trial"]) for r in saved["results"]] == [
        (s, k) for k in range(1, len(faults) + 1) for s in ("uv", "narrow")
    ]
    by = {(r.subject, r.fault): r for r in results}
    # Both survive every fault: nothing invalid, every follow-up valid, nothing left behind.
    assert all(
        r.outcome is not Outcome.INVALID and r.recovered and not r.leaked for r in results
    ), results
    # A job that hangs holding a lock: both give up after the lock timeout, with a message.
    assert by[("uv", Fault.PAUSE)].outcome is Outcome.FAILED_CLEAN
    assert by[("narrow", Fault.PAUSE)].outcome in (Outcome.FAILED_CLEAN, Outcome.VALID)
    # A read-only cache costs the reference builder its cache, not its install.
    assert by[("narrow", Fault.READONLY)].outcome is Outcome.VALID
    assert "| trial | subject | fault |" in out.summary.read_text()

    # The same seed, trials that do not hang on timing replayed alone: the same outcomes.
    for fault in (Fault.ENOSPC, Fault.READONLY):
        k = faults.index(fault) + 1
        replay = _settings("issue-15380", ("narrow",), faults, seed=1, trial=k)
        _, again = torture.run(Lab(lab_toolchain, local_backend, tmp_path), replay)
        assert [(r.trial, r.what, r.outcome) for r in again] == [
            (k, by[("narrow", fault)].what, by[("narrow", fault)].outcome)
        ]
