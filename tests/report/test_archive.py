"""`cachelab archive`: what a run's archive holds for an upstream issue, and what it never does."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import pytest

from lab.cli import main
from lab.report import archive
from lab.run.environment import environment
from lab.rundir import RunDir
from tests.conftest import FIXTURES


def _read(tar: tarfile.TarFile, name: str) -> bytes:
    member = tar.extractfile(name)
    assert member is not None
    return member.read()


def test_the_archive_holds_the_record_and_not_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = Path(shutil.copytree(FIXTURES / "runs" / "uv-valid", tmp_path / "run"))
    monkeypatch.setenv("CACHELAB_SECRET_TOKEN", "hunter2")
    made = archive.make(run)
    assert made == tmp_path / "run.tar.gz" and made.stat().st_size < 5_000_000
    with tarfile.open(made) as tar:
        names = tar.getnames()
        everything = b"".join(_read(tar, m.name) for m in tar.getmembers() if m.isfile())
    run_dir = RunDir(run)
    wanted = [run_dir.scenario, run_dir.history, run_dir.result, run_dir.page, run_dir.identities]
    wanted.append(run_dir.log("runner-1"))
    assert {f"run/{p.relative_to(run)}" for p in wanted} <= set(names)
    assert not [n for n in names if n.startswith(("run/cache", "run/checkouts", "run/runners"))]
    assert b"hunter2" not in everything  # no environment variable goes in
    assert "run/environment.json" not in names  # a run recorded before runs said where
    assert not run_dir.page.exists()  # the run directory stays as it was


def test_a_run_s_own_record_of_where_it_ran_is_archived(tmp_path: Path) -> None:
    run = Path(shutil.copytree(FIXTURES / "runs" / "uv-valid", tmp_path / "run"))
    told = environment(RunDir(run).cache, subject="uv 0.8.12", backend="docker")
    RunDir(run).environment.write_text(json.dumps(told))
    with tarfile.open(archive.make(run)) as tar:
        env = json.loads(_read(tar, "run/environment.json"))
    assert env == told and env["cache_file_system"] != "unknown"
    assert set(env) >= {"cachelab", "subject", "backend", "orchestrator_python", "kernel"}


def test_an_archive_of_what_is_no_run_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["archive", str(tmp_path)]) == 2
    assert "is not a run directory" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    run = Path(shutil.copytree(FIXTURES / "runs" / "uv-valid", tmp_path / "run"))
    assert main(["archive", str(run), "-o", str(run / "inside.tar.gz")]) == 2
    assert not (run / "inside.tar.gz").exists()


def test_the_latest_run_is_archived_under_its_own_name(tmp_path: Path) -> None:
    run = Path(shutil.copytree(FIXTURES / "runs" / "uv-valid", tmp_path / "20261130-1-x"))
    RunDir(run).point_latest()
    made = archive.make(RunDir.latest(tmp_path).path)
    assert made == tmp_path / "20261130-1-x.tar.gz"
    with tarfile.open(made) as tar:
        assert all(name.startswith("20261130-1-x/") for name in tar.getnames())


def test_an_archive_that_cannot_be_written_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = Path(shutil.copytree(FIXTURES / "runs" / "uv-valid", tmp_path / "run"))
    assert main(["archive", str(run), "-o", str(tmp_path / "no-such-dir" / "x.tar.gz")]) == 2
    assert "cannot write" in capsys.readouterr().err
