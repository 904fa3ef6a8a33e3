"""The swarm backend on a local two-node test swarm that the tests form (``swarm_backend``):
the issue across nodes, clocks across nodes, and nothing left behind however a run ends."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import docker.errors
import pytest

from lab import scenario
from lab.contract import CLOCK_ERROR_KEY, EDITABLE_BUCKET, Op, Phase
from lab.errors import ExitCode, RunnerStartError
from lab.run import Lab
from lab.rundir import RunDir, read_history
from lab.runners.base import RunnerSpec, Stamp, ViewRequest
from lab.runners.containers import LABEL_OWNER, LABEL_RUN
from lab.runners.swarm import CacheVolume, SwarmBackend, testswarm
from lab.runners.view import Mount
from lab.toolchain import Toolchain
from lab.vocabulary import RunStatus, Verdict
from tests.conftest import REPO, run_issue
from tests.runners.conftest import collect

pytestmark = pytest.mark.integration


def _issue(subject: str, runners: int = 4) -> scenario.Scenario:
    return scenario.load_named(
        scenario.ISSUE_SCENARIO, [f"subject={subject}", f"runners={runners}", "build_delay=2"]
    )


def _labelled(label: str) -> list[str]:
    """Services and task containers with ``label``, anywhere in the test swarm."""
    swarm = testswarm.current()
    assert swarm is not None
    manager = swarm.manager.client()
    found = [str(s.name) for s in manager.services.list(filters={"label": label})]
    for node in swarm.nodes:
        containers = node.client().containers.list(
            all=True, filters={"label": label}, ignore_removed=True
        )
        found += [f"{node.name}: {c.name}" for c in containers]
    return found


@pytest.mark.parametrize(("subject", "serialized"), [("uv", True), ("coalesce", False)])
def test_the_issue_across_two_nodes(
    tmp_path: Path,
    swarm_backend: SwarmBackend,
    lab_toolchain: Toolchain,
    subject: str,
    serialized: bool,
) -> None:
    result = Lab(lab_toolchain, swarm_backend, tmp_path).run(_issue(subject))
    assert (result.status, result.verdict) == (RunStatus.OK, Verdict.VALID), result.violations
    assert result.serialized is serialized  # uv waits across nodes; the reference does not
    events = read_history(RunDir(tmp_path / result.run_id).history)
    placed = [e for e in events if e.node is not None]
    assert {e.node for e in placed} == {"node-1", "node-2"}  # one history, both nodes
    assert {e.runner for e in placed if e.node == "node-1"} == {"runner-1", "runner-3"}
    assert max(float(e.data[CLOCK_ERROR_KEY]) for e in placed) < 0.1
    assert swarm_backend.leftovers(RunDir(tmp_path / result.run_id)) == []


@pytest.mark.usefixtures("swarm_backend")
def test_a_node_whose_clock_is_two_minutes_off_is_placed_right(
    tmp_path: Path, lab_toolchain: Toolchain
) -> None:
    skewed = SwarmBackend(clock_skews={"node-2": 120.0})
    result = Lab(lab_toolchain, skewed, tmp_path).run(_issue("uv"))
    assert (result.status, result.verdict) == (RunStatus.OK, Verdict.VALID), result.violations
    assert result.serialized
    events = read_history(RunDir(tmp_path / result.run_id).history)
    # Every runner's own lines fall between its start and its exit, which the lab stamped
    # itself: node-2's stamps, two minutes ahead there, were moved back by what was measured.
    for runner in ("runner-2", "runner-4"):
        mine = [e for e in events if e.runner == runner]
        start = next(e.t_mono for e in mine if e.op is Op.RUN and e.phase is Phase.START)
        end = next(e.t_mono for e in mine if e.op is Op.RUN and e.phase is Phase.END)
        placed = [e.t_mono for e in mine if e.node == "node-2"]
        assert placed and start <= min(placed) and max(placed) <= end


def test_runners_per_node_fills_the_nodes_in_turn(
    tmp_path: Path, swarm_backend: SwarmBackend, lab_toolchain: Toolchain
) -> None:
    packed = scenario.load_named(
        scenario.ISSUE_SCENARIO,
        ["subject=coalesce", "runners=3", "build_delay=1", "runners_per_node=2"],
    )
    result = Lab(lab_toolchain, swarm_backend, tmp_path).run(packed)
    assert (result.status, result.verdict) == (RunStatus.OK, Verdict.VALID), result.violations
    events = read_history(RunDir(tmp_path / result.run_id).history)
    placed = {e.runner: e.node for e in events if e.node is not None}
    assert placed == {"runner-1": "node-1", "runner-2": "node-1", "runner-3": "node-2"}
    crowded = packed.model_copy(update={"runners_per_node": 1})
    with pytest.raises(RunnerStartError, match="puts it on node 3, but the swarm has 2"):
        Lab(lab_toolchain, swarm_backend, tmp_path).run(crowded)
    assert _labelled(LABEL_OWNER) == []


@pytest.mark.usefixtures("swarm_backend")
def test_the_cache_on_a_named_volume_that_each_node_makes_from_its_options(
    tmp_path: Path, lab_toolchain: Toolchain
) -> None:
    """A fleet's cache is a volume of its own, e.g. an NFS export through the local driver.
    Here the local driver binds one directory on both nodes (``type=none``, ``o=bind``), as
    NFS would show one export; the lab reads the same directory as the run's cache."""
    shared = tmp_path / "shared-cache"
    shared.mkdir()
    options = {"type": "none", "o": "bind", "device": str(shared)}
    name = f"cachelab-test-{os.getpid()}"
    backend = SwarmBackend(cache_volume=CacheVolume(name, options))
    swarm = testswarm.current()
    assert swarm is not None
    try:
        result = Lab(lab_toolchain, backend, tmp_path).run(_issue("coalesce"), cache=shared)
        assert (result.status, result.verdict) == (RunStatus.OK, Verdict.VALID), result.violations
        assert (tmp_path / result.run_id / "cache").resolve() == shared
        events = read_history(RunDir(tmp_path / result.run_id).history)
        assert {e.node for e in events if e.op is Op.LOOKUP} == {"node-1", "node-2"}
        for node in swarm.nodes:  # made by each node's engine, from the options, when mounted
            assert node.client().volumes.get(name).attrs["Options"] == options
        assert any((shared / EDITABLE_BUCKET).iterdir())  # published through the volume
    finally:
        for node in swarm.nodes:
            with contextlib.suppress(docker.errors.NotFound):
                node.client().volumes.get(name).remove(force=True)


def _spec(name: str, script: str, tmp_path: Path) -> RunnerSpec:
    view = SwarmBackend().view(ViewRequest(RunDir(tmp_path), name, "/src", {}, frozenset()))
    return RunnerSpec(
        name=name,
        argv=["sh", "-c", script],
        env={"PATH": "/usr/bin:/bin"},
        workdir="/",
        mounts=[Mount(tmp_path, "/src"), *view.mounts],
    )


def test_a_runner_that_fails_says_so_and_leaves_nothing(
    tmp_path: Path, swarm_backend: SwarmBackend
) -> None:
    lines: list[str] = []
    stamps: list[Stamp] = []
    run_id = f"test-{os.getpid()}-fails"
    with swarm_backend.session(run_id) as session:
        handle = session.start(
            _spec("r", "echo out; echo err >&2; exit 3", tmp_path),
            collect(lines, stamps),
        )
        assert handle.wait(120) == 3
    assert sorted(lines) == ["stderr:err", "stdout:out"]
    assert {s.clock.node for s in stamps} == {"node-1"}
    assert _labelled(f"{LABEL_RUN}={run_id}") == []


def test_a_killed_runner_ends_at_once_with_the_lines_it_printed(
    tmp_path: Path, swarm_backend: SwarmBackend
) -> None:
    lines: list[str] = []
    with swarm_backend.session(f"test-{os.getpid()}-killed") as session:
        handle = session.start(_spec("r", "echo begun; sleep 120", tmp_path), collect(lines))
        assert handle.wait(3) is None  # still running
        handle.kill()
        started = time.monotonic()
        assert handle.wait(30) == 137
        assert time.monotonic() - started < 5
    assert lines in ([], ["stdout:begun"])  # what had come by then, never anything twice


def _start_a_long_run(tmp_path: Path) -> subprocess.Popen[str]:
    options = ["--backend", "swarm", "--subjects", "narrow", "--set", "runners=2"]
    proc = run_issue(*options, "--set", "build_delay=60", "--runs-dir", str(tmp_path), cwd=REPO)
    deadline = time.monotonic() + 120
    while len([s for s in _labelled(LABEL_OWNER) if ":" not in s]) < 2:  # two services
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.5)
    return proc


@pytest.mark.usefixtures("swarm_backend")
def test_ctrl_c_removes_every_service_and_task(tmp_path: Path) -> None:
    proc = _start_a_long_run(tmp_path)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert _labelled(LABEL_OWNER) == []


def test_the_services_of_a_killed_orchestrator_are_reaped_by_the_next(
    tmp_path: Path, swarm_backend: SwarmBackend
) -> None:
    proc = _start_a_long_run(tmp_path)
    proc.kill()
    proc.wait(30)
    assert _labelled(LABEL_OWNER) != []  # nobody was left to clean up
    with swarm_backend.session(f"test-{os.getpid()}-reaper"):
        pass
    assert _labelled(LABEL_OWNER) == []
