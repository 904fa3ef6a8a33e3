"""What one editable install will do, computed once before anything is locked or built.

The three policies share one code path; they differ only in their row of ``LOCKING``:

    policy   entry lock          tree lock   where the build goes
    narrow   for the publish     yes         a scratch dir, then one rename
    wide     lookup to installed no          a scratch dir, then one rename (as uv)
    none     never               no          the final directory itself (unsafe on purpose)
"""

from __future__ import annotations

import dataclasses
import enum
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.refbuilder import _tree
from lab.refbuilder._cache import Cache
from lab.refbuilder._env import env_key
from lab.refbuilder._errors import BuildError


class Policy(enum.StrEnum):
    NARROW = "narrow"
    WIDE = "wide"
    NONE = "none"


class Freshness(enum.StrEnum):
    """When an entry built in one checkout may serve another at the same path."""

    CONTENT = "content"  # identical cache-key inputs: reuse
    CTIME = "ctime"  # uv's rule: the inputs' ctimes count too, so every checkout rebuilds


class EntryLock(enum.Enum):
    NEVER = enum.auto()
    PUBLISH = enum.auto()  # for the rename that publishes, milliseconds
    WHOLE = enum.auto()  # from lookup until installed, around env, build and publish


@dataclass(frozen=True)
class Locking:
    entry: EntryLock
    tree: bool  # the lock inside the source tree, around build and publish
    atomic: bool  # build in scratch, publish by rename; False: write the entry in place


LOCKING = {
    Policy.NARROW: Locking(EntryLock.PUBLISH, tree=True, atomic=True),
    Policy.WIDE: Locking(EntryLock.WHOLE, tree=False, atomic=True),
    Policy.NONE: Locking(EntryLock.NEVER, tree=False, atomic=False),
}


def locking(policy: Policy, tree_lock: bool = True) -> Locking:
    """The policy's row; ``tree_lock=False`` drops the tree lock (to show a shared tree
    without it)."""
    row = LOCKING[policy]
    return row if tree_lock else dataclasses.replace(row, tree=False)


# PEP 517's fallback when [build-system] is missing.
_DEFAULT_REQUIRES = ("setuptools>=40.8.0",)
_DEFAULT_BACKEND = "setuptools.build_meta:__legacy__"


@dataclass(frozen=True)
class BuildSystem:
    requires: tuple[str, ...]
    backend: str
    backend_path: tuple[str, ...] | None = None


def read_build_system(source: Path) -> BuildSystem:
    """``[build-system]`` of the source's pyproject.toml, with PEP 517's fallbacks."""
    path = source / "pyproject.toml"
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text())
    except FileNotFoundError:
        return BuildSystem(_DEFAULT_REQUIRES, _DEFAULT_BACKEND)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BuildError("?", "read [build-system]", source, f"{path}: {exc}") from exc
    table = data.get("build-system")
    if table is None:
        return BuildSystem(_DEFAULT_REQUIRES, _DEFAULT_BACKEND)
    backend_path = table.get("backend-path")
    # Without a backend, PEP 517's fallback backend needs its own requirements too.
    fallback = () if "build-backend" in table else _DEFAULT_REQUIRES
    return BuildSystem(
        requires=tuple(str(r) for r in table.get("requires", fallback)),
        backend=str(table.get("build-backend", _DEFAULT_BACKEND)),
        backend_path=tuple(backend_path) if backend_path is not None else None,
    )


@dataclass(frozen=True)
class Plan:
    """One install's fixed facts: which tree, which backend, which cache entry."""

    source: Path
    system: BuildSystem
    key: str  # the entry key: a hash of the source's path
    revision: str  # a hash of the cache-key inputs (and, under ctime freshness, their ctimes)
    entry_dir: Path

    @property
    def entry_name(self) -> str:
        return Cache.entry_name(self.key)


def make_plan(
    source: Path, cache: Cache, python: Path, key_globs: tuple[str, ...], freshness: Freshness
) -> Plan:
    source = source.absolute()
    system = read_build_system(source)
    key = _tree.path_key(source)
    revision = _tree.revision(
        source, env_key(system.requires, python), key_globs, freshness is Freshness.CTIME
    )
    return Plan(source, system, key, revision, cache.entry_dir(key, revision))
