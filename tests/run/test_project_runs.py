"""`cachelab run --project`: the issue's scenario on a project of the user's, offline, judged
by the checker and the oracle, on the local backend."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from lab.rundir import RunDir
from tests.conftest import REPO
from tests.projects.test_gitcopy import _git, _refs, _repo
from tests.projects.test_project import PLAIN, _sdist

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("lab_toolchain")]
LEGACY = PLAIN.parent / "setup-py-only"


def _run(project: Path, subjects: str, runs: Path, *more: str) -> tuple[int, Any, str]:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lab",
            "--lab-dir",
            str(REPO / ".lab"),
            "run",
            "issue-15380",
            "--project",
            str(project),
            "--subjects",
            subjects,
            "--backend",
            "local",
            "--runs-dir",
            str(runs),
            "--json",
            *more,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    payload = json.loads(proc.stdout) if proc.stdout.strip() else None
    return proc.returncode, payload, proc.stderr


def test_an_sdist_with_a_lock_file_and_a_dev_group_installs_offline_with_uv_and_narrow(
    tmp_path: Path,
) -> None:
    """uv installs the project itself (its lock's dev group is not in the wheelhouse), and
    both subjects' installs are what a cold build of the checkout gives."""
    sdist = _sdist(tmp_path)
    with tarfile.open(sdist) as archive:
        assert "plain_demo-1.2.0/uv.lock" in archive.getnames()
    code, results, err = _run(sdist, "uv,narrow", tmp_path / "runs")
    assert code == 0, err
    assert [(r["subject"], r["status"], r["verdict"]) for r in results] == [
        ("uv@0.13.9", "ok", "valid"),
        ("narrow", "ok", "valid"),
    ]
    uv_run = RunDir(tmp_path / "runs" / results[0]["run_id"])
    log = uv_run.log("runner-1").read_text()
    assert "+ plain-demo==1.2.0" in log and "+ pytest==" not in log
    oracle = json.loads(uv_run.oracle.read_text())
    assert oracle["runner-1"]["installed"]["version"] == "1.2.0"
    assert "project plain-demo (sdist" in err


def test_uv_sync_on_such_a_project_fails_loudly(tmp_path: Path) -> None:
    """What uv's default did before: `uv sync` takes the lock's dev group from its index,
    which no runner offline reaches. The run fails (exit 1), never passes as ok."""
    command = 'command=["uv", "sync", "--reinstall", "--frozen"]'  # a user's own: kept
    code, result, err = _run(PLAIN, "uv", tmp_path / "runs", "--set", command, "--set", "runners=1")
    assert code == 1, err
    assert result["status"] == "failed" and result["runners"][0]["rc"] != 0
    log = RunDir(tmp_path / "runs" / result["run_id"]).log("runner-1").read_text()
    assert "Network connectivity is disabled" in log and "pytest" in log


def test_a_project_only_a_build_can_name_is_named_by_the_oracle(tmp_path: Path) -> None:
    code, results, err = _run(LEGACY, "narrow", tmp_path / "runs", "--set", "runners=1")
    assert code == 0, err
    assert (results["status"], results["verdict"]) == ("ok", "valid")
    expected = json.loads(RunDir(tmp_path / "runs" / results["run_id"]).identities.read_text())
    assert expected["runner-1"]["distribution"] == "legacy-demo"


def test_a_worktree_runs_in_copies_of_their_own(tmp_path: Path) -> None:
    """Each checkout of a worktree is a repository of its own: the run is valid, and the
    user's repository is as it was."""
    repo = _repo(tmp_path / "repo")
    worktree = tmp_path / "wt"
    _git(repo, "worktree", "add", "-q", "-b", "feature", str(worktree))
    before = _refs(repo)
    code, result, err = _run(worktree, "narrow", tmp_path / "runs", "--set", "runners=2")
    assert code == 0, err
    assert (result["status"], result["verdict"]) == ("ok", "valid")
    checkout = RunDir(tmp_path / "runs" / result["run_id"]).checkout("runner-1")
    assert (checkout / ".git").is_dir()
    assert _refs(repo) == before
