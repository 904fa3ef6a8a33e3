"""What one editable install will do, computed once before anything is locked or built.

The four policies share one code path; they differ only in their row of ``LOCKING``:

    policy    entry lock          tree lock  where the build goes             same build
    narrow    for the publish     yes        a scratch dir, then one rename   built again
    coalesce  for the publish     yes        a scratch dir, then one rename   waited for
    wide      lookup to installed no         a scratch dir, then one rename   (as uv)
    none      never               no         the final directory itself (unsafe on purpose)

"Same build": what a runner does that misses while another builds the same key and
revision. ``coalesce`` waits for that build (under the build lock, bounded by the lock
timeout) where its result is expected to serve this checkout too (``_reuse``), and builds
in parallel, as ``narrow``, where it is not.
"""

from __future__ import annotations

import dataclasses
import enum
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


LOCKING = {
    Policy.NARROW: Locking(EntryLock.PUBLISH, tree=True, atomic=True),
    Policy.COALESCE: Locking(EntryLock.PUBLISH, tree=True, atomic=True, coalesce=True),
    Policy.WIDE: Locking(EntryLock.WHOLE, tree=False, atomic=True),
    Policy.NONE: Locking(EntryLock.NEVER, tree=False, atomic=False),
}


def locking(policy: Policy, tree_lock: bool = True) -> Locking:
    """The policy's row; ``tree_lock=False`` drops the tree lock (to show a shared tree
    without it)."""
    row = LOCKING[policy]
    return row if tree_lock else dataclasses.replace(row, tree=False)


@dataclass(frozen=True)
class Plan:
    """One install's fixed facts: which tree, which backend, which cache entry."""

    source: Path
    system: BuildSystem
    key: str  # the entry key: a hash of the source's path
    revision: str  # a hash of the cache-key inputs (and, under ctime freshness, their ctimes)
    entry_dir: Path
    entry_name: str  # how events name the entry


def make_plan(
    project: Project, cache: Cache, python: Path, freshness: Freshness, metadata: str
) -> Plan:
    """The plan for ``project``; ``metadata`` is what its backend prepares, where the key
    must cover it (``KeyInputs.metadata``), else ""."""
    source = project.path.parent
    key = _tree.path_key(source)
    env = env_key(project.system.requires, python)
    revision = _tree.revision(source, env, project.keys, freshness is Freshness.CTIME, metadata)
    entry_dir = cache.entry_dir(key, revision)
    return Plan(source, project.system, key, revision, entry_dir, cache.entry_name(key))
