"""The git state in the revision, read without git, checked against real git: clones of one
commit share it, whatever their index's stat cache; what a VCS version reads changes it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from lab.refbuilder import _git

_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "cachelab",
    "GIT_AUTHOR_EMAIL": "cachelab@example.invalid",
    "GIT_COMMITTER_NAME": "cachelab",
    "GIT_COMMITTER_EMAIL": "cachelab@example.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00+00:00",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00+00:00",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=_ENV, capture_output=True, text=True, check=True
    )
    return proc.stdout


@pytest.fixture(params=["sha1", "sha256"])
def origin(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    repo = tmp_path / "origin"
    (repo / "src").mkdir(parents=True)
    (repo / "README.md").write_text("# x\n")
    (repo / "src" / "a-rather-long-module-name-to-pad-an-index-entry.py").write_text("")
    git(tmp_path, "init", "-q", "-b", "main", f"--object-format={request.param}", str(repo))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "one")
    git(repo, "tag", "v1.0")
    return repo


def _clone(origin: Path, name: str) -> Path:
    dest = origin.parent / name
    git(origin.parent, "clone", "-q", str(origin), str(dest))
    return dest


def test_no_git_no_state(tmp_path: Path) -> None:
    assert _git.state(tmp_path) == ""


def test_clones_of_one_commit_share_the_state_whatever_their_stat_cache(origin: Path) -> None:
    a, b = _clone(origin, "a"), _clone(origin, "b")
    os.utime(b / "README.md", (0, 0))
    git(b, "status", "--porcelain")  # refreshes b's index: other inodes, times
    assert (a / ".git" / "index").read_bytes() != (b / ".git" / "index").read_bytes()
    assert _git.state(a) == _git.state(b) != ""


def test_what_a_vcs_version_reads_changes_the_state(origin: Path) -> None:
    clone = _clone(origin, "a")
    seen = {_git.state(clone)}
    git(clone, "tag", "v1.1")  # a new tag
    seen.add(_git.state(clone))
    (clone / "README.md").write_text("# x, edited\n")
    git(clone, "add", "README.md")  # staged: dirty, whatever the working file says
    seen.add(_git.state(clone))
    git(clone, "commit", "-q", "-m", "two")  # a new commit
    seen.add(_git.state(clone))
    git(clone, "switch", "-q", "-c", "topic")  # another branch at the same commit
    seen.add(_git.state(clone))
    (clone / ".git" / "info" / "exclude").write_text("*.log\n")
    seen.add(_git.state(clone))
    assert len(seen) == 6


@pytest.mark.parametrize("layout", ["--index-version=4", "--split-index"])
def test_an_index_read_whole_still_tells_a_staged_change(origin: Path, layout: str) -> None:
    clone = _clone(origin, "a")
    git(clone, "update-index", layout)
    before = _git.state(clone)
    assert before == _git.state(clone)
    (clone / "README.md").write_text("# staged\n")
    git(clone, "add", "README.md")
    assert _git.state(clone) != before


def test_a_worktree_reads_its_own_head_and_index_and_the_shared_refs(origin: Path) -> None:
    clone = _clone(origin, "a")
    worktree = origin.parent / "wt"
    git(clone, "worktree", "add", "-q", "-b", "other", str(worktree))
    before = _git.state(worktree)
    git(clone, "tag", "v2.0")  # made in the main checkout, seen from the worktree
    assert _git.state(worktree) != before


@pytest.mark.parametrize("cut", [12, 40, 100, -1])
def test_a_corrupt_index_counts_whole(origin: Path, cut: int) -> None:
    """Cut short anywhere (its header, an entry, its checksum): no traceback, and a state of
    its own, never the intact index's."""
    clone = _clone(origin, "a")
    index = clone / ".git" / "index"
    intact = _git.state(clone)
    data = index.read_bytes()
    index.write_bytes(data[:cut])
    cut_state = _git.state(clone)
    assert cut_state not in ("", intact)
    index.write_bytes(data[:cut] + b"\0" * 7)
    assert _git.state(clone) not in (intact, cut_state)
