"""The Mercurial state in the revision, read without hg, checked against real hg: clones of
one commit share it, whatever their dirstate's stat cache; what a VCS version reads changes
it, from the repository's top or from a project below it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from lab.refbuilder import _hg

pytestmark = pytest.mark.skipif(shutil.which("hg") is None, reason="Mercurial is not installed")

_ENV = {**os.environ, "HGUSER": "cachelab <cachelab@example.invalid>", "HGRCPATH": os.devnull}
_DATE = "2026-01-01 00:00 +0000"


def hg(cwd: Path, *args: str) -> str:
    # dirstate-v2 without hg's Rust extensions, as a Debian package has none
    slow = ("--config", "storage.dirstate-v2.slow-path=allow")
    proc = subprocess.run(
        ["hg", *slow, *args], cwd=cwd, env=_ENV, capture_output=True, text=True, check=True
    )
    return proc.stdout


@pytest.fixture(params=["v1", "v2"])
def origin(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    repo = tmp_path / "origin"
    (repo / "src").mkdir(parents=True)
    (repo / "README.md").write_text("# x\n")
    (repo / "src" / "x.py").write_text("")
    v2 = "true" if request.param == "v2" else "false"
    hg(tmp_path, "init", "--config", f"format.use-dirstate-v2={v2}", str(repo))
    hg(repo, "commit", "-q", "-A", "-m", "one", "-d", _DATE)
    hg(repo, "tag", "v1.0", "-d", _DATE)
    return repo


def _clone(origin: Path, name: str) -> Path:
    dest = origin.parent / name
    hg(origin.parent, "clone", "-q", str(origin), str(dest))
    return dest


def test_no_repository_no_state(tmp_path: Path) -> None:
    assert _hg.state(tmp_path) == ""


def test_clones_of_one_commit_share_the_state_whatever_their_stat_cache(origin: Path) -> None:
    a, b = _clone(origin, "a"), _clone(origin, "b")
    if b"dirstate-v2" in (origin / ".hg" / "requires").read_bytes():
        pytest.skip("a dirstate-v2 counts whole: clones differ (more misses)")
    os.utime(b / "README.md", (0, 0))
    hg(b, "status")  # refreshes b's dirstate: other times
    assert _hg.state(a) == _hg.state(b) != ""


def test_what_a_vcs_version_reads_changes_the_state(origin: Path) -> None:
    clone = _clone(origin, "a")
    sub = clone / "src"  # a project below the top: root = ".."
    seen = {_hg.state(sub)}
    assert seen != {""}
    hg(clone, "tag", "v1.1", "-d", _DATE)  # a new tag: a new commit
    seen.add(_hg.state(sub))
    (clone / "NEW").write_text("")
    hg(clone, "add", "NEW")  # added: dirty
    seen.add(_hg.state(sub))
    hg(clone, "bookmark", "topic")  # a bookmark, active
    seen.add(_hg.state(sub))
    hg(clone, "branch", "-q", "feature")  # another branch for the next commit
    seen.add(_hg.state(sub))
    hg(clone, "update", "-q", "-r", "0")  # another commit checked out
    seen.add(_hg.state(sub))
    assert len(seen) == 6
    assert _hg.state(sub) == _hg.state(clone)
