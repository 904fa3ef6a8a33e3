"""The Mercurial state of a source tree: what a VCS version (setuptools-scm, hatch-vcs) may
read from ``.hg`` besides the tree's own files, read without hg (no subprocess).

The repository is found as hg finds it: ``.hg`` in the tree or in the nearest directory
above it. Its state is the dirstate's parents (the commit checked out, and a merge's other
one) and its entries (state, mode, path, copy source: not its stat cache, which differs in
every clone of one commit, so that identical checkouts still share), the branch, the
bookmarks and the active one, local tags, the repository's ``hgrc``, and the changelog's
length (hg's history only grows: any new commit, a tag's among them, lengthens it). A
dirstate this module cannot read entry by entry (dirstate-v2, one cut short) counts whole:
more misses, never a stale hit.
"""

from __future__ import annotations

import hashlib
import struct
import time
from pathlib import Path

_ENTRY = struct.Struct(">cllll")  # state, mode, size, mtime, length of the path that follows
_PARENTS = 40  # two 20-byte node ids
_V2 = b"dirstate-v2\n"  # how a dirstate-v2 docket begins
_FILES = ("branch", "bookmarks", "bookmarks.current", "localtags", "hgrc")


def _find(source: Path) -> Path | None:
    """The ``.hg`` directory a hg command run in ``source`` uses."""
    here = source.resolve()
    for directory in (here, *here.parents):
        if (directory / ".hg").is_dir():
            return directory / ".hg"
    return None


def _dirstate(hg: Path) -> bytes:
    """The dirstate's parents and entries without their stat cache; whole where they cannot
    be read here (dirstate-v2: its docket and data files)."""
    path = hg / "dirstate"
    data = path.read_bytes() if path.is_file() else b""
    if data.startswith(_V2) or b"dirstate-v2" in _read(hg / "requires"):
        return b"v2" + b"".join(p.name.encode() + _read(p) for p in sorted(hg.glob("dirstate*")))
    out, at = bytearray(data[:_PARENTS]), _PARENTS
    try:
        while at < len(data):
            state, mode, _size, _mtime, length = _ENTRY.unpack_from(data, at)
            at += _ENTRY.size
            if at + length > len(data):
                raise ValueError("an entry runs past the dirstate's end")
            out += state + struct.pack(">l", mode) + data[at : at + length] + b"\0"
            at += length
    except (struct.error, ValueError):
        return b"whole" + data
    return bytes(out)


def _read(path: Path) -> bytes:
    return path.read_bytes() if path.is_file() else b"-"


def state(source: Path) -> str:
    """A digest of the Mercurial state of ``source``; "" where no repository holds it; where
    it cannot be read, a state no other read gives (a miss)."""
    try:
        return _state(source)
    except OSError as exc:
        return f"?:{exc.strerror}:{time.time_ns()}"


def _state(source: Path) -> str:
    hg = _find(source)
    if hg is None:
        return ""
    shared = hg / "sharedpath"  # `hg share`: the store (and maybe bookmarks) live there
    origin = Path(shared.read_text(errors="surrogateescape").strip()) if shared.is_file() else hg
    h = hashlib.sha256(b"dirstate\0" + _dirstate(hg))
    for directory in dict.fromkeys((hg, origin)):
        for name in _FILES:
            h.update(f"\0{name}\0".encode() + _read(directory / name))
    changelog = origin / "store" / "00changelog.i"
    length = changelog.stat().st_size if changelog.is_file() else -1
    h.update(f"\0changelog\0{length}".encode())
    return h.hexdigest()
