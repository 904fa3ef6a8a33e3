from __future__ import annotations

import hashlib
import random
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from lab.campaigns.fuzz import edits

EVERYTHING = Path(__file__).resolve().parent.parent.parent / "packages" / "fuzz-everything"


def _tree(tmp_path: Path, git: bool = False) -> Path:
    tree = tmp_path / "everything"
    shutil.copytree(EVERYTHING, tree)
    if git:
        subprocess.run(["git", "init", "-q"], cwd=tree, check=True)
        subprocess.run([*edits.GIT, "add", "-A"], cwd=tree, check=True)
        subprocess.run([*edits.GIT, "commit", "-qm", "first"], cwd=tree, check=True)
    return tree


def _content(tree: Path) -> str:
    h = hashlib.sha256()
    for path in edits.project_files(tree):
        h.update(path.relative_to(tree).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def test_one_seed_makes_the_same_edits_on_the_same_tree(tmp_path: Path) -> None:
    one, two = _tree(tmp_path / "1"), _tree(tmp_path / "2")
    made = []
    for tree in (one, two):
        rng = random.Random(7)
        made.append([str(edits.apply(rng, tree, i)) for i in range(30)])
    assert made[0] == made[1]
    assert _content(one) == _content(two)
    other = _tree(tmp_path / "3")
    rng = random.Random(8)
    assert [str(edits.apply(rng, other, i)) for i in range(30)] != made[0]


@pytest.mark.parametrize("kind", sorted(set(edits.KINDS) - {"git-commit", "git-tag"}))
def test_every_kind_finds_its_file_and_changes_the_tree(tmp_path: Path, kind: str) -> None:
    tree = _tree(tmp_path)
    before = _content(tree)
    edit = edits.KINDS[kind](random.Random(1), tree, "token1")
    assert edit is not None and edit.kind in (kind, "pyproject")
    assert (tree / edit.path).exists()
    assert _content(tree) != before
    tomllib.loads((tree / "pyproject.toml").read_text())  # still TOML


def test_git_edits_commit_and_tag_where_the_tree_is_a_git_checkout(tmp_path: Path) -> None:
    plain = _tree(tmp_path / "plain")
    assert edits.KINDS["git-commit"](random.Random(1), plain, "t") is None
    tree = _tree(tmp_path / "git", git=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tree, text=True, capture_output=True)
    assert edits.KINDS["git-commit"](random.Random(1), tree, "t") is not None
    after = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tree, text=True, capture_output=True)
    assert after.stdout != head.stdout
    tag = edits.KINDS["git-tag"](random.Random(1), tree, "t")
    assert tag is not None
    tags = subprocess.run(["git", "tag"], cwd=tree, text=True, capture_output=True).stdout
    assert tag.what.rsplit(" ", 1)[1] in tags.split()


def test_a_pyproject_edit_adds_only_dependencies_the_wheelhouse_has(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    rng = random.Random(3)
    for i in range(40):
        edits.KINDS["pyproject"](rng, tree, f"t{i}")
    project = tomllib.loads((tree / "pyproject.toml").read_text())["project"]
    assert set(project["dependencies"]) <= set(edits.DEPENDENCY_POOL)
    assert project["dependencies"]  # some were added


def test_a_data_edit_leaves_configuration_alone(tmp_path: Path) -> None:
    """CMakeLists.txt ends in .txt, but a line appended there breaks the build: no data."""
    tree = _tree(tmp_path)
    (tree / "CMakeLists.txt").write_text("project(x)\n")
    rng = random.Random(0)
    touched = {edits.KINDS["data-file"](rng, tree, f"t{i}").path for i in range(30)}  # type: ignore[union-attr]
    assert "CMakeLists.txt" not in touched and "README.md" not in touched
