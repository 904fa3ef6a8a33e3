"""The cache's layout and its publish protocol (the names are the contract's).

    <cache>/editable-v1/<key>/.lock          the entry lock, held only to publish
    <cache>/editable-v1/<key>/<revision>/    immutable once published: wheel + entry.json
    <cache>/envs-v1/<env>/ and <env>.lock    build environments, published the same way
    <cache>/tmp/<id>/ and <id>.alive         private build dirs; <id>.alive is held while
                                             their builder lives

Published directories never change, so readers take no lock: they verify the manifest (size
and sha256 of the wheel) and treat a mismatch as a miss. A lost publish race costs duplicate
work, never a torn entry.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from lab.contract import (
    EDITABLE_BUCKET,
    ENTRY_LOCK,
    ENTRY_MANIFEST,
    ENVS_BUCKET,
    SCRATCH_ALIVE,
    SCRATCH_DIR,
    LockKind,
    Op,
    Phase,
)
from lab.refbuilder import _locks
from lab.refbuilder._errors import CacheError
from lab.refbuilder._events import Events
from lab.refbuilder._tree import file_digest

T = TypeVar("T")

_PENDING = ".new"
_PENDING_GRACE_S = 300


@dataclass(frozen=True)
class Entry:
    path: Path
    manifest: dict[str, Any]

    @property
    def wheel(self) -> Path:
        return self.path / str(self.manifest["wheel"])

    @property
    def side_effects(self) -> dict[str, str]:
        return dict(self.manifest.get("side_effects", {}))


def read_entry(path: Path) -> Entry | None:
    """The entry in ``path`` if its manifest and wheel agree, else None (a miss)."""
    try:
        manifest = json.loads((path / ENTRY_MANIFEST).read_text())
        wheel = path / str(manifest["wheel"])
        if wheel.stat().st_size != manifest["size"] or file_digest(wheel) != manifest["sha256"]:
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Entry(path, manifest)


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    tmp = path / f".{ENTRY_MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    tmp.replace(path / ENTRY_MANIFEST)


@dataclass(frozen=True)
class LockSpec:
    """A lock to take: its file, the key it reports under, and its kind."""

    path: Path
    key: str
    kind: LockKind


class Cache:
    def __init__(self, root: Path, events: Events) -> None:
        self.root = root
        self.events = events

    @staticmethod
    def entry_name(key: str) -> str:
        """How history events name an entry: relative to the cache root."""
        return f"{EDITABLE_BUCKET}/{key}"

    def entry_lock(self, key: str) -> LockSpec:
        path = self.root / EDITABLE_BUCKET / key / ENTRY_LOCK
        return LockSpec(path, self.entry_name(key), LockKind.ENTRY)

    def entry_dir(self, key: str, revision: str) -> Path:
        return self.root / EDITABLE_BUCKET / key / revision

    @staticmethod
    def env_name(env_key: str) -> str:
        return f"{ENVS_BUCKET}/{env_key}"

    def env_dir(self, env_key: str) -> Path:
        return self.root / ENVS_BUCKET / env_key

    def env_lock(self, env_key: str) -> LockSpec:
        path = self.root / ENVS_BUCKET / f"{env_key}.lock"
        return LockSpec(path, self.env_name(env_key), LockKind.ENV)

    @contextlib.contextmanager
    def held(self, lock: LockSpec | None) -> Iterator[None]:
        """Hold ``lock`` for the block (None: no lock, for policies that take none)."""
        if lock is None:
            yield
            return
        with _locks.held(lock.path, lock.key, lock.kind, self.events):
            yield

    @contextlib.contextmanager
    def scratch(self) -> Iterator[Path]:
        """A private directory on the cache's file system, marked alive while we hold it.

        The marker is created and locked under a name the sweeper ignores, then renamed into
        view (a flock belongs to the inode and survives the rename), and the directory is made
        only after that: a sweeper never sees a marker or a directory that nobody has locked.
        """
        tmp = self.root / SCRATCH_DIR
        tmp.mkdir(parents=True, exist_ok=True)
        name = uuid.uuid4().hex
        pending, marker = tmp / f"{name}{SCRATCH_ALIVE}{_PENDING}", tmp / f"{name}{SCRATCH_ALIVE}"
        alive = _locks.try_hold(pending)
        if alive is None:  # a fresh uuid that nobody else knows
            raise CacheError(f"cannot lock the new scratch marker {pending}")
        pending.rename(marker)
        path = tmp / name
        key = f"{SCRATCH_DIR}/{name}"
        try:
            path.mkdir()
            self.events.emit(Op.SCRATCH, Phase.START, key)
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)
            marker.unlink(missing_ok=True)
            self.events.emit(Op.SCRATCH, Phase.END, key)  # stamped while the marker is held
            alive.release()

    def sweep(self) -> list[str]:
        """Remove scratch directories whose builder is gone: their ``.alive`` lock is free.

        The kernel drops a killed process's flocks, so this works across containers whose
        PID namespaces differ, where a PID or hostname marker could not tell.
        """
        tmp = self.root / SCRATCH_DIR
        if not tmp.is_dir():
            return []
        swept = []
        for marker in sorted(tmp.glob(f"*{SCRATCH_ALIVE}")):
            lock = _locks.try_hold(marker)
            if lock is None:
                continue  # its builder is alive
            name = marker.name.removesuffix(SCRATCH_ALIVE)
            try:
                shutil.rmtree(tmp / name, ignore_errors=True)
                marker.unlink(missing_ok=True)
            finally:
                lock.release()
            swept.append(name)
            self.events.emit(Op.SWEEP, Phase.REMOVED, f"{SCRATCH_DIR}/{name}")
        # A builder killed between creating its marker and renaming it leaves an empty file.
        for pending in tmp.glob(f"*{SCRATCH_ALIVE}{_PENDING}"):
            with contextlib.suppress(OSError):
                if time.time() - pending.stat().st_mtime > _PENDING_GRACE_S:
                    pending.unlink()
        return swept

    def publish(
        self,
        built: Path,
        final: Path,
        read: Callable[[Path], T | None],
        lock: LockSpec | None,
    ) -> tuple[Phase, T | None]:
        """Move ``built`` to ``final`` unless ``read`` finds a valid one there. Return what
        happened (published, replaced, or dropped: ours, as a valid one was there) and, when
        dropped, what ``read`` found.

        ``lock`` is taken for the rename only; None: the caller holds it.
        """
        with self.held(lock):
            existing = read(final)
            if existing is not None:
                return Phase.DROPPED, existing
            final.parent.mkdir(parents=True, exist_ok=True)
            outcome = Phase.PUBLISHED
            if final.exists():  # present but not valid: set it aside, never delete in place
                final.rename(built.parent / f"stale-{uuid.uuid4().hex}")
                outcome = Phase.REPLACED
            try:
                built.rename(final)
            except OSError as exc:
                raise CacheError(f"cannot publish {built} as {final}: {exc}") from exc
            return outcome, None
