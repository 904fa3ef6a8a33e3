"""A copy of a git checkout that is a repository of its own: what a run's builds and the
fuzzer's commits and tags do in it never reach the user's repository.

    copy(Path("~/src/mine").expanduser(), checkout, skipped=frozenset({".venv"}))

A ``.git`` that is a plain directory of its own is copied (its index, branches and tags as
they are; links in it followed; a ``core.worktree`` dropped). Any other (a worktree's or a
submodule's ``.git`` file, a link, a repository borrowing objects from another, a
worktree's admin directory) is cloned with ``git clone --local --no-hardlinks --dissociate``
and its HEAD set to the checkout's commit and branch; the clone keeps no remote. Then the
checkout's working files (tracked, modified and untracked, as they are) are laid over it.
``check`` then holds of the copy: its work tree, git directory and common directory are its
own, it borrows no objects, and no ``.git`` file in it points outside it; whatever fails is
GitCopyError naming the ``.git``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

GIT = ("git", "-c", "safe.directory=*")  # a checkout may be owned by another user
_ALTERNATES = Path("objects", "info", "alternates")


class GitCopyError(ValueError):
    """A ``.git`` that cannot be made a repository of its own: the message names it and why."""


def _git(cwd: Path, *args: str, ok: tuple[int, ...] = (0,)) -> str:
    try:
        done = subprocess.run([*GIT, *args], cwd=cwd, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise GitCopyError(f"git cannot run ({exc})") from None
    if done.returncode not in ok:
        said = done.stderr.strip().splitlines() or [f"exit {done.returncode}"]
        raise GitCopyError(f"`git {' '.join(args)}` failed: {said[-1]}")
    return done.stdout.strip()


def _own(dot_git: Path) -> bool:
    """Whether ``dot_git`` is a plain directory that keeps everything itself."""
    return (
        dot_git.is_dir()
        and not dot_git.is_symlink()
        and not (dot_git / "commondir").exists()
        and not (dot_git / _ALTERNATES).exists()
    )


def readable(src: Path) -> None:
    """GitCopyError unless git reads ``src`` as the top of a checkout (cheap: no copy)."""
    try:
        top = _git(src, "rev-parse", "--path-format=absolute", "--show-toplevel")
    except GitCopyError as exc:
        raise GitCopyError(f"its .git ({src / '.git'}) is no repository git reads: {exc}") from None
    if Path(top).resolve() != src.resolve():
        raise GitCopyError(f"its .git ({src / '.git'}) has its work tree elsewhere ({top})")


def _clone(src: Path, dest: Path) -> None:
    """``src``'s repository cloned at ``dest``, HEAD where ``src``'s is, and nothing checked
    out but the index of HEAD."""
    head = _git(src, "rev-parse", "--verify", "-q", "HEAD", ok=(0, 1)) or None
    branch = _git(src, "symbolic-ref", "-q", "HEAD", ok=(0, 1)) or None
    clone = ("clone", "--local", "--no-hardlinks", "--dissociate", "--no-checkout", "--quiet")
    _git(dest.parent, *clone, str(src), str(dest))
    _git(dest, "remote", "remove", "origin", ok=(0, 2))  # nothing names the user's repository
    if branch is None:
        _git(dest, "update-ref", "--no-deref", "HEAD", str(head))
    else:
        if head is not None:
            _git(dest, "update-ref", branch, head)
        _git(dest, "symbolic-ref", "HEAD", branch)
    if head is not None:
        _git(dest, "reset", "-q")  # the index of HEAD; the working files come next


def _in_flight(directory: str, names: list[str]) -> list[str]:
    """copytree's ``ignore`` for a ``.git``: git's locks (an operation of the user's in
    flight, which would lock the copy too) and sockets (a daemon's), none of them state."""
    here = Path(directory)
    return [n for n in names if n.endswith(".lock") or (here / n).is_socket()]


def _working_files(
    src: Path, skipped: frozenset[str], nested: list[Path]
) -> Callable[[str, list[str]], list[str]]:
    """copytree's ``ignore``: the top ``.git`` and the names in ``skipped``; ``nested``
    gathers every other ``.git`` that is no plain directory (a submodule's file, a link)."""

    def ignore(directory: str, names: list[str]) -> list[str]:
        here = Path(directory)
        dot_git = here / ".git"
        if ".git" in names and here != src and (dot_git.is_symlink() or not dot_git.is_dir()):
            nested.append(dot_git.relative_to(src))
        return [n for n in names if n in skipped or (n == ".git" and here == src)]

    return ignore


def copy(src: Path, dest: Path, skipped: frozenset[str]) -> None:
    """At ``dest`` (which must not exist yet), a repository of its own with ``src``'s
    history and ``src``'s working files as they are, but the names in ``skipped``."""
    dot_git = src / ".git"
    try:
        if _own(dot_git):
            dest.mkdir()
            shutil.copytree(dot_git, dest / ".git", symlinks=False, ignore=_in_flight)
            _git(dest, "config", "--local", "--unset-all", "core.worktree", ok=(0, 5))
        else:
            _clone(src, dest)
    except (OSError, shutil.Error) as exc:
        raise GitCopyError(f"its .git ({dot_git}) cannot be copied: {exc}") from None
    except GitCopyError as exc:
        raise GitCopyError(
            f"its .git ({dot_git}) cannot be made a repository of its own: {exc}"
        ) from None
    nested: list[Path] = []
    ignore = _working_files(src, skipped, nested)
    shutil.copytree(src, dest, symlinks=True, ignore=ignore, dirs_exist_ok=True)
    check(dest, nested, f".git ({dot_git}) copied")
    try:
        _git(dest, "update-index", "-q", "--refresh", ok=(0, 1))  # stat data of these files
    except GitCopyError as exc:
        raise GitCopyError(f"its .git ({dot_git}) copied cannot be used: {exc}") from None


def check(tree: Path, nested: list[Path], named: str) -> None:
    """GitCopyError unless the repository at ``tree`` is its own (``nested``: its other
    ``.git`` files, relative; ``named``: its ``.git`` as the message names it)."""
    own = tree.resolve()
    try:
        said = _git(
            tree,
            "rev-parse",
            "--path-format=absolute",
            "--show-toplevel",
            "--git-dir",
            "--git-common-dir",
        ).splitlines()
    except GitCopyError as exc:
        raise GitCopyError(f"its {named} is no repository: {exc}") from None
    wanted = [own, own / ".git", own / ".git"]
    outside = [p for p, w in zip(said, wanted, strict=False) if Path(p).resolve() != w]
    if len(said) != len(wanted) or outside:
        raise GitCopyError(f"its {named} uses {', '.join(outside or said)}, not its own")
    if (own / ".git" / _ALTERNATES).exists():
        raise GitCopyError(f"its {named} borrows objects from another repository")
    for rel in nested:
        path = tree / rel
        if path.is_symlink():
            target = str(path.readlink())
        else:
            text = path.read_text(errors="replace") if path.is_file() else ""
            target = text.removeprefix("gitdir:").strip() if text.startswith("gitdir:") else ""
        if target and not (path.parent / target).resolve().is_relative_to(own):
            raise GitCopyError(f"its {rel} points outside the copy, to {target}")
