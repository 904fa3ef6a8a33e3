"""Whole runs on both runner backends: uv #15380's serialization and the reference builder,
read from the history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab import metrics, scenario
from lab.contract import EDITABLE_BUCKET, Clock, Event, Op, Phase
from lab.errors import LabError
from lab.result import RunResult
from lab.run import Lab, Run
from lab.rundir import RunDir, read_history, read_log
from lab.runners.base import Backend
from lab.runners.local import LocalBackend
from lab.toolchain import Toolchain
from lab.vocabulary import Outcome, RunStatus, Verdict
from tests.conftest import REPO

DELAY = 2.0

pytestmark = pytest.mark.integration


def _run(tmp_path: Path, backend: Backend, tc: Toolchain, *overrides: str) -> RunResult:
    s = scenario.load(REPO / "scenarios" / "issue-15380.toml", [f"build_delay={DELAY}", *overrides])
    return Lab(tc, backend, tmp_path / "runs").run(s)


def _run_dir(tmp_path: Path, result: RunResult) -> RunDir:
    return RunDir(tmp_path / "runs" / result.run_id)


def _history(tmp_path: Path, result: RunResult) -> list[Event]:
    return read_history(_run_dir(tmp_path, result).history)


@pytest.mark.parametrize("uv_version", ["0.13.9", "0.8.12"])
def test_same_path_serializes_on_the_editable_lock(
    tmp_path: Path, backend: Backend, lab_toolchain: Toolchain, uv_version: str
) -> None:
    result = _run(tmp_path, backend, lab_toolchain, f"subject=uv@{uv_version}")
    assert result.status is RunStatus.OK, result
    assert (result.subject, result.subject_label) == (f"uv@{uv_version}", f"uv {uv_version}")
    spans = metrics.lock_spans(_history(tmp_path, result))
    # one key, both runners on it, never both holding it
    assert len({s.key for s in spans}) == 1 and len(spans) == 2
    assert metrics.overlapping_holds(spans) == []
    first, second = sorted(spans, key=lambda s: s.acquired or 0.0)
    # the second runner asked before the first let go, and got the lock only after the release
    # (stamps are arrival times, so the two requests may arrive in either order)
    assert first.released is not None and second.acquired is not None
    slack = metrics.CLOCK_UNCERTAINTY_S[Clock.ARRIVAL]
    assert second.asked < first.released <= second.acquired + slack
    assert second.waited_line
    assert second.wait_s >= 0.8 * DELAY
    # and then it built all over again instead of reusing the first runner's build
    assert second.hold_s >= 0.8 * DELAY
    assert result.serialized and result.ratio is not None and result.ratio >= 1.6
    assert not result.coalesced
    # the checker, from the run directory alone: every runner has its own checkout's install
    assert (result.verdict, result.violations) == (Verdict.VALID, [])
    assert [r.outcome for r in result.runners] == [Outcome.VALID, Outcome.VALID]
    # uv prints no times: its lock events are stamped when their lines arrive
    assert {e.clock for e in _history(tmp_path, result) if e.op is Op.LOCK} == {Clock.ARRIVAL}


def test_different_paths_have_different_keys_and_nobody_waits(
    tmp_path: Path, backend: Backend, lab_toolchain: Toolchain
) -> None:
    result = _run(tmp_path, backend, lab_toolchain, "topology=different-paths")
    assert result.status is RunStatus.OK
    spans = metrics.lock_spans(_history(tmp_path, result))
    assert len({s.key for s in spans}) == 2
    assert not any(s.waited_line for s in spans)
    assert max(s.wait_s for s in spans) < 0.25 * DELAY
    assert not result.serialized and result.ratio is not None and result.ratio <= 1.25


def test_run_directory_holds_everything(
    tmp_path: Path, backend: Backend, lab_toolchain: Toolchain
) -> None:
    result = _run(tmp_path, backend, lab_toolchain, "runners=1", "build_delay=0")
    run_dir = _run_dir(tmp_path, result)
    assert RunDir.latest(tmp_path / "runs").path.resolve() == run_dir.path
    saved = json.loads(run_dir.result.read_text())
    for field in (
        "scenario",
        "backend",
        "subject",
        "subject_label",
        "schema",
        "runners",
        "single_build_s",
        "makespan_s",
        "ratio",
    ):
        assert field in saved
    assert saved["runners"][0].keys() >= {"name", "rc", "wall_s", "lock_wait_s", "lock_hold_s"}
    assert json.loads(run_dir.scenario.read_text())["runners"] == 1
    told = json.loads(run_dir.environment.read_text())
    assert told["subject"] == saved["subject_label"] and told["backend"] == saved["backend"]
    log = read_log(run_dir.log("runner-1"))
    assert any("Acquired" in line.text for line in log)
    assert all(line.t_mono > 0 for line in log)  # each line stamped
    # the install works: the venv lived on a tmpfs, but uv saw the package importable
    assert any("+ uv-demo==0.1.0" in line.text for line in log)
    assert not run_dir.page.exists()  # a page is drawn by whoever asks for one


def test_a_failing_runner_fails_the_run(
    tmp_path: Path, backend: Backend, lab_toolchain: Toolchain
) -> None:
    result = _run(
        tmp_path,
        backend,
        lab_toolchain,
        "runners=1",
        'command=["uv", "pip", "install", "no-such-package-here"]',
    )
    assert result.status is RunStatus.FAILED
    # it said so itself, with a message: a clean failure, nothing unsafe
    assert result.verdict is Verdict.VALID, result.violations
    assert result.runners[0].outcome is Outcome.FAILED_CLEAN
    assert result.runners[0].rc not in (0, None)


@pytest.mark.parametrize("subject", ["narrow", "wide", "none"])
def test_reference_builder_policies_on_the_issue_scenario(
    tmp_path: Path, local_backend: LocalBackend, lab_toolchain: Toolchain, subject: str
) -> None:
    # uv's freshness rule: every checkout rebuilds, so only the locks tell the policies apart
    result = _run(tmp_path, local_backend, lab_toolchain, f"subject={subject}", "freshness=ctime")
    events = _history(tmp_path, result)
    spans = metrics.lock_spans(events)
    assert metrics.overlapping_holds(spans) == []
    installs = {e.runner: e for e in events if e.op is Op.INSTALL and e.phase is Phase.END}
    # the builder stamps its own events where they happen
    assert {e.clock for e in events if e.op is Op.INSTALL} == {Clock.SOURCE}
    if subject == "none":
        # No locks, shared writes in place: runners may trip over each other. Each one
        # either installed, or failed on the cache that the other was writing.
        assert spans == []
        run_dir = _run_dir(tmp_path, result)
        for r in result.runners:
            if r.rc != 0:
                error = [line.text for line in read_log(run_dir.log(r.name))]
                error = [text for text in error if text.startswith("error: ")]
                assert error and str(run_dir.cache) in error[0]
            else:
                assert r.name in installs
        return
    assert result.status is RunStatus.OK, result  # each builder checked the import itself
    assert result.verdict is Verdict.VALID, result.violations
    assert sorted(installs) == ["runner-1", "runner-2"]
    assert all(
        str(e.data["imported_from"]).endswith("uv_demo/__init__.py") for e in installs.values()
    )
    entry_spans = [s for s in spans if s.key.startswith(f"{EDITABLE_BUCKET}/")]
    assert result.ratio is not None
    if subject == "narrow":
        assert len(entry_spans) == 2 and all(s.wait_s < 0.05 for s in entry_spans)
        assert result.longest_hold_s <= 0.05
        assert not result.serialized and result.ratio <= 1.2
    else:
        assert result.serialized and result.longest_wait is not None
        assert result.longest_wait.wait_s >= 0.8 * DELAY
        assert result.ratio >= 1.3


def test_narrow_nobody_waits_on_either_backend(
    tmp_path: Path, backend: Backend, lab_toolchain: Toolchain
) -> None:
    _check_narrow(tmp_path, backend, lab_toolchain, runners=2)


def test_narrow_at_eight_runners(
    tmp_path: Path, local_backend: LocalBackend, lab_toolchain: Toolchain
) -> None:
    _check_narrow(tmp_path, local_backend, lab_toolchain, runners=8)


def _check_narrow(tmp_path: Path, backend: Backend, lab_toolchain: Toolchain, runners: int) -> None:
    result = _run(tmp_path, backend, lab_toolchain, "subject=narrow", f"runners={runners}")
    assert result.status is RunStatus.OK, result
    assert result.verdict is Verdict.VALID, result.violations
    # not a benchmark: far below the 2 × one build that a serialized pair takes, whatever
    # else the machine is doing (the benchmarks measure how far below)
    assert result.ratio is not None and result.ratio <= 1.3
    assert result.longest_hold_s <= 0.05
    assert not result.serialized and result.overlapping_holds == 0
    events = _history(tmp_path, result)
    published = [e for e in events if e.op is Op.PUBLISH]
    # everyone built at once (all missed); one published, the others dropped their copy
    assert sorted(e.phase for e in published) == [Phase.DROPPED] * (runners - 1) + [Phase.PUBLISHED]


def test_coalesce_builds_once_for_identical_checkouts(
    tmp_path: Path, local_backend: LocalBackend, lab_toolchain: Toolchain
) -> None:
    """Four checkouts with the same content at one path: one runner builds, the others wait
    for its build under the build lock and install it; no entry lock is held for long."""
    result = _run(tmp_path, local_backend, lab_toolchain, "subject=coalesce", "runners=4")
    assert result.status is RunStatus.OK, result
    assert result.verdict is Verdict.VALID, result.violations
    assert result.coalesced and not result.serialized
    assert result.longest_hold_s <= 0.05
    events = _history(tmp_path, result)
    builds = [e.runner for e in events if e.op is Op.BUILD and e.phase is Phase.START]
    assert len(builds) == 1
    reused = {
        e.runner
        for e in events
        if e.op is Op.LOOKUP and e.phase is Phase.HIT and e.data.get("coalesced")
    }
    assert reused == {r.name for r in result.runners} - set(builds)
    assert result.ratio is not None and result.ratio <= 1.3


@pytest.mark.parametrize("subject", ["uv", "narrow"])
def test_one_shared_tree_in_every_runner(
    tmp_path: Path, backend: Backend, lab_toolchain: Toolchain, subject: str
) -> None:
    """Each runner gets its own tmpfs .venv over the one tree, whoever mounts it first."""
    result = _run(tmp_path, backend, lab_toolchain, "topology=shared-tree", f"subject={subject}")
    assert result.status is RunStatus.OK, result
    run_dir = tmp_path / "runs" / result.run_id
    assert [p.name for p in (run_dir / "checkouts").iterdir()] == ["shared"]
    # the venvs lived in each runner's own tmpfs: nothing reached the tree's .venv
    assert list((run_dir / "checkouts" / "shared" / ".venv").iterdir()) == []
    events = _history(tmp_path, result)
    facts = [e for e in events if e.op is Op.FACTS]
    assert sorted(e.runner for e in facts) == ["runner-1", "runner-2"]
    assert result.verdict is Verdict.VALID, result.violations
    if subject == "narrow":  # one tree is built once: the second runner finds it published
        assert len([e for e in events if e.op is Op.BUILD and e.phase is Phase.START]) == 1
        # whatever it waited on the tree lock, it then reused that build: never serialized
        assert not result.serialized


def test_wide_is_judged_valid_on_either_backend(
    tmp_path: Path, backend: Backend, lab_toolchain: Toolchain
) -> None:
    result = _run(tmp_path, backend, lab_toolchain, "subject=wide")
    assert (result.status, result.verdict) == (RunStatus.OK, Verdict.VALID), result.violations


def _stale(tmp_path: Path, backend: Backend, tc: Toolchain, subject: str) -> RunResult:
    s = scenario.load(REPO / "scenarios" / "hatch-version.toml", [f"subject={subject}"])
    return Lab(tc, backend, tmp_path / "runs").run(s)


def test_uv_installs_each_checkouts_own_version(
    tmp_path: Path, local_backend: LocalBackend, lab_toolchain: Toolchain
) -> None:
    """Two checkouts at one path that differ only in a version read from a source file: uv's
    ctime freshness rebuilds for each, so each gets its own."""
    result = _stale(tmp_path, local_backend, lab_toolchain, "uv")
    assert (result.status, result.verdict) == (RunStatus.OK, Verdict.VALID), result.violations


def test_narrow_installs_each_checkouts_own_version(
    tmp_path: Path, local_backend: LocalBackend, lab_toolchain: Toolchain
) -> None:
    """The reference builder's cache key covers the file hatch reads the version from."""
    result = _stale(tmp_path, local_backend, lab_toolchain, "narrow")
    assert result.status is RunStatus.OK, result
    assert result.verdict is Verdict.VALID, result.violations


def test_a_subscriber_that_fails_stops_neither_the_run_nor_its_record(
    tmp_path: Path, local_backend: LocalBackend, lab_toolchain: Toolchain
) -> None:
    s = scenario.load(REPO / "scenarios" / "issue-15380.toml", ["runners=1", "build_delay=0"])
    one = Run(Lab(lab_toolchain, local_backend, tmp_path / "runs"), s)
    seen: list[Event] = []

    def broken(_event: Event) -> None:
        raise RuntimeError("a bug in a report")

    one.subscribe(broken)
    one.subscribe(seen.append)
    with pytest.raises(LabError, match=r"a subscriber of the run failed: .*a bug in a report"):
        one.execute()
    saved = json.loads(RunDir.latest(tmp_path / "runs").result.read_text())
    assert (saved["status"], saved["verdict"]) == ("ok", "valid")
    assert seen and seen[-1].op is Op.RUN and seen[-1].phase is Phase.END  # the others got all
    with pytest.raises(LabError, match="a Run executes once"):
        one.execute()


def test_steps_run_one_after_another_on_one_cache(
    tmp_path: Path, local_backend: LocalBackend, lab_toolchain: Toolchain
) -> None:
    """Run, edit one checkout in place, clean the cache, run again: what each runner must find
    follows the edit, the clean runs on a runner of its own, and the logs keep every step."""
    path = tmp_path / "steps.toml"
    path.write_text(
        'name = "steps"\nrunners = 2\nbuild_delay = 0\nsubject = "narrow"\n'
        "template_parameters = { version_from_file = true }\n"
        '[[steps]]\nkind = "run"\n'
        '[[steps]]\nkind = "edit"\nrunners = ["runner-1"]\nset = { version = "2.0" }\n'
        '[[steps]]\nkind = "clean"\n'
        '[[steps]]\nkind = "run"\n'
    )
    s = scenario.load(path)
    result = Lab(lab_toolchain, local_backend, tmp_path / "runs").run(s)
    assert (result.status, result.verdict) == (RunStatus.OK, Verdict.VALID), result.violations
    run_dir = _run_dir(tmp_path, result)
    expected = json.loads(run_dir.identities.read_text())
    assert (expected["runner-1"]["version"], expected["runner-2"]["version"]) == ("2.0", "0.1.0")
    events = read_history(run_dir.history)
    steps = [(e.key, e.phase, e.data["kind"]) for e in events if e.op is Op.STEP]
    assert steps == [
        (f"step-{i}", phase, kind)
        for i, kind in enumerate(["run", "edit", "clean", "run"], start=1)
        for phase in (Phase.START, Phase.END)
    ]
    ends = [(e.runner, e.data["rc"]) for e in events if e.op is Op.RUN and e.phase is Phase.END]
    assert sorted(ends) == [("cache-clean-3", 0), *[("runner-1", 0)] * 2, *[("runner-2", 0)] * 2]
    edited = next(e for e in events if e.op is Op.STEP and e.data.get("written"))
    # the version's file, and the module whose marker says what the checkout is now
    written = ["src/uv_demo/__about__.py", "src/uv_demo/__init__.py"]
    assert edited.data["written"] == {"runner-1": written}
    log = [line.text for line in read_log(run_dir.log("runner-1"))]
    assert sum('"op": "install", "phase": "end"' in text for text in log) == 2  # appended
    assert [r.name for r in result.runners] == ["runner-1", "runner-2"]  # not the cleaner


@pytest.mark.integration
@pytest.mark.usefixtures("can_mount")
def test_locks_that_lie_over_a_campaign_s_shared_cache(
    tmp_path: Path, local_backend: LocalBackend, lab_toolchain: Toolchain
) -> None:
    """The runners' lying views lie over the cache they are given, not a new one beside it."""
    shared = tmp_path / "shared"
    shared.mkdir()
    planned = scenario.load_named("lying-locks", ["build_delay=0.5", "subject=narrow"])
    runs = tmp_path / "runs"
    result = Lab(lab_toolchain, local_backend, runs).run(planned, cache=shared)
    assert RunDir(runs / result.run_id).cache.resolve() == shared.resolve()
    assert any(shared.iterdir()) and result.verdict is Verdict.VALID
