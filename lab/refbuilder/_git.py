"""The git state of a source tree: what a build may read from ``.git`` besides the tree's
own files, read without git (no subprocess).

A VCS version (setuptools-scm, hatch-vcs, versioningit, ...) comes from the commit checked
out, the tags and branches, and whether the tree is dirty, which git decides from the
working files (in the revision already) and the index. So the state is HEAD, every ref, the
index's entries (path, mode, object, flags: not its stat cache, which differs in every
clone of one commit, so that identical checkouts still share), and the files in ``.git``
that change what git reports (``info/exclude``, ``shallow``). An index this module cannot
read entry by entry (version 4, a split index) or that git would refuse (cut short, its
checksum wrong) counts whole: more misses, never a stale hit.
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

_STAT_CACHE = 40  # ctime, mtime, dev, ino, mode, uid, gid, size: 4 bytes each (mode at 24)
_EXTENDED = 0x4000  # an entry's flags: two bytes of extended flags follow (index v3)
_SPLIT_INDEX = b"link"  # the extension of an index whose entries live in another file


def _gitdir(source: Path) -> Path | None:
    """The tree's git directory: ``.git``, or where a worktree's or submodule's ``.git``
    file points."""
    git = source / ".git"
    if git.is_file():  # "gitdir: <path>"
        git = (source / git.read_text().partition(":")[2].strip()).resolve()
    return git if git.is_dir() else None


def _common(gitdir: Path) -> Path:
    """Where refs, packed-refs and info/ live: a worktree's ``commondir`` says."""
    pointer = gitdir / "commondir"
    return (gitdir / pointer.read_text().strip()).resolve() if pointer.is_file() else gitdir


def _refs(*gitdirs: Path) -> dict[str, str]:
    """Every ref and what it points at: packed, then loose (a loose ref wins)."""
    refs: dict[str, str] = {}
    for gitdir in gitdirs:
        packed = gitdir / "packed-refs"
        if packed.is_file():
            for line in packed.read_text().splitlines():
                digest, _, ref = line.partition(" ")
                if ref and not line.startswith(("#", "^")):
                    refs[ref] = digest
        for path in (gitdir / "refs").rglob("*"):
            if path.is_file():
                refs[path.relative_to(gitdir).as_posix()] = path.read_text().strip()
    return refs


def _oid_size(common: Path) -> int:
    config = common / "config"
    text = config.read_text().lower().replace(" ", "") if config.is_file() else ""
    return 32 if "objectformat=sha256" in text else 20


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


def _index_entries(data: bytes, oid_size: int) -> bytes | None:
    """The index's entries without their stat cache, or None where they cannot be read here
    (a format this module does not read, or an index git would refuse)."""
    if data[:4] != b"DIRC" or not _checksum_holds(data, oid_size):
        return None
    try:
        return _entries(data, oid_size)
    except (struct.error, ValueError):  # malformed past its checksum: count it whole
        return None


def _entries(data: bytes, oid_size: int) -> bytes | None:
    version, count = struct.unpack_from(">II", data, 4)
    if version not in (2, 3):
        return None
    out, at = bytearray(), 12
    for _ in range(count):
        flags_at = at + _STAT_CACHE + oid_size
        (flags,) = struct.unpack_from(">H", data, flags_at)
        name_at = flags_at + (4 if flags & _EXTENDED else 2)
        end = data.index(b"\0", name_at)
        # mode, object, flags (stage, assume-valid, skip-worktree, ...), path
        out += data[at + 24 : at + 28] + data[at + _STAT_CACHE : name_at] + data[name_at : end + 1]
        at += (end - at + 8) // 8 * 8  # NUL-padded to a multiple of 8 bytes
    while at + 8 <= len(data) - oid_size:  # extensions, then the index's own checksum
        signature, size = data[at : at + 4], struct.unpack_from(">I", data, at + 4)[0]
        if signature == _SPLIT_INDEX:
            return None
        at += 8 + size
    return bytes(out)


def state(source: Path) -> str:
    """A digest of the git state of ``source``; "" where it is not a git checkout."""
    gitdir = _gitdir(source)
    if gitdir is None:
        return ""
    common = _common(gitdir)
    h = hashlib.sha256()
    head = (gitdir / "HEAD").read_text().strip() if (gitdir / "HEAD").is_file() else ""
    refs = _refs(common, *([gitdir] if gitdir != common else []))
    h.update(f"HEAD {head} {refs.get(head.removeprefix('ref: '), '')}\n".encode())
    for ref, digest in sorted(refs.items()):
        h.update(f"{ref} {digest}\n".encode())
    index = gitdir / "index"
    data = index.read_bytes() if index.is_file() else b""
    entries = _index_entries(data, _oid_size(common))
    h.update(b"index\0" + (data if entries is None else entries))
    for name in ("info/exclude", "shallow"):
        path = common / name
        h.update(f"\0{name}\0".encode() + (path.read_bytes() if path.is_file() else b"-"))
    return h.hexdigest()
