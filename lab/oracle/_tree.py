"""A source tree's content, whole: what the oracle keys its results by, and the copy it builds.

The digest covers every file (its path, its type and executable bit, its content; a
symlink's target) and, where ``.git`` is there, the git state a build can read: HEAD, every
ref, and the index's entries (mode, blob, path). Two things are left out, in the digest and
in the copy alike, because they are not the project's: the top-level ``.venv`` (a runner's
venv is mounted there) and ``__pycache__`` directories (byte code, written by whoever
imported the code, and stamped with the sources' times). A change anywhere else is a new
digest: the oracle never serves one tree's result for another, whatever its backend reads.

A name is bytes (``os.fsencode``): a name that is not UTF-8 is content as any other. What
cannot be read (the tree, a file its mode forbids) or copied (a socket, a fifo: there in the
digest, nothing a copy can hold) is one ``OracleError`` naming it.

This is the oracle's own code, on purpose: it shares nothing with the reference builder's
revision (``lab.refbuilder._tree``), so that a gap in one is not a gap in the other.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

from lab.oracle._errors import OracleError

_SKIPPED_TOP = frozenset({".venv", ".git"})  # .git: its state is digested by git's own words
_SKIPPED_ANYWHERE = frozenset({"__pycache__"})
_GIT_STATE = (
    ("rev-parse", "HEAD"),
    ("for-each-ref", "--format=%(objectname) %(refname)"),
    ("ls-files", "--stage"),
)


def _walk(tree: Path) -> Iterator[tuple[str, os.stat_result, Path]]:
    """Every entry below ``tree`` but the skipped ones, in a fixed order, never following a
    symlink."""
    stack = [Path()]
    while stack:
        rel_dir = stack.pop()
        with os.scandir(tree / rel_dir) as found:
            entries = sorted(found, key=lambda e: e.name)
        for entry in entries:
            top = rel_dir == Path()
            if (top and entry.name in _SKIPPED_TOP) or entry.name in _SKIPPED_ANYWHERE:
                continue
            rel = rel_dir / entry.name
            info = entry.stat(follow_symlinks=False)
            yield rel.as_posix(), info, tree / rel
            if stat.S_ISDIR(info.st_mode):
                stack.append(rel)


def _git_state(tree: Path) -> bytes:
    """What git says of the tree's state; the raw files under ``.git`` where git cannot say."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    said = []
    for args in _GIT_STATE:
        cmd = ["git", "-c", "safe.directory=*", "-C", str(tree), *args]
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, check=False, timeout=120)
        except (OSError, subprocess.TimeoutExpired):
            return _raw(tree / ".git")
        said.append(b"%d\0%s\0%s" % (proc.returncode, proc.stdout, proc.stderr.strip()))
    return b"\0\0".join(said)


def _raw(git: Path) -> bytes:
    h = hashlib.sha256()
    for rel, info, path in _walk(git):
        h.update(os.fsencode(rel) + b"\0")
        if stat.S_ISREG(info.st_mode):
            h.update(path.read_bytes())
    return h.digest()


def digest(tree: Path) -> str:
    """The digest of everything in ``tree`` a build can see (above)."""
    try:
        return _digest(tree)
    except OSError as exc:
        raise OracleError(f"the oracle cannot read {tree}: {exc}") from exc


def _digest(tree: Path) -> str:
    h = hashlib.sha256(b"cachelab-oracle-tree-v1\0")
    for rel, info, path in _walk(tree):
        mode, name = info.st_mode, os.fsencode(rel)
        if stat.S_ISLNK(mode):
            h.update(b"L\0%s\0%s\0" % (name, os.fsencode(path.readlink())))
        elif stat.S_ISDIR(mode):
            h.update(b"D\0%s\0" % name)
        elif stat.S_ISREG(mode):
            kind = b"X" if mode & 0o111 else b"F"
            content = hashlib.sha256(path.read_bytes()).hexdigest().encode()
            h.update(b"%s\0%s\0%s\0" % (kind, name, content))
        else:  # a socket, a fifo: there, and nothing to read
            h.update(b"O\0%s\0" % name)
    if (tree / ".git").exists():
        h.update(b"G\0" + _git_state(tree))
    return h.hexdigest()


def copy(tree: Path, dest: Path) -> None:
    """A private copy of ``tree`` at ``dest`` (new): what the digest covers, and ``.git``
    whole, so that a build that asks git what it is gets the same answer."""

    def ignored(directory: str, names: list[str]) -> set[str]:
        skipped = set(_SKIPPED_ANYWHERE) | ({".venv"} if Path(directory) == tree else set())
        return skipped & set(names)

    try:
        shutil.copytree(tree, dest, symlinks=True, ignore=ignored)
    except OSError as exc:  # shutil.Error: copytree copied what it could, and names the rest
        listed = exc.args[0] if isinstance(exc, shutil.Error) and exc.args else None
        failures = [f"{s}: {why}" for s, _d, why in listed] if isinstance(listed, list) else []
        failures = failures or [str(exc)]
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        raise OracleError(
            f"the oracle cannot copy {tree}: {failures[0]}{more}", "\n".join(failures)
        ) from exc
