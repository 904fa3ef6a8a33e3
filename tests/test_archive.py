"""`cachelab bundle`: what a run's archive holds for an upstream issue, and what it never does."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import pytest

from lab import archive
from lab.cli import main
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
        env = json.loads(_read(tar, "run/environment.json"))
        everything = b"".join(_read(tar, m.name) for m in tar.getmembers() if m.isfile())
    wanted = {"scenario.json", "history.jsonl", "result.json", "report.html", "expected.json"}
    assert {f"run/{name}" for name in wanted} | {"run/logs/runner-1.log"} <= set(names)
    assert not [n for n in names if "/cache" in n or "/checkouts" in n or "/runners" in n]
    assert b"hunter2" not in everything  # no environment variable goes in
    # a run from before runs recorded where they ran: told now, and marked so
    assert env["subject"] == "uv 0.13.9" and env["cache_file_system"] != "unknown"
    assert set(env) >= {"cachelab", "backend", "orchestrator_python", "kernel", "recorded"}
    assert not (run / "report.html").exists()  # the run directory stays as it was


def test_a_run_s_own_record_of_where_it_ran_is_archived(tmp_path: Path) -> None:
    run = Path(shutil.copytree(FIXTURES / "runs" / "uv-valid", tmp_path / "run"))
    told = archive.environment(run / "cache", subject="uv 0.8.12", backend="docker")
    (run / archive.ENVIRONMENT_FILE).write_text(json.dumps(told))
    with tarfile.open(archive.make(run)) as tar:
        assert json.loads(_read(tar, "run/environment.json")) == told


def test_a_damaged_record_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = Path(shutil.copytree(FIXTURES / "runs" / "uv-valid", tmp_path / "run"))
    (run / "result.json").write_text("{not json")
    assert main(["bundle", str(run)]) == 2
    assert "cannot read the run's record" in capsys.readouterr().err
    assert not (tmp_path / "run.tar.gz").exists()


def test_bundle_of_what_is_no_run_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bundle", str(tmp_path)]) == 2
    assert "is not a run directory" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    run = Path(shutil.copytree(FIXTURES / "runs" / "uv-valid", tmp_path / "run"))
    assert main(["bundle", str(run), "-o", str(run / "inside.tar.gz")]) == 2
    assert not (run / "inside.tar.gz").exists()


def test_the_latest_run_is_archived_under_its_own_name(tmp_path: Path) -> None:
    run = Path(shutil.copytree(FIXTURES / "runs" / "uv-valid", tmp_path / "20261130-1-x"))
    (tmp_path / "latest").symlink_to(run.name)
    made = archive.make(tmp_path / "latest")
    assert made == tmp_path / "20261130-1-x.tar.gz"
    with tarfile.open(made) as tar:
        assert all(name.startswith("20261130-1-x/") for name in tar.getnames())


def test_an_archive_that_cannot_be_written_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = Path(shutil.copytree(FIXTURES / "runs" / "uv-valid", tmp_path / "run"))
    assert main(["bundle", str(run), "-o", str(tmp_path / "no-such-dir" / "x.tar.gz")]) == 2
    assert "cannot write" in capsys.readouterr().err
