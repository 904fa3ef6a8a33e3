"""The command line as a user meets it: exit codes, messages, Ctrl-C."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import docker
import pytest

from lab.cli import main
from lab.cli.options import counts
from lab.contract import Op, Phase
from lab.errors import ExitCode
from lab.rundir import MOUNT_REGISTRY, RunDir, read_history
from lab.runners.containers import LABEL_RUN
from lab.runners.docker import DockerBackend
from tests.conftest import FIXTURES, REPO, run_issue


def test_bad_scenario_exits_2_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\nrunners = 0\n')
    runs = tmp_path / "runs"
    assert main(["run", str(bad), "--runs-dir", str(runs)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: field 'runners':" in err and "greater than or equal to 1" in err
    assert not runs.exists()


def test_bad_override_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "run",
            str(REPO / "scenarios" / "issue-15380.toml"),
            "--set",
            "topology=ring",
            "--runs-dir",
            str(tmp_path / "runs"),
        ]
    )
    assert code == 2
    assert (
        "--set topology=ring: field 'topology': Input should be 'same-path', 'different-paths' or"
        in (capsys.readouterr().err)
    )


@pytest.mark.integration
@pytest.mark.usefixtures("lab_toolchain")
def test_json_output_is_the_result(tmp_path: Path) -> None:
    proc = run_issue(
        "--set",
        "runners=1",
        "--set",
        "build_delay=0",
        "--json",
        cwd=tmp_path,
    )
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    result = json.loads(out)
    saved = json.loads(RunDir.latest(tmp_path / "runs").result.read_text())
    assert result == saved
    assert RunDir.latest(tmp_path / "runs").page.is_file()  # the command draws its page
    assert "not serialized" in err  # the verdict still reaches people, on stderr


@pytest.mark.integration
@pytest.mark.usefixtures("lab_toolchain")
def test_runs_given_one_cache_dir_share_it(tmp_path: Path) -> None:
    """A cache kept across runs, as CI keeps one: the second run's fresh identical checkout
    reuses what the first built (content freshness), and the cache outlives both."""
    cache = tmp_path / "kept-cache"
    cache.mkdir()
    options = ["--backend", "local", "--subjects", "coalesce", "--cache-dir", str(cache)]
    for _ in range(2):
        proc = run_issue(*options, "--set", "runners=1", "--set", "build_delay=0", cwd=tmp_path)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    runs = [RunDir(r) for r in sorted((tmp_path / "runs").glob("2*")) if RunDir(r).result.is_file()]
    assert [run.cache.resolve() for run in runs] == [cache, cache]
    second = read_history(runs[1].history)
    assert [e.phase for e in second if e.op is Op.LOOKUP][-1] is Phase.HIT


def _start_and_wait_for_the_lock(
    tmp_path: Path, backend: str
) -> tuple[subprocess.Popen[str], Path]:
    """A long run, once a runner holds the editable lock; returns it and its run directory."""
    proc = run_issue(
        "--backend",
        backend,
        "--set",
        "build_delay=120",
        cwd=tmp_path,
    )
    history = RunDir.latest(tmp_path / "runs").history
    deadline = time.monotonic() + 120
    while not (history.exists() and '"acquired"' in history.read_text()):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.1)
    return proc, history.parent.resolve()


def _containers_of(run_dir: Path) -> list[str]:
    client = docker.from_env()
    found = client.containers.list(
        all=True, filters={"label": f"{LABEL_RUN}={run_dir.name}"}, ignore_removed=True
    )
    return [str(c.name) for c in found]


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["local", "docker"])
def test_ctrl_c_stops_every_runner_and_keeps_the_record(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    request.getfixturevalue(f"{backend}_backend")  # fails, not skips, under CI=true
    proc, run_dir = _start_and_wait_for_the_lock(tmp_path, backend)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert json.loads(RunDir(run_dir).result.read_text())["status"] == "interrupted"
    assert RunDir(run_dir).page.is_file()  # drawn however the run ended
    assert _processes_using(run_dir) == []
    if backend == "docker":
        assert _containers_of(run_dir) == []


@pytest.mark.integration
def test_containers_of_a_killed_orchestrator_go_at_the_next_start(
    tmp_path: Path, docker_backend: DockerBackend
) -> None:
    proc, run_dir = _start_and_wait_for_the_lock(tmp_path, "docker")
    proc.kill()  # SIGKILL: no cleanup runs
    proc.communicate(timeout=30)
    assert len(_containers_of(run_dir)) == 2
    with docker_backend.session("next-run"):
        pass
    assert _containers_of(run_dir) == []


@pytest.mark.integration
@pytest.mark.usefixtures("docker_backend")
def test_a_failing_runner_leaves_no_container(tmp_path: Path) -> None:
    proc = run_issue(
        "--backend",
        "docker",
        "--set",
        'command=["uv", "pip", "install", "no-such-package-here"]',
        cwd=tmp_path,
    )
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    assert "run failed: runner(s) runner-1, runner-2 did not finish cleanly" in out
    assert _containers_of(RunDir.latest(tmp_path / "runs").path.resolve()) == []


def _processes_using(path: Path) -> list[str]:
    """Processes whose command line or working directory is inside ``path``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = str((proc / "cwd").readlink())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if str(path) in cmdline or cwd.startswith(str(path)):
            found.append(f"{proc.name}: {cmdline}")
    return found


def test_campaign_options_name_what_is_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["matrix", "--templates", "hatchling,nope", "--runs-dir", str(tmp_path)]) == 2
    assert "--templates hatchling,nope: choose from " in capsys.readouterr().err
    for runners, said in (("1,0", "expected a whole number >= 1, got '0'"), ("2,65", "at most 64")):
        with pytest.raises(SystemExit) as usage:
            main(["bench", "subjects", "--runners", runners, "--runs-dir", str(tmp_path)])
        assert usage.value.code == 2
        assert f"--runners: {said}" in capsys.readouterr().err
    assert counts("2,1,2") == (1, 2)
    assert main(["compare", "issue-15380", "--subjects", "uv,fast"]) == 2
    assert (
        "--subjects uv,fast: unknown subject 'fast'; "
        "choose from uv, pip, narrow, coalesce, wide, none" in capsys.readouterr().err
    )
    # a release the toolchain lacks says how to add it, before anything is written
    argv = ["run", "issue-15380", "--subjects", "uv@9.9.9", "--runs-dir", str(tmp_path)]
    assert main([*argv, "--backend", "local"]) == 1
    assert "run `cachelab setup --uv-version 9.9.9`" in capsys.readouterr().err
    assert main(["run", "issue-15380", "--subjects", "uv@latest"]) == 2
    assert "uv 'latest' is not a release number" in capsys.readouterr().err
    assert main(["run", "issue-15380", "--subjects", "narrow@1"]) == 2
    assert "subject 'narrow' takes no @VERSION" in capsys.readouterr().err
    argv = ["catalog", "--subjects", "uv@9.9.9", "--scenarios", "stale-native"]
    assert main([*argv, "--backend", "local", "--runs-dir", str(tmp_path)]) == 1
    assert "run `cachelab setup --uv-version 9.9.9`" in capsys.readouterr().err
    lab_dir = tmp_path / "lab"  # a typo stops setup before it makes anything
    assert main(["--lab-dir", str(lab_dir), "setup", "--uv-version", "0.12"]) == 2
    assert "--uv-version: uv '0.12' is not a release number" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["run"],
        ["compare"],
        ["matrix"],
        ["bench"],
        ["catalog"],
        ["demo"],
        ["archive"],
        ["swarm", "up"],
    ],
)
def test_every_help_lists_the_exit_codes(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for code in ExitCode:
        assert f"\n  {code.value:<4} " in out, (code, out)


def test_only_commands_that_run_a_project_offer_project(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for command, offered in (("run", True), ("compare", True), ("fuzz", True), ("torture", False)):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert ("--project PATH" in capsys.readouterr().out) is offered, command
    with pytest.raises(SystemExit) as usage:  # not a template run in its place
        main(["torture", "issue-15380", "--project", "."])
    assert usage.value.code == 2
    assert "unrecognized arguments: --project" in capsys.readouterr().err


def test_check_judges_a_run_directory_with_its_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = FIXTURES / "runs"
    assert main(["check", str(runs / "narrow-valid")]) == ExitCode.OK
    assert main(["check", str(runs / "narrow-stale-version")]) == ExitCode.FAILED
    out = capsys.readouterr().out
    assert "wrong-version: runner-1: uv-demo 2.0 installed, its checkout gives 1.0" in out
    assert main(["check", str(runs / "narrow-stale-version"), "--json"]) == ExitCode.FAILED
    assert json.loads(capsys.readouterr().out)["verdict"] == "invalid"
    unknown = tmp_path / "unknown"
    shutil.copytree(runs / "narrow-valid", unknown)
    history = RunDir(unknown).history
    kept = [line for line in history.read_text().splitlines() if '"op": "facts"' not in line]
    history.write_text("\n".join(kept) + "\n")
    assert main(["check", str(unknown)]) == ExitCode.UNKNOWN
    assert main(["check", str(tmp_path)]) == ExitCode.USAGE
    assert "is not a run directory of this lab" in capsys.readouterr().err


def test_a_campaign_takes_no_scenario_with_steps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["torture", "stale-native", "--backend", "local", "--runs-dir", str(tmp_path)]
    assert main(argv) == 2
    assert (
        "stale-native has steps; the fault campaign takes a single run" in capsys.readouterr().err
    )
    assert not [p for p in tmp_path.iterdir() if p.name != MOUNT_REGISTRY]


@pytest.mark.parametrize(
    "argv", [["swarm"], ["swarm", "up", "--nodes", "0"], ["swarm", "sideways"]]
)
def test_a_swarm_without_a_valid_action_or_size_is_a_usage_error(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == ExitCode.USAGE


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (["--cache-dir", "missing"], "--cache-dir missing: no such directory; make it first"),
        (["--cache-volume-opt", "type=nfs"], "--cache-volume-opt is an option of --cache-volume"),
        (["--cache-volume", "cc"], "--cache-volume needs --cache-dir: where this host sees"),
        (["--cache-volume", "a/b", "--cache-dir", "."], "a volume name is letters, digits"),
        (["--cache-volume", "cc", "--cache-volume-opt", "nfs"], "'nfs': expected KEY=VALUE"),
        (["--cache-volume", "cc", "--cache-dir", ".", "--backend", "docker"], "not docker"),
    ],
)
def test_cache_options_that_do_not_fit_are_usage_errors_before_anything_starts(
    extra: list[str],
    said: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", "issue-15380", "--runs-dir", "runs", *extra]) == ExitCode.USAGE
    assert said in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
