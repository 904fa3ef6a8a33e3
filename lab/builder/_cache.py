"""The cache's layout and its publish protocol.

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

from lab.builder import _locks
from lab.builder._errors import CacheError
from lab.builder._events import Events
from lab.builder._tree import file_digest

T = TypeVar("T")

EDITABLE = "editable-v1"
ENVS = "envs-v1"
TMP = "tmp"
MANIFEST = "entry.json"
_ALIVE = ".alive"
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
        manifest = json.loads((path / MANIFEST).read_text())
        wheel = path / str(manifest["wheel"])
        if wheel.stat().st_size != manifest["size"] or file_digest(wheel) != manifest["sha256"]:
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Entry(path, manifest)


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    tmp = path / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    tmp.replace(path / MANIFEST)


class Cache:
    def __init__(self, root: Path, events: Events) -> None:
        self.root = root
        self.events = events

    def entry_key(self, key: str) -> str:
        return f"{EDITABLE}/{key}"

    def entry_lock(self, key: str) -> Path:
        return self.root / EDITABLE / key / ".lock"

    def entry_dir(self, key: str, revision: str) -> Path:
        return self.root / EDITABLE / key / revision

    def env_dir(self, env_key: str) -> Path:
        return self.root / ENVS / env_key

    def env_lock(self, env_key: str) -> Path:
        return self.root / ENVS / f"{env_key}.lock"

    @contextlib.contextmanager
    def scratch(self) -> Iterator[Path]:
        """A private directory on the cache's file system, marked alive while we hold it.

        The marker is created and locked under a name the sweeper ignores, then renamed into
        view (a flock belongs to the inode and survives the rename), and the directory is made
        only after that: a sweeper never sees a marker or a directory that nobody has locked.
        """
        tmp = self.root / TMP
        tmp.mkdir(parents=True, exist_ok=True)
        name = uuid.uuid4().hex
        pending, marker = tmp / f"{name}{_ALIVE}{_PENDING}", tmp / f"{name}{_ALIVE}"
        alive = _locks.try_hold(pending)
        if alive is None:  # a fresh uuid that nobody else knows
            raise CacheError(f"cannot lock the new scratch marker {pending}")
        pending.rename(marker)
        path = tmp / name
        try:
            path.mkdir()
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)
            marker.unlink(missing_ok=True)
            alive.release()

    def sweep(self) -> list[str]:
        """Remove scratch directories whose builder is gone: their ``.alive`` lock is free.

        The kernel drops a killed process's flocks, so this works across containers whose
        PID namespaces differ, where a PID or hostname marker could not tell.
        """
        tmp = self.root / TMP
        if not tmp.is_dir():
            return []
        swept = []
        for marker in sorted(tmp.glob(f"*{_ALIVE}")):
            lock = _locks.try_hold(marker)
            if lock is None:
                continue  # its builder is alive
            name = marker.name.removesuffix(_ALIVE)
            try:
                shutil.rmtree(tmp / name, ignore_errors=True)
                marker.unlink(missing_ok=True)
            finally:
                lock.release()
            swept.append(name)
            self.events.emit("sweep", "removed", f"{TMP}/{name}")
        # A builder killed between creating its marker and renaming it leaves an empty file.
        for pending in tmp.glob(f"*{_ALIVE}{_PENDING}"):
            with contextlib.suppress(OSError):
                if time.time() - pending.stat().st_mtime > _PENDING_GRACE_S:
                    pending.unlink()
        return swept

    def publish(
        self,
        built: Path,
        final: Path,
        read: Callable[[Path], T | None],
        lock: tuple[Path, str, str] | None,
    ) -> tuple[str, T | None]:
        """Move ``built`` to ``final`` unless ``read`` finds a valid one there. Return what
        happened (published, replaced, or dropped: ours, as a valid one was there) and, when
        dropped, what ``read`` found.

        ``lock`` (path, key, kind) is taken for the rename only; None: the caller holds it.
        """
        guard = _locks.held(*lock, self.events) if lock else contextlib.nullcontext()
        with guard:
            existing = read(final)
            if existing is not None:
                return "dropped", existing
            final.parent.mkdir(parents=True, exist_ok=True)
            outcome = "published"
            if final.exists():  # present but not valid: set it aside, never delete in place
                final.rename(built.parent / f"stale-{uuid.uuid4().hex}")
                outcome = "replaced"
            try:
                built.rename(final)
            except OSError as exc:
                raise CacheError(f"cannot publish {built} as {final}: {exc}") from exc
            return outcome, None
