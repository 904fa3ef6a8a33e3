"""Every checkout of a git project is a repository of its own: a worktree's or a submodule's
``.git`` file, a repository that borrows objects, are never copied as they are, so what a
run or the fuzzer does in a checkout never reaches the user's repository; and a ``.git``
that cannot be made one is one line naming it."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from lab.projects.project import Kind, ProjectError, open_project
from tests.projects.test_project import PLAIN

GIT = ("git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "protocol.file.allow=always")


def _git(where: Path, *args: str) -> str:
    done = subprocess.run([*GIT, "-C", str(where), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _repo(path: Path) -> Path:
    """The plain project as a repository of one commit, tagged v1.2.0."""
    shutil.copytree(PLAIN, path)
    _git(path, "init", "-q", "-b", "main")
    _git(path, "add", ".")
    _git(path, "commit", "-qm", "one")
    _git(path, "tag", "v1.2.0")
    return path


def _refs(repo: Path) -> str:
    """Everything a commit, tag or branch made from a copy could change in ``repo``."""
    return _git(repo, "for-each-ref") + _git(repo, "worktree", "list", "--porcelain")


def _own(checkout: Path) -> None:
    """``checkout`` is a repository of its own."""
    assert (checkout / ".git").is_dir() and not (checkout / ".git").is_symlink()
    said = _git(checkout, "rev-parse", "--path-format=absolute", "--git-dir", "--git-common-dir")
    assert [Path(p) for p in said.splitlines()] == [checkout.resolve() / ".git"] * 2
    assert not (checkout / ".git" / "objects" / "info" / "alternates").exists()
    assert _git(checkout, "remote") == ""


def test_a_worktree_is_copied_as_a_repository_of_its_own_with_its_files_as_they_are(
    tmp_path: Path,
) -> None:
    repo = _repo(tmp_path / "repo")
    worktree = tmp_path / "wt"
    _git(repo, "worktree", "add", "-q", "-b", "feature", str(worktree))
    (worktree / "README.md").write_text("changed, not committed\n")
    (worktree / "notes.txt").write_text("untracked\n")
    before = _refs(repo)
    project = open_project(worktree)
    assert project.kind is Kind.GIT
    checkout = tmp_path / "checkout"
    project.render(checkout, {})
    _own(checkout)
    assert _git(checkout, "rev-parse", "HEAD") == _git(worktree, "rev-parse", "HEAD")
    assert _git(checkout, "symbolic-ref", "HEAD") == "refs/heads/feature"
    assert _git(checkout, "status", "--porcelain") == _git(worktree, "status", "--porcelain")
    described = ("describe", "--tags", "--dirty")
    assert _git(checkout, *described) == _git(worktree, *described) == "v1.2.0-dirty"
    _git(checkout, "commit", "-qam", "in the copy")  # as the fuzzer's git edits do
    _git(checkout, "tag", "v9")
    _git(checkout, "branch", "elsewhere")
    assert _refs(repo) == before
    assert (worktree / "README.md").read_text() == "changed, not committed\n"


def test_a_detached_worktree_keeps_its_commit(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    worktree = tmp_path / "wt"
    _git(repo, "worktree", "add", "-q", "--detach", str(worktree))
    (worktree / "more.txt").write_text("x")
    _git(worktree, "add", "more.txt")
    _git(worktree, "commit", "-qm", "on no branch")  # reachable from no ref of the repository
    checkout = tmp_path / "checkout"
    open_project(worktree).render(checkout, {})
    _own(checkout)
    assert _git(checkout, "rev-parse", "HEAD") == _git(worktree, "rev-parse", "HEAD")
    assert _git(checkout, "status", "--porcelain") == ""


def test_a_submodule_is_copied_as_a_repository_of_its_own(tmp_path: Path) -> None:
    upstream = _repo(tmp_path / "upstream")
    outer = tmp_path / "outer"
    outer.mkdir()
    _git(outer, "init", "-q")
    _git(outer, "submodule", "add", "-q", str(upstream), "sub")
    sub = outer / "sub"
    assert (sub / ".git").is_file()
    before = _refs(outer / ".git" / "modules" / "sub")
    checkout = tmp_path / "checkout"
    open_project(sub).render(checkout, {})
    _own(checkout)
    _git(checkout, "tag", "v9")
    assert _refs(outer / ".git" / "modules" / "sub") == before


def test_a_repository_that_borrows_objects_is_copied_with_its_own(tmp_path: Path) -> None:
    upstream = _repo(tmp_path / "upstream")
    borrower = tmp_path / "borrower"
    _git(tmp_path, "clone", "-q", "--shared", str(upstream), str(borrower))
    assert (borrower / ".git" / "objects" / "info" / "alternates").is_file()
    checkout = tmp_path / "checkout"
    open_project(borrower).render(checkout, {})
    _own(checkout)
    shutil.rmtree(upstream)  # the copy needs nothing of it
    assert _git(checkout, "describe", "--tags") == "v1.2.0"


def test_a_plain_git_directory_is_copied_with_its_work_tree_its_own_and_no_lock(
    tmp_path: Path,
) -> None:
    repo = _repo(tmp_path / "repo")
    _git(repo, "config", "core.worktree", str(repo))  # the copy's work tree is the copy
    (repo / ".git" / "index.lock").write_text("")  # the user's commit in flight
    checkout = tmp_path / "checkout"
    open_project(repo).render(checkout, {})
    _own(checkout)
    assert _git(checkout, "rev-parse", "--show-toplevel") == str(checkout.resolve())
    _git(checkout, "commit", "-q", "--allow-empty", "-m", "not locked out")


def test_a_git_file_naming_no_repository_is_one_line_naming_it(tmp_path: Path) -> None:
    tree = tmp_path / "moved"
    shutil.copytree(PLAIN, tree)
    (tree / ".git").write_text(f"gitdir: {tmp_path / 'gone' / '.git' / 'worktrees' / 'x'}\n")
    with pytest.raises(ProjectError) as caught:
        open_project(tree)
    message = str(caught.value)
    assert message.startswith(f"--project {tree}: its .git ({tree / '.git'}) is no repository")
    assert "\n" not in message


def test_a_nested_git_file_pointing_outside_the_copy_is_refused(tmp_path: Path) -> None:
    elsewhere = _repo(tmp_path / "elsewhere")
    repo = _repo(tmp_path / "repo")
    (repo / "vendored").mkdir()
    (repo / "vendored" / ".git").write_text(f"gitdir: {elsewhere / '.git'}\n")
    project = open_project(repo)
    with pytest.raises(ProjectError) as caught:
        project.render(tmp_path / "checkout", {})
    message = str(caught.value)
    assert "its vendored/.git points outside the copy" in message and "\n" not in message


def test_an_sdist_whose_git_file_names_another_repository_is_refused(tmp_path: Path) -> None:
    elsewhere = _repo(tmp_path / "elsewhere")
    sdist = tmp_path / "sneaky-1.0.tar.gz"
    text = f"gitdir: {elsewhere / '.git'}\n".encode()
    with tarfile.open(sdist, "w:gz") as archive:
        archive.add(PLAIN, arcname="sneaky-1.0")
        member = tarfile.TarInfo("sneaky-1.0/.git")
        member.size = len(text)
        archive.addfile(member, io.BytesIO(text))
    with pytest.raises(ProjectError) as caught:
        open_project(sdist)
    message = str(caught.value)
    assert f"its .git uses {elsewhere / '.git'}" in message and "\n" not in message
