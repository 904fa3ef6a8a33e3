"""The cache's scratch dir: private build dirs, alive while their builder is, and the sweep
that removes them once it is gone.

    <cache>/tmp/<id>/              a builder's private dir: it builds and makes envs here
    <cache>/tmp/<id>.alive         its marker: locked, and touched, while its builder lives;
                                   it says whose it is
    <cache>/tmp/<id>.alive.new     a marker not yet in view (made and locked under this name)
    <cache>/tmp/<id>.discarded/    what the cache removes, moved here in one rename first

A builder holds a flock on ``<id>.alive`` and touches it every ``SCRATCH_HEARTBEAT_S``. A
sweeper removes a scratch dir only when both say its builder is gone (the lock is free and
the heartbeat older than ``SCRATCH_GRACE_S``): flock alone lies on some file systems (FUSE,
NFS), a heartbeat alone stops while a builder is stopped. A directory with no marker (a
child that outlived its builder made it, or a removal was interrupted) goes once it is that
old.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lab.contract import SCRATCH_ALIVE, SCRATCH_DIR, SCRATCH_GRACE_S, SCRATCH_HEARTBEAT_S, Op, Phase
from lab.refbuilder import _locks
from lab.refbuilder._errors import CacheError
from lab.refbuilder._events import Events

_PENDING = ".new"
_DISCARDED = ".discarded"


def unique() -> str:
    """A name nobody else in the cache picks: 128 random bits (``uuid`` would cost a runner's
    start its import)."""
    return os.urandom(16).hex()


@contextlib.contextmanager
def scratch(root: Path, events: Events, label: str) -> Iterator[Path]:
    """A private directory in the cache ``root``, marked alive while we hold it; ``label``
    goes before its name in events.

    The marker is created and locked under a name the sweeper ignores, then renamed into
    view (a flock belongs to the inode and survives the rename), and the directory is made
    only after that: a sweeper never sees a marker or a directory that nobody has locked.
    The marker says whose it is, and a heartbeat touches it while we hold it.
    """
    tmp = root / SCRATCH_DIR
    tmp.mkdir(parents=True, exist_ok=True)
    name = unique()
    pending, marker = tmp / f"{name}{SCRATCH_ALIVE}{_PENDING}", tmp / f"{name}{SCRATCH_ALIVE}"
    alive = _locks.try_hold(pending)
    if alive is None:  # a fresh name that nobody else knows
        raise CacheError(f"cannot lock the new scratch marker {pending}")
    owner = {"runner": events.runner, "pid": os.getpid(), "host": os.uname().nodename}
    try:
        pending.write_text(json.dumps(owner))
        pending.rename(marker)
    except OSError as exc:
        alive.release()
        pending.unlink(missing_ok=True)
        raise CacheError(f"cannot make the scratch marker {marker}: {exc.strerror}") from exc
    path = tmp / name
    key = f"{label}{SCRATCH_DIR}/{name}"
    beating = _Heartbeat(marker, events)
    try:
        path.mkdir()
        events.emit(Op.SCRATCH, Phase.START, key)
        beating.start()
        yield path
    finally:
        beating.stop()
        shutil.rmtree(path, ignore_errors=True)
        marker.unlink(missing_ok=True)
        events.emit(Op.SCRATCH, Phase.END, key)  # stamped while the marker is held
        alive.release()


def sweep(root: Path, events: Events, label: str) -> list[str]:
    """Remove the scratch directories in the cache ``root`` whose builder is gone: their
    ``.alive`` lock is free and their heartbeat is older than the grace; and directories
    with no marker at all once they are that old. The names of those removed.

    The kernel drops a killed process's flocks, so the lock tells across containers whose
    PID namespaces differ, where a PID or hostname marker could not; the heartbeat tells
    where flock does not exclude. A cache that cannot be written is not swept.
    """
    tmp = root / SCRATCH_DIR
    if not tmp.is_dir() or not os.access(tmp, os.W_OK):
        return []
    swept = []
    for marker in sorted(tmp.glob(f"*{SCRATCH_ALIVE}")):
        age = _age(marker)
        if age is None or age < SCRATCH_GRACE_S:
            continue  # its builder's heartbeat is fresh
        lock = _locks.try_hold(marker)
        if lock is None:
            continue  # its builder holds it: alive, if stopped
        name = marker.name.removesuffix(SCRATCH_ALIVE)
        owner = _owner(marker)
        try:
            shutil.rmtree(tmp / name, ignore_errors=True)
            marker.unlink(missing_ok=True)
        finally:
            lock.release()
        swept.append(name)
        events.emit(
            Op.SWEEP,
            Phase.REMOVED,
            f"{label}{SCRATCH_DIR}/{name}",
            owner=owner,
            heartbeat_age_s=round(age, 1),
        )
    marked = {m.name.removesuffix(SCRATCH_ALIVE) for m in tmp.glob(f"*{SCRATCH_ALIVE}")}
    for orphan in tmp.iterdir():
        age = _age(orphan)
        if (
            orphan.is_dir()
            and orphan.name not in marked
            and age is not None
            and age > SCRATCH_GRACE_S
        ):
            shutil.rmtree(orphan, ignore_errors=True)
            swept.append(orphan.name)
            events.emit(Op.SWEEP, Phase.REMOVED, f"{label}{SCRATCH_DIR}/{orphan.name}", owner=None)
    # A builder killed between creating its marker and renaming it leaves a file.
    for pending in tmp.glob(f"*{SCRATCH_ALIVE}{_PENDING}"):
        age = _age(pending)
        if age is not None and age > SCRATCH_GRACE_S:
            pending.unlink(missing_ok=True)
    return swept


def discard(root: Path, path: Path) -> None:
    """Remove ``path`` from the cache ``root`` without anyone seeing it half gone: one rename
    into the scratch dir, then the delete (a sweep finishes one that was interrupted)."""
    aside = root / SCRATCH_DIR / f"{unique()}{_DISCARDED}"
    aside.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.rename(aside)
    except FileNotFoundError:
        return  # someone else took it
    shutil.rmtree(aside, ignore_errors=True)


def _age(path: Path) -> float | None:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return None


def _owner(marker: Path) -> dict[str, Any] | None:
    try:
        owner = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) else None


class _Heartbeat:
    """Touches a scratch marker every ``SCRATCH_HEARTBEAT_S`` while its builder lives. A
    marker gone while we hold its lock was swept by someone whose lock did not exclude."""

    def __init__(self, marker: Path, events: Events) -> None:
        self._marker = marker
        self._events = events
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(SCRATCH_HEARTBEAT_S):
            try:
                os.utime(self._marker)
            except FileNotFoundError:
                seen = "our scratch marker was swept while we held it"
                _locks.warn_locks_do_not_exclude(self._events, self._marker, seen)
                return
            except OSError:
                pass  # a full or read-only cache: the sweeper's grace still protects us

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
