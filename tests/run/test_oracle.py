"""Whole runs judged by the cold-build oracle: what each runner installed against what its
checkout's content gives, recorded before the runners start and re-judged from the run
directory alone."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lab import scenario
from lab.check.oracle import load
from lab.contract import EDITABLE_BUCKET
from lab.errors import LabError
from lab.log import logging_to
from lab.oracle import tree_digest
from lab.projects.project import open_project
from lab.result import RunResult
from lab.run import Lab, expect
from lab.rundir import RunDir
from lab.runners.local import LocalBackend
from lab.toolchain import Toolchain
from lab.vocabulary import Verdict
from tests.conftest import REPO
from tests.projects.test_project import PLAIN
from tests.run.test_project_runs import _run as run_project

pytestmark = pytest.mark.integration


def _run(lab: Lab, name: str, *overrides: str, cache: Path | None = None) -> RunResult:
    return lab.run(scenario.load_named(name, list(overrides)), cache=cache)


def _messages(result: RunResult) -> list[str]:
    return [f"{v.kind}: {v.message}" for v in result.violations]


def test_uv_serving_a_stale_version_is_caught_and_rejudged_offline(
    tmp_path: Path, local_backend: LocalBackend, lab_toolchain: Toolchain
) -> None:
    """stale-metadata: uv keeps version 1.0 after the checkout's version file says 2.0. The
    oracle, asked before the second run step, says 2.0; `cachelab check` says so again
    from the directory, without building."""
    lab = Lab(lab_toolchain, local_backend, tmp_path / "runs")
    result = _run(lab, "stale-metadata")
    assert result.verdict is Verdict.INVALID
    assert (
        "metadata-differs: runner-1: METADATA Version differs: installed '1.0', its checkout "
        "gives '2.0'" in _messages(result)
    )
    run_dir = RunDir(tmp_path / "runs" / result.run_id)
    said = load(run_dir.oracle)
    assert said["runner-1"].tree == tree_digest(run_dir.checkout("runner-1"))
    checked = subprocess.run(
        [sys.executable, "-m", "lab", "check", str(run_dir.path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 1 and "METADATA Version differs" in checked.stdout


def _plant(wheel: Path, header: str) -> None:
    """Rewrite ``wheel`` with one more METADATA header, RECORD kept true: a sound wheel that
    no build of its checkout gives."""
    with zipfile.ZipFile(wheel) as old:
        members = {i.filename: old.read(i) for i in old.infolist()}
    record = next(name for name in members if name.endswith(".dist-info/RECORD"))
    metadata = record.replace("RECORD", "METADATA")
    members[metadata] = members[metadata].replace(b"\nVersion:", f"\n{header}\nVersion:".encode())
    rows = []
    for name, data in members.items():
        if name != record:
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            rows.append(f"{name},sha256={digest.decode()},{len(data)}")
    members[record] = ("\n".join([*rows, f"{record},,"]) + "\n").encode()
    with zipfile.ZipFile(wheel, "w") as new:
        for name, data in members.items():
            new.writestr(name, data)


def test_the_unsafe_policy_serving_a_stale_install_is_caught(
    tmp_path: Path, local_backend: LocalBackend, lab_toolchain: Toolchain
) -> None:
    """`none` on a cache kept across runs: an entry changed by hand (its wheel and manifest
    kept in agreement, so no check of the cache sees it) is served to the next run's
    identical checkout, exit 0. Only the oracle says that is not what the checkout gives."""
    lab = Lab(lab_toolchain, local_backend, tmp_path / "runs")
    kept = tmp_path / "kept-cache"
    kept.mkdir()
    settings = ("subject=none", "runners=1", "build_delay=0")
    first = _run(lab, "issue-15380", *settings, cache=kept)
    assert first.verdict is Verdict.VALID, first.violations
    (wheel,) = kept.glob(f"{EDITABLE_BUCKET}/*/*/*.whl")
    _plant(wheel, "Summary: planted")
    manifest = wheel.with_name("entry.json")
    entry = json.loads(manifest.read_text())
    entry.update(size=wheel.stat().st_size, sha256=hashlib.sha256(wheel.read_bytes()).hexdigest())
    manifest.write_text(json.dumps(entry))
    second = _run(lab, "issue-15380", *settings, cache=kept)
    assert [r.rc for r in second.runners] == [0]
    assert second.verdict is Verdict.INVALID
    assert _messages(second) == [
        "metadata-differs: runner-1: METADATA Summary differs: installed 'planted', its "
        "checkout gives nothing"
    ]


def test_a_file_name_that_is_not_utf8_is_judged_as_any_other(tmp_path: Path) -> None:
    """`cachelab run --project` on a tree with a Latin-1 file name: the oracle digests and
    copies it as any other (it once ended the run in a traceback)."""
    project = tmp_path / "plain"
    shutil.copytree(PLAIN, project)
    (project / os.fsdecode(b"caf\xe9.txt")).write_text("x")
    code, result, err = run_project(project, "pip", tmp_path / "runs", "--set", "runners=1")
    assert "Traceback" not in err
    assert (code, result["status"], result["verdict"]) == (0, "ok", "valid"), err


def test_an_oracle_that_cannot_build_says_one_line_and_records_the_rest(tmp_path: Path) -> None:
    """The run logs one line; oracle.json keeps the backend's last lines as its detail."""
    project = tmp_path / "failing-backend"
    shutil.copytree(PLAIN.parent / "failing-backend", project)
    code, result, err = run_project(project, "pip", tmp_path / "runs", "--set", "runners=1")
    assert code == 1 and result["status"] == "failed", err
    (said,) = [line for line in err.splitlines() if "oracle" in line and "failed" in line]
    assert said.endswith(
        "failed in build_editable (backend failing): Backend subprocess exited "
        "when trying to invoke build_editable"
    )
    cold = load(RunDir(tmp_path / "runs" / result["run_id"]).oracle)["runner-1"]
    assert cold.error is not None and "\n" not in cold.error
    assert cold.detail is not None and "RuntimeError: the compiler said no" in cold.detail


def test_a_project_no_build_can_name_is_one_line_and_the_backends_lines_are_logged(
    tmp_path: Path, lab_toolchain: Toolchain
) -> None:
    project = tmp_path / "legacy"
    shutil.copytree(PLAIN.parent / "setup-py-only", project)
    (project / "setup.py").write_text("raise SystemExit('setup.py says no')\n")
    oracle = expect.oracle_for(lab_toolchain, open_project(project), {})
    logged: list[str] = []
    with logging_to(logged.append), pytest.raises(LabError) as raised:
        expect.named(oracle, open_project(project))
    assert "\n" not in str(raised.value) and "its files do not name it" in str(raised.value)
    assert any("setup.py says no" in line for line in logged)


def test_a_readme_that_names_where_the_runner_sees_its_checkout_is_no_difference(
    tmp_path: Path,
) -> None:
    """The project's README says where the runner mounts it (the local backend's path for
    ``/src``), as a path and a ``file://`` URL: the probe writes it ``{checkout}``, and the
    oracle, told where each runner sees the tree, writes it so too."""
    runs = tmp_path / "runs"
    view = RunDir(runs / "any").mount_points / "src"
    project = tmp_path / "readme"
    shutil.copytree(PLAIN.parent / "static-readme", project)
    (project / "README.md").write_text(f"Mount it at {view}; docs: file://{view}/docs.\n")
    code, result, err = run_project(project, "pip", runs, "--set", "runners=2")
    assert (code, result["verdict"]) == (0, "valid"), result["violations"] or err
    said = load(RunDir(runs / result["run_id"]).oracle)
    assert said["runner-1"].checkout == str(view)
    assert said["runner-1"].installed is not None
    assert said["runner-1"].installed["description"] == (
        "Mount it at {checkout}; docs: file://{checkout}/docs.\n"
    )
