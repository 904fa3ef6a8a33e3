"""What one editable install will do, computed once before anything is locked or built.

The four policies share one code path; they differ only in their row of ``LOCKING``:

    policy    entry lock          tree lock  where the build goes             same build
    narrow    for the publish     yes        a scratch dir, then one rename   built again
    coalesce  for the publish     yes        a scratch dir, then one rename   waited for
    wide      lookup to installed no         a scratch dir, then one rename   (as uv)
    none      never               no         the final directory itself (unsafe on purpose)

Every policy but ``none`` keys an entry by the whole tree's content (``_tree``); ``none``
keys it as uv does, by pyproject.toml, setup.py and setup.cfg alone (``UV_KEY_FILES``): the
unsafe baseline in both ways, for the checker and the fuzzer to catch.

"Same build": what a runner does that misses while another builds the same key and
revision. ``coalesce`` waits for that build (under the build lock, bounded by the lock
timeout) where its result is expected to serve this checkout too (``_reuse``), and builds
in parallel, as ``narrow``, where it is not.
"""

from __future__ import annotations

import dataclasses
import enum
import os
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from lab.refbuilder import Freshness, Policy, _tree
from lab.refbuilder._cache import Cache
from lab.refbuilder._env import env_key
from lab.refbuilder._project import BuildSystem, Project


class EntryLock(enum.Enum):
    NEVER = enum.auto()
    PUBLISH = enum.auto()  # for the rename that publishes, milliseconds
    WHOLE = enum.auto()  # from lookup until installed, around env, build and publish


@dataclass(frozen=True)
class Locking:
    entry: EntryLock
    tree: bool  # the lock inside the source tree, around build and publish
    atomic: bool  # build in scratch, publish by rename; False: write the entry in place
    coalesce: bool = False  # wait for another runner's build of the same revision
    whole_tree: bool = True  # the revision covers the whole tree; False: uv's key files


# uv's default cache keys: what ``none`` keys an entry by, missing the rest of the tree.
UV_KEY_FILES = frozenset({"pyproject.toml", "setup.py", "setup.cfg"})


LOCKING = {
    Policy.NARROW: Locking(EntryLock.PUBLISH, tree=True, atomic=True),
    Policy.COALESCE: Locking(EntryLock.PUBLISH, tree=True, atomic=True, coalesce=True),
    Policy.WIDE: Locking(EntryLock.WHOLE, tree=False, atomic=True),
    Policy.NONE: Locking(EntryLock.NEVER, tree=False, atomic=False, whole_tree=False),
}


def locking(policy: Policy, tree_lock: bool = True) -> Locking:
    """The policy's row; ``tree_lock=False`` drops the tree lock (to show a shared tree
    without it)."""
    row = LOCKING[policy]
    return row if tree_lock else dataclasses.replace(row, tree=False)


@dataclass(frozen=True)
class Plan:
    """One install's fixed facts: which tree (as scanned), which backend, which entry."""

    source: Path
    system: BuildSystem
    key: str  # the entry key: a hash of the source's path
    revision: str  # the tree's content and the salt (and, under ctime freshness, ctimes)
    entry_dir: Path
    entry_name: str  # how events name the entry
    tree: _tree.Tree
    salt: str  # what joins the tree in the revision: the build env, declared env vars
    with_ctimes: bool
    skip: tuple[Path, ...]  # not the tree's content: the builder's cache and venv
    only: frozenset[str] | None = None  # what of the tree the revision covers; None: all

    def rescanned(self) -> Plan:
        """This plan for the tree as it is now: while this install waited for a lock,
        another runner's build may have added files to a tree we share. The earlier scan
        lends its digests of what has not changed since."""
        tree = _tree.scan(self.source, self.skip, self.tree)
        revision = tree.revision(self.salt, self.with_ctimes, only=self.only)
        entry_dir = self.entry_dir.with_name(revision)
        return dataclasses.replace(self, tree=tree, revision=revision, entry_dir=entry_dir)

    def revision_without(self, entries: Collection[str]) -> str:
        """The revision of this tree without ``entries``: what it was before a build added
        them."""
        return self.tree.revision(self.salt, self.with_ctimes, entries, self.only)


def _salt(env: str, variables: tuple[str, ...]) -> str:
    declared = "".join(f"${var}={os.environ.get(var, '')}\0" for var in variables)
    return f"env:{env}\0{declared}"


def make_plan(
    project: Project,
    cache: Cache,
    python: Path,
    freshness: Freshness,
    skip: tuple[Path, ...] = (),
    whole_tree: bool = True,
) -> Plan:
    """The plan for ``project`` as its tree is now, but for ``skip`` (the builder's own
    cache and venv, where they lie in the tree); ``whole_tree=False``: keyed by uv's key
    files alone (``none``)."""
    source = project.path.parent
    key = _tree.path_key(source)
    tree = _tree.scan(source, skip)
    salt = _salt(env_key(project.system.requires, python), project.env)
    with_ctimes = freshness is Freshness.CTIME
    only = None if whole_tree else UV_KEY_FILES
    revision = tree.revision(salt, with_ctimes, only=only)
    return Plan(
        source=source,
        system=project.system,
        key=key,
        revision=revision,
        entry_dir=cache.entry_dir(key, revision),
        entry_name=cache.entry_name(key),
        tree=tree,
        salt=salt,
        with_ctimes=with_ctimes,
        skip=skip,
        only=only,
    )
