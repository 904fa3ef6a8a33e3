"""The source tree: its content, which identifies a revision, and what a build added to it.

A revision is a digest of the whole tree's content: every file's relative path, kind,
executable bit and bytes, every symlink's target, every directory, and the state of the
repository that holds the tree (``_git``, ``_hg``). Whatever a backend, a build hook, a
plugin or an in-tree backend reads from the tree is in it, without a list of backends or of
metadata sources, so that a hit is never a build of other inputs from the tree. Identical
checkouts (CI's: one commit) still share their revision; any edit, a Python file's too, is a
new one. (A read set recorded per build would miss less often but cannot see what
subprocesses read: docs/protocol.md weighs both.)

Left out is only what is not the project's content: VCS directories (their state counts
through ``_git`` and ``_hg``), virtual environments (``.venv`` and any directory holding a
``pyvenv.cfg``), byte code, caches (``.tox``, ``.nox``, ``.mypy_cache``, ``.pytest_cache``,
``.ruff_cache``, cargo's ``target/`` beside a ``Cargo.toml``, and any directory holding a
``CACHEDIR.TAG``), our own tree lock, and the paths the builder is told to skip (its cache
and venv, where they lie in the tree). docs/protocol.md names each (a test holds it to
``_SKIP_DIRS``). A cache left out is trusted to check its own freshness, as cargo's
fingerprints do.

One walk stats every entry and hashes every file (``hashlib.file_digest``, no subprocess);
a later scan of the same tree in the same process (around a build) hashes again only what
its stat says changed, and what changed so recently that coarse timestamps cannot tell
(git's "racily clean" files).
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from lab.contract import TREE_KEY_PREFIX, TREE_LOCK_NAME
from lab.refbuilder import _git, _hg

_SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", ".venv", "__pycache__", ".tox", ".nox", ".mypy_cache"}
    | {".pytest_cache", ".ruff_cache"}
)
# A directory holding one of these is a virtual environment or a cache, not content.
_MARKS = frozenset({"pyvenv.cfg", "CACHEDIR.TAG"})
# cargo's build cache, beside the manifest: cargo tags it only where it made it itself, and
# maturin makes it first.
_CARGO_MANIFEST, _CARGO_TARGET = "Cargo.toml", "target"
# Timestamps are coarse (a kernel tick; seconds on some file systems): a file changed this
# close to a scan may change again with the same stat, so its digest is never reused.
_RACY_NS = 2_000_000_000
_DIR = "d"

Stat = tuple[int, int, int, int, int]  # mode, inode, size, mtime and ctime in ns


def file_digest(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def path_key(source: Path) -> str:
    """The entry key: a hash of the absolute path, as uv's. Same path, same key, whatever
    the checkout behind it."""
    return hashlib.sha256(str(source.absolute()).encode()).hexdigest()[:16]


def tree_key(source: Path) -> str:
    """The history key of a tree's lock: the physical tree, so another checkout at the same
    path has another key."""
    st = source.stat()
    return f"{TREE_KEY_PREFIX}{st.st_dev}:{st.st_ino}"


def _sha256(record: str) -> str | None:
    """A file's sha256 from its record; None for what is no regular file."""
    kind, _, digest = record.partition(":")
    return digest if kind in ("f", "x") else None


@dataclass(frozen=True)
class Tree:
    """What a tree held when it was scanned: every entry (relative path) as a record, ``d``
    (a directory), ``f:<sha256>`` (a file; ``x:`` executable), ``l:<target>`` (a symlink),
    ``o`` (another kind) or ``?:<error>`` (unreadable: a revision never met again)."""

    root: Path
    items: Mapping[str, str]
    stats: Mapping[str, Stat]  # of what is no directory
    git: _git.State
    hg: str  # _hg.state
    started_ns: int  # when the scan began, on the wall clock file times are stamped by

    def revision(
        self,
        salt: str,
        with_ctimes: bool = False,
        without: Collection[str] = (),
        only: Collection[str] | None = None,
    ) -> str:
        """The digest of this tree's content and ``salt`` (what else the build depends on),
        leaving out the entries ``without``. ``with_ctimes`` adds every file's ctime, as
        uv's freshness check does: then every checkout is a revision of its own. ``only``:
        just these entries and no VCS state (uv's key files: unsafe, for the baseline)."""
        vcs = f"git:{self.git.digest}\0hg:{self.hg}" if only is None else ""
        lines = [f"{salt}\0{vcs}"]
        for rel in sorted(self.items):
            if rel not in without and (only is None or rel in only):
                ctime = self.stats[rel][4] if with_ctimes and rel in self.stats else ""
                lines.append(f"{rel}\0{self.items[rel]}\0{ctime}")
        data = "\n".join(lines).encode("utf-8", "surrogateescape")
        return hashlib.sha256(data).hexdigest()[:16]

    @functools.cached_property
    def _git_tracked(self) -> frozenset[str] | None:
        """Every path git tracks in this tree and every directory above one; None: git's
        index cannot say."""
        tracked = self.git.tracked
        if tracked is None:
            return None
        return tracked.union(*(_parents(path) for path in tracked))

    def tracks(self, rel: str) -> bool | None:
        """Whether git tracks ``rel`` (a directory: something in it); None: its index cannot
        say (read whole)."""
        tracked = self._git_tracked
        return None if tracked is None else rel in tracked

    def added_by_build(self, before: Tree, started_ns: int, ended_ns: int) -> dict[str, str]:
        """The entries that a build, run from ``started_ns`` to ``ended_ns`` (wall clock),
        added to this tree (absent from ``before``) and that can be its own, as records:
        none that git tracks (a build's output is untracked; a tracked file came from a
        checkout, a restore, a pull), or may (its index cannot say), and none stamped (mtime,
        ctime) outside the build's run (a file moved in keeps its mtime). A file that another
        hand made untracked in the tree while the build ran cannot be told from the build's
        own: docs/protocol.md says so."""
        earliest = started_ns - _RACY_NS  # coarse timestamps lag the clock
        found = {}
        for rel, record in self.items.items():
            if rel in before.items or self.tracks(rel) is not False:
                continue
            st = self.stats.get(rel)
            if st is None or all(earliest <= t <= ended_ns for t in st[3:]):
                found[rel] = record
        return found

    def side_effects(self, before: Tree) -> dict[str, str]:
        """The files a build added or changed, with their sha256."""
        found = {}
        for rel, record in sorted(self.items.items()):
            digest = _sha256(record)
            if digest is not None and before.items.get(rel) != record:
                found[rel] = digest
        return found

    def missing(self, side_effects: Mapping[str, str]) -> list[str]:
        """The side effects (files and their sha256) this tree lacks or has otherwise: an
        entry needing them is no use here, however valid its wheel (uv #11390)."""
        return [
            rel
            for rel, digest in sorted(side_effects.items())
            if _sha256(self.items.get(rel, "")) != digest
        ]


def _parents(rel: str) -> set[str]:
    """The directories above ``rel``, relative as it is."""
    parts = rel.split("/")[:-1]
    return {"/".join(parts[: i + 1]) for i in range(len(parts))}


def _record(path: str, st: os.stat_result, reuse: str | None) -> str:
    if stat.S_ISLNK(st.st_mode):
        return f"l:{Path(path).readlink()}"
    if not stat.S_ISREG(st.st_mode):
        return "o"
    if reuse is not None:
        return reuse
    try:
        digest = file_digest(Path(path))
    except PermissionError as exc:
        return f"?:{exc.strerror}:{time.time_ns()}"
    return f"{'x' if st.st_mode & 0o111 else 'f'}:{digest}"


class _Walk:
    """One walk of a tree, reusing ``previous``'s digests where a file's stat is unchanged."""

    def __init__(self, root: Path, skip: Collection[Path], previous: Tree | None) -> None:
        self.root = root
        self.skip = {str(p.absolute()) for p in skip}
        self.previous = previous
        self.items: dict[str, str] = {}
        self.stats: dict[str, Stat] = {}

    def _reusable(self, rel: str, st: Stat) -> str | None:
        old = self.previous
        if old is None or old.stats.get(rel) != st or st[4] >= old.started_ns - _RACY_NS:
            return None
        return old.items.get(rel)

    def entry(self, rel: str, entry: os.DirEntry[str]) -> None:
        try:
            st = entry.stat(follow_symlinks=False)
            key = (st.st_mode, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
            self.items[rel] = _record(entry.path, st, self._reusable(rel, key))
        except FileNotFoundError:  # gone while we looked: not there
            return
        self.stats[rel] = key

    def run(self) -> None:
        pending = [("", str(self.root))]
        while pending:
            rel_dir, path = pending.pop()
            try:
                with os.scandir(path) as listing:
                    entries = list(listing)
            except (FileNotFoundError, NotADirectoryError):
                continue
            names = {e.name for e in entries}
            if rel_dir:
                if names & _MARKS:
                    continue
                self.items[rel_dir] = _DIR
            skip = set(_SKIP_DIRS)
            if _CARGO_MANIFEST in names:
                skip.add(_CARGO_TARGET)
            for e in entries:
                rel = f"{rel_dir}/{e.name}" if rel_dir else e.name
                if e.path in self.skip or (not rel_dir and e.name == TREE_LOCK_NAME):
                    continue
                if e.is_dir(follow_symlinks=False):
                    if e.name not in skip:
                        pending.append((rel, e.path))
                    continue
                self.entry(rel, e)


def scan(source: Path, skip: Collection[Path] = (), previous: Tree | None = None) -> Tree:
    """The tree at ``source`` as it is now, but for ``skip`` (absolute paths); ``previous``,
    an earlier scan of it, lends the digests of files whose stat has not changed since."""
    started = time.time_ns()
    walk = _Walk(source, skip, previous)
    walk.run()
    return Tree(source, walk.items, walk.stats, _git.state(source), _hg.state(source), started)
