"""The git state in the revision, read without git, checked against real git: clones of one
commit share it, whatever their index's stat cache; what a VCS version reads changes it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from lab.refbuilder import _git
from tests.refbuilder.conftest import GIT_ENV


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, check=True
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
    assert _git.state(tmp_path) == _git.State("", frozenset())


def test_a_repository_without_an_index_yet_tracks_nothing(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    assert not (tmp_path / ".git" / "index").exists()
    assert _git.state(tmp_path).tracked == frozenset()
    assert _git.state(tmp_path).digest != ""


def test_clones_of_one_commit_share_the_state_whatever_their_stat_cache(origin: Path) -> None:
    a, b = _clone(origin, "a"), _clone(origin, "b")
    os.utime(b / "README.md", (0, 0))
    git(b, "status", "--porcelain")  # refreshes b's index: other inodes, times
    assert (a / ".git" / "index").read_bytes() != (b / ".git" / "index").read_bytes()
    assert _git.state(a) == _git.state(b)
    assert _git.state(a).digest != ""


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
def test_an_index_in_any_layout_tells_a_staged_change(origin: Path, layout: str) -> None:
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
    assert cut_state.digest not in ("", intact.digest)
    assert cut_state.tracked is None  # it cannot say what git tracks
    index.write_bytes(data[:cut] + b"\0" * 7)
    assert _git.state(clone) not in (intact, cut_state)


def test_clones_in_index_version_4_share_the_state(origin: Path) -> None:
    a, b = _clone(origin, "a"), _clone(origin, "b")
    for clone in (a, b):
        git(clone, "update-index", "--index-version=4")
    os.utime(b / "README.md", (0, 0))
    git(b, "status", "--porcelain")
    assert _git.state(a) == _git.state(b)
    assert _git.state(a).tracked is not None


@pytest.mark.parametrize("layout", ["--index-version=2", "--index-version=3", "--index-version=4"])
def test_what_git_tracks_is_what_git_ls_files_says(origin: Path, layout: str) -> None:
    clone = _clone(origin, "a")
    (clone / "src" / "new.py").write_text("")
    git(clone, "add", "--intent-to-add", "src/new.py")  # an extended flag (index v3 and up)
    git(clone, "update-index", layout)
    for tree in (clone, clone / "src"):
        listed = git(tree, "ls-files", "--full-name" if tree == clone else "--").splitlines()
        assert _git.state(tree).tracked == frozenset(listed)
    git(clone, "update-index", "--split-index")
    assert _git.state(clone).tracked is None  # read whole: it cannot say


def test_a_subproject_has_the_state_of_the_repository_above_it(origin: Path) -> None:
    """A monorepo's project whose VCS version reads the repository above it (``root =
    ".."``): a tag, a commit, a staged change elsewhere in it, its config change its state."""
    clone = _clone(origin, "a")
    sub = clone / "src"
    seen = {_git.state(sub).digest}
    assert seen != {""}
    git(clone, "tag", "v1.1")
    seen.add(_git.state(sub).digest)
    (clone / "README.md").write_text("# x, edited\n")
    git(clone, "add", "README.md")  # outside the subproject: the repository is dirty
    seen.add(_git.state(sub).digest)
    git(clone, "commit", "-q", "-m", "two")
    seen.add(_git.state(sub).digest)
    git(clone, "config", "core.abbrev", "12")  # what describe prints
    seen.add(_git.state(sub).digest)
    assert len(seen) == 5
    assert _git.state(sub).tracked == frozenset(
        {"a-rather-long-module-name-to-pad-an-index-entry.py"}
    )


def _git_top(tree: Path) -> Path | None:
    """Where git finds the top of the working tree from ``tree``, in this process's env."""
    proc = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], cwd=tree, capture_output=True, text=True
    )
    return Path(proc.stdout.strip()) if proc.returncode == 0 else None


@pytest.mark.parametrize(
    "ceilings",
    [
        lambda top: str(top),  # the top itself: never looked in from below
        lambda top: str(top.parent),  # above the top: the top is looked in
        lambda top: f"/nonexistent:{top / 'src'}",  # the tree itself: it is still looked in
        lambda top: f":{top.parent / 'link'}",  # after an empty entry: taken as written
        lambda top: str(top.parent / "link"),  # else with its symlinks resolved
    ],
    ids=["top", "above", "itself", "unresolved", "resolved"],
)
def test_the_search_stops_at_a_ceiling_as_gits(
    origin: Path, ceilings: Callable[[Path], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    clone = _clone(origin, "a")
    (clone.parent / "link").symlink_to(clone)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", ceilings(clone))
    top = _git_top(clone / "src")
    assert (_git.state(clone / "src").digest == "") == (top is None)
    if top is not None:
        assert _git.state(clone / "src").digest == _git.state(clone).digest


def test_the_search_stops_at_a_file_system_boundary_as_gits(origin: Path) -> None:
    """A subproject on a file system of its own (a tmpfs, in a private mount namespace)."""
    clone = _clone(origin, "a")
    mount = clone / "mounted"
    mount.mkdir()
    script = (
        f"mount -t tmpfs cachelab {mount} && "
        f"{sys.executable} -c 'import sys; from pathlib import Path; "
        "from lab.refbuilder import _git; "
        'print(_git.state(Path(sys.argv[1])).digest or "none")\' '
        f"{mount} && git -C {mount} rev-parse --show-toplevel || echo none"
    )
    for across, found in (("0", False), ("1", True)):
        env = {
            **GIT_ENV,
            "GIT_DISCOVERY_ACROSS_FILESYSTEM": across,
            "PYTHONPATH": str(Path(_git.__file__).parents[2]),
        }
        proc = subprocess.run(
            ["unshare", "--mount", "--map-root-user", "sh", "-c", script],
            env=env,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0 and "mount" in proc.stderr:
            pytest.skip(f"no private mount namespace here: {proc.stderr.strip()}")
        ours, gits = proc.stdout.split()
        assert (ours != "none", gits != "none") == (found, found), proc.stderr


def test_a_reftable_repository_has_its_refs_in_the_state(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    git(tmp_path, "init", "-q", "-b", "main", "--ref-format=reftable", str(repo))
    (repo / "README.md").write_text("# x\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "one")
    before = _git.state(repo)
    git(repo, "tag", "v1.0")
    assert _git.state(repo) != before
