"""The revision is the whole tree's content: every edit is a new one, identical checkouts
share one, and only what is no content of the project is left out."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lab.contract import TREE_LOCK_NAME
from lab.refbuilder import _tree
from tests.conftest import REPO


def _project(path: Path) -> Path:
    (path / "src" / "x").mkdir(parents=True)
    (path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (path / "README.md").write_text("# x\n")
    (path / "src" / "x" / "__init__.py").write_text("print(1)\n")
    return path


def _revision(path: Path, salt: str = "env", with_ctimes: bool = False) -> str:
    return _tree.scan(path).revision(salt, with_ctimes)


def test_identical_checkouts_share_a_revision(tmp_path: Path) -> None:
    a, b = _project(tmp_path / "a"), _project(tmp_path / "b")
    os.utime(b / "pyproject.toml", (0, 0))  # times and inodes differ, content does not
    assert _revision(a) == _revision(b)


def _edit(rel: str, text: str) -> Callable[[Path], object]:
    def edit(tree: Path) -> None:
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text(text)

    return edit


EDITS: dict[str, Callable[[Path], object]] = {
    "a Python module": _edit("src/x/__init__.py", "print(2)\n"),
    "a readme": _edit("README.md", "# x, again\n"),
    "a new file": _edit("src/x/data.json", "{}"),
    "a file removed": lambda tree: (tree / "README.md").unlink(),
    "a file renamed": lambda tree: (tree / "README.md").rename(tree / "README.rst"),
    "an executable bit": lambda tree: (tree / "README.md").chmod(0o755),
    "a symlink": lambda tree: (tree / "link").symlink_to("README.md"),
    "an empty directory": lambda tree: (tree / "empty").mkdir(),
    "a file under build/": _edit("build/x.c", ""),
    "a file under a target/ that is no cargo's": _edit("target/x.py", ""),
}


@pytest.mark.parametrize("edit", EDITS.values(), ids=EDITS.keys())
def test_every_edit_of_the_content_is_a_new_revision(
    tmp_path: Path, edit: Callable[[Path], object]
) -> None:
    tree = _project(tmp_path / "a")
    before = _revision(tree)
    edit(tree)
    assert _revision(tree) != before


def test_a_symlinks_target_and_the_salt_are_in_the_revision(tmp_path: Path) -> None:
    tree = _project(tmp_path / "a")
    (tree / "link").symlink_to("README.md")
    before = _revision(tree)
    (tree / "link").unlink()
    (tree / "link").symlink_to("pyproject.toml")
    assert _revision(tree) != before
    assert _revision(tree, "env") != _revision(tree, "another env")


NOT_CONTENT = [
    ".git/objects/ab/cdef",
    ".venv/lib/site.py",
    "src/x/__pycache__/x.cpython-311.pyc",
    ".tox/py311/log",
    "env/pyvenv.cfg",  # a virtual environment under any name
    "env/lib/python3.11/site-packages/y.py",
    "cache/CACHEDIR.TAG",  # a cache that says so
    "cache/data",
    "rust/Cargo.toml",  # content, but beside it, cargo's target/ is not
    "rust/target/debug/build/out.o",
    TREE_LOCK_NAME,
]


def test_what_is_no_content_of_the_project_is_left_out(tmp_path: Path) -> None:
    tree = _project(tmp_path / "a")
    (tree / ".git").mkdir()  # git's state counts (test_git.py), not its object store
    (tree / "rust").mkdir()
    (tree / "rust" / "Cargo.toml").write_text("generated")
    before = _revision(tree)
    for rel in NOT_CONTENT:
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text("generated")
    assert _revision(tree) == before
    skipped = tree / "builder-cache"  # the builder's own cache or venv, put inside the tree
    (skipped / "entry").mkdir(parents=True)
    assert _tree.scan(tree, skip=[skipped]).revision("env") == before


def test_ctime_freshness_gives_every_checkout_its_own_revision(tmp_path: Path) -> None:
    a, b = _project(tmp_path / "a"), _project(tmp_path / "b")
    assert _revision(a, with_ctimes=True) != _revision(b, with_ctimes=True)
    assert _revision(a, with_ctimes=True) == _revision(a, with_ctimes=True)


def test_the_key_is_the_path(tmp_path: Path) -> None:
    assert _tree.path_key(tmp_path / "src") == _tree.path_key(tmp_path / "src")
    assert _tree.path_key(tmp_path / "src") != _tree.path_key(tmp_path / "src2")


def test_what_a_build_added_and_changed(tmp_path: Path) -> None:
    src = _project(tmp_path / "a")
    (src / ".venv").mkdir()
    before = _tree.scan(src)
    started = time.time_ns()
    (src / "x.egg-info").mkdir()
    (src / "x.egg-info" / "PKG-INFO").write_text("Name: x\n")
    (src / "gen.so").write_bytes(b"\x7fELF")
    (src / "README.md").write_text("# rewritten by the build\n")
    (src / "pyproject.toml").write_text((src / "pyproject.toml").read_text())  # same bytes
    (src / ".venv" / "ignored").write_text("")
    after = _tree.scan(src, previous=before)
    added = after.added_by_build(before, started, time.time_ns())
    assert sorted(added) == ["gen.so", "x.egg-info", "x.egg-info/PKG-INFO"]
    effects = after.side_effects(before)
    assert sorted(effects) == ["README.md", "gen.so", "x.egg-info/PKG-INFO"]
    assert effects["gen.so"] == _tree.file_digest(src / "gen.so")
    # the tree without what was added is the tree before, but for what was changed
    (src / "README.md").write_text("# x\n")
    again = _tree.scan(src, previous=after)
    assert again.revision("e", without=added) == before.revision("e")
    assert again.missing(effects) == ["README.md"]
    (src / "gen.so").unlink()
    assert _tree.scan(src).missing(effects) == ["README.md", "gen.so"]


def test_a_digest_is_reused_only_where_the_stat_is_unchanged_and_old_enough(
    tmp_path: Path,
) -> None:
    src = _project(tmp_path / "a")
    first = _tree.scan(src)
    forged = {**first.items, "README.md": "f:forged"}
    # just written: within the timestamps' grain, so hashed again whatever the stat says
    racy = dataclasses.replace(first, items=forged)
    assert _tree.scan(src, previous=racy).items["README.md"] == first.items["README.md"]
    # long enough after: the stat alone says it is unchanged, so the digest is reused...
    later = dataclasses.replace(racy, started_ns=first.started_ns + 10 * _tree._RACY_NS)
    assert _tree.scan(src, previous=later).items["README.md"] == "f:forged"
    # ...and only while it is
    (src / "README.md").write_text("# y\n")
    assert _tree.scan(src, previous=later).items["README.md"] != "f:forged"


def _git(tree: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "cachelab",
        "GIT_AUTHOR_EMAIL": "cachelab@example.invalid",
        "GIT_COMMITTER_NAME": "cachelab",
        "GIT_COMMITTER_EMAIL": "cachelab@example.invalid",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    subprocess.run(["git", *args], cwd=tree, env=env, check=True, capture_output=True)


def test_what_arrived_while_a_build_ran_and_cannot_be_its_own(tmp_path: Path) -> None:
    """Of what appeared in the tree while a build ran, only what git does not track and
    what was stamped while it ran can be the build's."""
    src = _project(tmp_path / "a")
    (src / "LICENSE").write_text("MIT\n")
    (src / "docs").mkdir()
    (src / "docs" / "NOTICE").write_text("notice\n")
    _git(src, "init", "-q", "-b", "main")
    _git(src, "add", "-A")
    _git(src, "commit", "-q", "-m", "one")
    (src / "LICENSE").unlink()
    (src / "docs" / "NOTICE").unlink()
    (src / "docs").rmdir()
    old = tmp_path / "AUTHORS"
    old.write_text("someone\n")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    before = _tree.scan(src)
    started = time.time_ns()
    (src / "x.egg-info").mkdir()  # the build's
    (src / "x.egg-info" / "PKG-INFO").write_text("Name: x\n")
    _git(src, "checkout", "--", "LICENSE", "docs")  # restored by git: tracked
    old.rename(src / "AUTHORS")  # moved in: stamped long before
    ended = time.time_ns()
    after = _tree.scan(src, previous=before)
    assert sorted(set(after.items) - set(before.items)) == [
        "AUTHORS",
        "LICENSE",
        "docs",
        "docs/NOTICE",
        "x.egg-info",
        "x.egg-info/PKG-INFO",
    ]
    assert sorted(after.added_by_build(before, started, ended)) == [
        "x.egg-info",
        "x.egg-info/PKG-INFO",
    ]
    # an index that cannot say what git tracks: nothing can be the build's
    _git(src, "update-index", "--split-index")
    unknown = _tree.scan(src, previous=before)
    assert unknown.tracks("x.egg-info") is None
    assert unknown.added_by_build(before, started, ended) == {}


def test_the_protocol_names_everything_the_walk_leaves_out_by_name() -> None:
    """docs/protocol.md's revision says what is no content of a project, name by name."""
    text = (REPO / "docs" / "protocol.md").read_text()
    section = text[text.index("## The revision") : text.index("### The designs weighed")]
    names = {*_tree._SKIP_DIRS, *_tree._MARKS, _tree._CARGO_MANIFEST, f"{_tree._CARGO_TARGET}/"}
    assert sorted(n for n in names if f"`{n}`" not in section) == []
