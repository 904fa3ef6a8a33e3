"""The git state of a source tree: what a build may read from the repository besides the
tree's own files, read without git (no subprocess).

The repository is found as git finds it: ``.git`` (a directory, or a file that points to a
worktree's or a submodule's) in the tree or in the nearest directory above it, so that a
project in a monorepo whose VCS version reads the repository above it (setuptools-scm's or
hatch-vcs's ``root = ".."``) has that repository's state. The search stops where git's does:
at a directory ``GIT_CEILING_DIRECTORIES`` names (not looked in), and at a file system
boundary unless ``GIT_DISCOVERY_ACROSS_FILESYSTEM`` says otherwise.

A VCS version (setuptools-scm, hatch-vcs, versioningit, ...) comes from the commit checked
out, the tags and branches, and whether the tree is dirty, which git decides from the
working files (in the revision already, where they lie in the tree) and the index. So the
state is HEAD, every ref (loose, packed, or a reftable's tables), the whole index's entries
(path, mode, object, flags: not its stat cache, which differs in every clone of one commit,
so that identical checkouts still share), and the files in the git directory that change
what git reports (``config``, which sets ``core.abbrev`` and describe's output with it; a
worktree's ``config.worktree``; ``info/exclude``; ``shallow``). An index this module cannot
read entry by entry (a split index) or that git would refuse (cut short, its checksum wrong)
counts whole: more misses, never a stale hit.

The index also says which of the tree's paths git tracks (``State.tracked``): whatever a
build writes, git does not track (``_tree``).
"""

from __future__ import annotations

import hashlib
import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path

_STAT_CACHE = 40  # ctime, mtime, dev, ino, mode, uid, gid, size: 4 bytes each (mode at 24)
_EXTENDED = 0x4000  # an entry's flags: two bytes of extended flags follow (index v3, v4)
_SPLIT_INDEX = b"link"  # the extension of an index whose entries live in another file
_SPARSE_INDEX = b"sdir"  # the extension of an index whose directories stand for their files
_FILES = ("config", "info/exclude", "shallow")  # in the common directory
_TRUE = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True)
class State:
    """``digest``: of the repository's state ("" where no repository holds the tree);
    ``tracked``: the tree's paths (relative to it) that the index holds, or None where the
    index cannot tell them (read whole, or a sparse index)."""

    digest: str
    tracked: frozenset[str] | None


_NO_REPOSITORY = State("", frozenset())


@dataclass(frozen=True)
class _Repository:
    top: Path  # the working tree's top: where ``.git`` is
    gitdir: Path  # its git directory (a worktree's own, where it is one)
    common: Path  # where refs, packed-refs, config and info/ live


def _at(directory: Path) -> Path | None:
    """The git directory of a working tree whose top is ``directory``: ``.git``, or where a
    worktree's or submodule's ``.git`` file points; None where there is none git would
    take (a ``.git`` directory without HEAD is no repository to git: it looks further up)."""
    git = directory / ".git"
    if git.is_file():  # "gitdir: <path>"
        text = git.read_text(errors="surrogateescape")
        git = (directory / text.partition(":")[2].strip()).resolve()
    if not (git / "HEAD").is_file():
        return None
    return git if (git / "objects").is_dir() or (git / "commondir").is_file() else None


def _ceiling(start: Path) -> Path | None:
    """The nearest directory above ``start`` that ``GIT_CEILING_DIRECTORIES`` names: the
    search never looks in it. Entries after an empty one are taken as written, the others
    with their symlinks resolved, as git does."""
    found, resolve = None, True
    for entry in os.environ.get("GIT_CEILING_DIRECTORIES", "").split(os.pathsep):
        if not entry:
            resolve = False
            continue
        path = Path(entry)
        if path.is_absolute():
            path = path.resolve() if resolve else path
            if path in start.parents and (found is None or found in path.parents):
                found = path
    return found


def _find(source: Path) -> _Repository | None:
    """The repository a git command run in ``source`` uses, found as git finds it."""
    here = source.resolve()
    ceiling = _ceiling(here)
    across = os.environ.get("GIT_DISCOVERY_ACROSS_FILESYSTEM", "").lower() in _TRUE
    device = here.stat().st_dev
    while True:
        gitdir = _at(here)
        if gitdir is not None:
            return _Repository(here, gitdir, _common(gitdir))
        up = here.parent
        if up == here or (ceiling is not None and ceiling not in up.parents):
            return None
        if not across and up.stat().st_dev != device:  # a file system boundary
            return None
        here = up


def _common(gitdir: Path) -> Path:
    """Where refs, packed-refs and info/ live: a worktree's ``commondir`` says."""
    pointer = gitdir / "commondir"
    if not pointer.is_file():
        return gitdir
    return (gitdir / pointer.read_text(errors="surrogateescape").strip()).resolve()


def _refs(*gitdirs: Path) -> dict[str, str]:
    """Every ref and what it points at: packed, then loose (a loose ref wins)."""
    refs: dict[str, str] = {}
    for gitdir in gitdirs:
        packed = gitdir / "packed-refs"
        if packed.is_file():
            for line in packed.read_text(errors="surrogateescape").splitlines():
                digest, _, ref = line.partition(" ")
                if ref and not line.startswith(("#", "^")):
                    refs[ref] = digest
        for path in (gitdir / "refs").rglob("*"):
            if path.is_file():
                text = path.read_text(errors="surrogateescape").strip()
                refs[path.relative_to(gitdir).as_posix()] = text
    return refs


def _reftable(common: Path) -> bytes:
    """A reftable's tables, whole (``extensions.refStorage = reftable``: no loose or packed
    refs then); b"" where refs are files."""
    tables = common / "reftable"
    if not tables.is_dir():
        return b""
    return b"".join(
        path.name.encode() + b"\0" + path.read_bytes()
        for path in sorted(tables.iterdir())
        if path.is_file()
    )


def _oid_size(common: Path) -> int:
    config = common / "config"
    text = config.read_text(errors="replace") if config.is_file() else ""
    return 32 if "objectformat=sha256" in text.lower().replace(" ", "") else 20


def _checksum_holds(data: bytes, oid_size: int) -> bool:
    """Whether the index ends with the hash of the rest, as git checks before it reads one
    (all zeros: ``index.skipHash``, which git does not check)."""
    body, tail = data[:-oid_size], data[-oid_size:]
    if len(body) < 12:  # not even its header
        return False
    if tail == bytes(oid_size):
        return True
    algorithm = "sha256" if oid_size == 32 else "sha1"
    return hashlib.new(algorithm, body, usedforsecurity=False).digest() == tail


def _varint(data: bytes, at: int) -> tuple[int, int]:
    """Git's variable-length integer at ``at`` (varint.c), and where it ends."""
    byte = data[at]
    value = byte & 0x7F
    while byte & 0x80:
        at += 1
        byte = data[at]
        value = ((value + 1) << 7) | (byte & 0x7F)
    return value, at + 1


@dataclass(frozen=True)
class _Index:
    entries: bytes  # every entry without its stat cache
    paths: list[bytes] | None  # None: a sparse index (a directory entry stands for its files)


def _index(data: bytes, oid_size: int) -> _Index | None:
    """The index's entries, or None where they cannot be read here (a split index, or an
    index git would refuse)."""
    if data[:4] != b"DIRC" or not _checksum_holds(data, oid_size):
        return None
    try:
        return _entries(data, oid_size)
    except (struct.error, ValueError, IndexError):  # malformed past its checksum: count it whole
        return None


def _entries(data: bytes, oid_size: int) -> _Index | None:
    version, count = struct.unpack_from(">II", data, 4)
    if version not in (2, 3, 4):
        return None
    out, paths, at = bytearray(), list[bytes](), 12
    for _ in range(count):
        flags_at = at + _STAT_CACHE + oid_size
        (flags,) = struct.unpack_from(">H", data, flags_at)
        name_at = flags_at + (4 if flags & _EXTENDED else 2)
        if version == 4:  # the path: how much of the previous one to drop, then the rest
            drop, name_at = _varint(data, name_at)
            end = data.index(b"\0", name_at)
            previous = paths[-1] if paths else b""
            if drop > len(previous):
                raise ValueError("an index path drops more than the previous one has")
            path = previous[: len(previous) - drop] + data[name_at:end]
            after = end + 1
        else:  # NUL-padded to a multiple of 8 bytes
            end = data.index(b"\0", name_at)
            path = data[name_at:end]
            after = at + (end - at + 8) // 8 * 8
        paths.append(path)
        # mode, object, flags (stage, assume-valid, skip-worktree, ...), path
        out += data[at + 24 : at + 28] + data[at + _STAT_CACHE : name_at] + path + b"\0"
        at = after
    sparse = False
    while at + 8 <= len(data) - oid_size:  # extensions, then the index's own checksum
        signature, size = data[at : at + 4], struct.unpack_from(">I", data, at + 4)[0]
        if signature == _SPLIT_INDEX:
            return None
        sparse = sparse or signature == _SPARSE_INDEX
        at += 8 + size
    return _Index(bytes(out), None if sparse else paths)


def _tracked(paths: list[bytes] | None, repo: _Repository, source: Path) -> frozenset[str] | None:
    """The paths under ``source`` among ``paths`` (the index's, from the top), relative to
    ``source``, as the tree's walk names them."""
    if paths is None:
        return None
    prefix = source.resolve().relative_to(repo.top).as_posix()
    if prefix == ".":
        return frozenset(os.fsdecode(p) for p in paths)
    start = os.fsencode(prefix) + b"/"
    return frozenset(os.fsdecode(p[len(start) :]) for p in paths if p.startswith(start))


def state(source: Path) -> State:
    """The git state of ``source``: of the repository that holds it, wherever its top is;
    where it cannot be read, a state no other read gives (a miss) that can tell nothing of
    what git tracks."""
    try:
        return _state(source)
    except OSError as exc:
        return State(f"?:{exc.strerror}:{time.time_ns()}", None)


def _state(source: Path) -> State:
    repo = _find(source)
    if repo is None:
        return _NO_REPOSITORY
    gitdir, common = repo.gitdir, repo.common
    h = hashlib.sha256()
    head = (gitdir / "HEAD").read_text(errors="surrogateescape").strip()
    refs = _refs(common, *([gitdir] if gitdir != common else []))
    h.update(
        f"HEAD {head} {refs.get(head.removeprefix('ref: '), '')}\n".encode(errors="surrogateescape")
    )
    for ref, digest in sorted(refs.items()):
        h.update(f"{ref} {digest}\n".encode(errors="surrogateescape"))
    h.update(b"reftable\0" + _reftable(common))
    path = gitdir / "index"
    if path.is_file():
        data = path.read_bytes()
        index = _index(data, _oid_size(common))
    else:  # none yet: nothing tracked
        data, index = b"", _Index(b"", [])
    h.update(b"index\0" + (data if index is None else index.entries))
    files = [(name, common / name) for name in _FILES] + [("worktree", gitdir / "config.worktree")]
    for name, path in files:
        h.update(f"\0{name}\0".encode() + (path.read_bytes() if path.is_file() else b"-"))
    tracked = None if index is None else _tracked(index.paths, repo, source)
    return State(h.hexdigest(), tracked)
