from __future__ import annotations

import os
from pathlib import Path

import pytest

from lab.contract import TREE_LOCK_NAME
from lab.refbuilder import _tree
from lab.refbuilder._project import KeyInputs

NONE = KeyInputs()


def _project(path: Path, pyproject: str = "[project]\nname = 'x'\n") -> Path:
    path.mkdir(parents=True)
    (path / "pyproject.toml").write_text(pyproject)
    (path / "x.py").write_text("print(1)\n")
    return path


def test_identical_checkouts_share_a_revision(tmp_path: Path) -> None:
    a, b = _project(tmp_path / "a"), _project(tmp_path / "b")
    os.utime(b / "pyproject.toml", (0, 0))  # times differ, content does not
    assert _tree.revision(a, "env", NONE) == _tree.revision(b, "env", NONE)


def test_content_env_and_globs_change_the_revision(tmp_path: Path) -> None:
    a = _project(tmp_path / "a")
    b = _project(tmp_path / "b", "[project]\nname = 'y'\n")
    assert _tree.revision(a, "env", NONE) != _tree.revision(b, "env", NONE)
    assert _tree.revision(a, "env", NONE) != _tree.revision(a, "other-env", NONE)
    before = _tree.revision(a, "env", KeyInputs(globs=("*.py",)))
    (a / "x.py").write_text("print(2)\n")
    assert _tree.revision(a, "env", KeyInputs(globs=("*.py",))) != before
    assert _tree.revision(a, "env", NONE) == _tree.revision(
        a, "env", NONE
    )  # x.py is no input by default


def test_a_new_setup_py_changes_the_revision(tmp_path: Path) -> None:
    a = _project(tmp_path / "a")
    before = _tree.revision(a, "env", NONE)
    (a / "setup.py").write_text("")
    assert _tree.revision(a, "env", NONE) != before


def test_ctime_freshness_gives_every_checkout_its_own_revision(tmp_path: Path) -> None:
    a, b = _project(tmp_path / "a"), _project(tmp_path / "b")
    os.utime(b / "pyproject.toml", (1, 1))  # touches the ctime too
    assert _tree.revision(a, "e", NONE, with_ctimes=True) != _tree.revision(b, "e", NONE, True)


def test_the_key_is_the_path(tmp_path: Path) -> None:
    assert _tree.path_key(tmp_path / "src") == _tree.path_key(tmp_path / "src")
    assert _tree.path_key(tmp_path / "src") != _tree.path_key(tmp_path / "src2")


def test_side_effects_are_what_the_build_added_or_changed(tmp_path: Path) -> None:
    a = _project(tmp_path / "a")
    (a / ".venv").mkdir()
    before = _tree.snapshot(a)
    (a / "gen.so").write_bytes(b"\x7fELF")
    (a / "x.py").write_text("print('changed')\n")
    (a / ".venv" / "ignored").write_text("")
    (a / TREE_LOCK_NAME).write_text("")
    effects = _tree.side_effects(a, before, _tree.snapshot(a))
    assert sorted(effects) == ["gen.so", "x.py"]
    assert effects["gen.so"] == _tree.file_digest(a / "gen.so")


def test_missing_side_effects(tmp_path: Path) -> None:
    a = _project(tmp_path / "a")
    (a / "gen.so").write_bytes(b"one")
    expected = {"gen.so": _tree.file_digest(a / "gen.so"), "other.so": "0" * 64}
    assert _tree.missing_side_effects(a, expected) == ["other.so"]
    (a / "gen.so").write_bytes(b"two")
    assert _tree.missing_side_effects(a, expected) == ["gen.so", "other.so"]


def test_env_vars_git_and_metadata_join_the_revision_where_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = _project(tmp_path / "a")
    monkeypatch.setenv("CACHELAB_TEST_FLAVOUR", "one")
    by_env = _tree.revision(a, "e", KeyInputs(env=("CACHELAB_TEST_FLAVOUR",)))
    monkeypatch.setenv("CACHELAB_TEST_FLAVOUR", "two")
    assert _tree.revision(a, "e", KeyInputs(env=("CACHELAB_TEST_FLAVOUR",))) != by_env
    git = KeyInputs(git=True)
    (a / ".git" / "refs" / "heads").mkdir(parents=True)
    (a / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (a / ".git" / "refs" / "heads" / "main").write_text("a" * 40 + "\n")
    first = _tree.revision(a, "e", git)
    (a / ".git" / "refs" / "tags").mkdir()
    (a / ".git" / "refs" / "tags" / "v1.0").write_text("a" * 40 + "\n")
    assert _tree.revision(a, "e", git) != first  # a new tag: a new version
    assert _tree.revision(a, "e", NONE, metadata="x") != _tree.revision(a, "e", NONE, metadata="y")


@pytest.mark.parametrize(
    "native", ["src/lib.rs", "Cargo.lock", "build.rs", "pkg/_speedups.c", "pkg/fast.pyx", "x.h"]
)
def test_sources_of_compiled_code_change_the_revision(tmp_path: Path, native: str) -> None:
    # An editable install serves .py files from the tree, but compiled code only as built.
    src = _project(tmp_path / "a")
    (src / native).parent.mkdir(parents=True, exist_ok=True)
    (src / native).write_text("one")
    before = _tree.revision(src, "env", NONE)
    (src / native).write_text("two")
    assert _tree.revision(src, "env", NONE) != before
    after = _tree.revision(src, "env", NONE)
    (src / "x.py").write_text("changed = True")  # served from the tree: it does not matter
    assert _tree.revision(src, "env", NONE) == after


def test_build_outputs_are_not_sources(tmp_path: Path) -> None:
    src = _project(tmp_path / "a")
    before = _tree.revision(src, "env", NONE)
    for out in ("build/temp/_speedups.c", "target/debug/build.rs", ".venv/include/x.h"):
        (src / out).parent.mkdir(parents=True, exist_ok=True)
        (src / out).write_text("generated")
    assert _tree.native_sources(src) == []
    assert _tree.revision(src, "env", NONE) == before
