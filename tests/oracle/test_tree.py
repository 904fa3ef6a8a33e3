"""The oracle's digest of a tree: whatever a build can see changes it, nothing else does; and
the copy it builds is what the digest covers."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from lab.oracle import OracleError, _tree


def _project(root: Path) -> Path:
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "pkg"\nversion = "1"\n')
    (root / "README.md").write_text("hello\n")
    (root / "src" / "pkg" / "__init__.py").write_text("")
    (root / ".venv").mkdir()
    return root


def _git(tree: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
    }
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    subprocess.run(["git", "-C", str(tree), *args], env=env, check=True, capture_output=True)


CHANGES: dict[str, Callable[[Path], object]] = {
    "a readme edited": lambda t: (t / "README.md").write_text("hello!\n"),
    "a file added": lambda t: (t / "LICENSE").write_text("MIT\n"),
    "an empty dir added": lambda t: (t / "data").mkdir(),
    "a file made executable": lambda t: (t / "README.md").chmod(0o755),
    "a symlink": lambda t: (t / "link").symlink_to("README.md"),
    "a file removed": lambda t: (t / "src" / "pkg" / "__init__.py").unlink(),
    "a file in .venv below the top": lambda t: (t / "src" / ".venv").mkdir(),
}
SAME: dict[str, Callable[[Path], object]] = {
    "times": lambda t: os.utime(t / "README.md", (0, 0)),
    "the runner's venv": lambda t: (t / ".venv" / "pyvenv.cfg").write_text("home = x\n"),
    "byte code": lambda t: (t / "src" / "pkg" / "__pycache__").mkdir(),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_whatever_a_build_can_see_changes_the_digest(tmp_path: Path, change: str) -> None:
    tree = _project(tmp_path / "p")
    before = _tree.digest(tree)
    CHANGES[change](tree)
    assert _tree.digest(tree) != before


@pytest.mark.parametrize("change", sorted(SAME))
def test_what_is_not_the_projects_does_not(tmp_path: Path, change: str) -> None:
    tree = _project(tmp_path / "p")
    before = _tree.digest(tree)
    SAME[change](tree)
    assert _tree.digest(tree) == before


def test_trees_alike_anywhere_are_alike(tmp_path: Path) -> None:
    assert _tree.digest(_project(tmp_path / "a")) == _tree.digest(_project(tmp_path / "b" / "c"))


def test_the_git_state_counts(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("no git here")
    tree = _project(tmp_path / "p")
    _git(tree, "init", "-q")
    _git(tree, "add", "README.md")
    staged = _tree.digest(tree)
    _git(tree, "add", "pyproject.toml")  # tracked or not: setuptools' file finders ask git
    assert _tree.digest(tree) != staged
    _git(tree, "commit", "-qm", "one")
    committed = _tree.digest(tree)
    _git(tree, "tag", "v1.0")  # a VCS version
    assert _tree.digest(tree) != committed
    os.utime(tree / ".git" / "index", (0, 0))  # git's own bookkeeping is not its state
    tagged = _tree.digest(tree)
    _git(tree, "status")
    assert _tree.digest(tree) == tagged


def test_the_copy_is_what_the_digest_covers_and_git_whole(tmp_path: Path) -> None:
    tree = _project(tmp_path / "p")
    (tree / ".git").mkdir()
    (tree / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (tree / "src" / "pkg" / "__pycache__").mkdir()
    (tree / "link").symlink_to("README.md")
    _tree.copy(tree, tmp_path / "copy" / "p")
    copied = tmp_path / "copy" / "p"
    assert not (copied / ".venv").exists() and not (copied / "src/pkg/__pycache__").exists()
    assert (copied / ".git" / "HEAD").is_file() and (copied / "link").is_symlink()
    assert _tree.digest(copied) == _tree.digest(tree)


def test_a_file_name_that_is_not_utf8_is_content_as_any_other(tmp_path: Path) -> None:
    """A POSIX name is bytes: a Latin-1 name is digested and copied, never a crash."""
    tree = _project(tmp_path / "p")
    before = _tree.digest(tree)
    (tree / os.fsdecode(b"caf\xe9.txt")).write_text("x")
    (tree / "to-it").symlink_to(os.fsdecode(b"caf\xe9.txt"))
    assert _tree.digest(tree) != before
    _tree.copy(tree, tmp_path / "copy" / "p")
    assert _tree.digest(tmp_path / "copy" / "p") == _tree.digest(tree)


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _socket(path: Path) -> None:
    with socket.socket(socket.AF_UNIX) as bound:
        bound.bind(str(path))


@pytest.mark.parametrize("make", [_fifo, _socket], ids=["fifo", "socket"])
def test_a_file_that_cannot_be_copied_is_one_line_naming_it(
    tmp_path: Path, make: Callable[[Path], None]
) -> None:
    """Its digest says it is there; a build needs a copy, and the copy says why it cannot."""
    tree = _project(tmp_path / "p")
    make(tree / "src" / "x")
    assert _tree.digest(tree)
    with pytest.raises(OracleError) as raised:
        _tree.copy(tree, tmp_path / "copy" / "p")
    assert "\n" not in str(raised.value)
    assert str(raised.value).startswith(f"the oracle cannot copy {tree}: {tree}/src/x: ")


def test_a_tree_that_cannot_be_read_is_one_line_naming_it(tmp_path: Path) -> None:
    with pytest.raises(OracleError, match=f"^the oracle cannot read {tmp_path}/none: "):
        _tree.digest(tmp_path / "none")
    if os.geteuid() == 0:
        return  # root reads what its mode forbids
    tree = _project(tmp_path / "p")
    (tree / "README.md").chmod(0)
    with pytest.raises(OracleError) as raised:
        _tree.digest(tree)
    assert "\n" not in str(raised.value) and "README.md" in str(raised.value)
