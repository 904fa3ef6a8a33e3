"""The cache's layout and its publish protocol (the names are the contract's).

    <cache>/editable-v1/<key>/.lock          the entry lock, held only to publish
    <cache>/editable-v1/<key>/<revision>/    immutable once published: wheel + entry.json
    <cache>/editable-v1/<key>/<revision>.build.lock
                                             held while one runner builds that revision
                                             (the coalesce policy; the others wait for it)
    <cache>/envs-v1/<env>/ and <env>.lock    build environments, published the same way
    <cache>/envs-v1/<env>.make.lock          held by the one runner making that env
    <cache>/tmp/<id>/ and <id>.alive         private build dirs; <id>.alive is held while
                                             their builder lives

Published directories never change, so readers take no lock: they verify the manifest (size
and sha256 of the wheel) and the wheel itself, and treat a mismatch as a miss. A lost publish
race costs duplicate work, never a torn entry, even where locks do not exclude: a rename onto
an entry that appeared meanwhile drops ours.

Scratch dirs are alive while their builder is: it holds a flock on ``<id>.alive`` and touches
it every ``SCRATCH_HEARTBEAT_S``. A sweeper removes a scratch dir only when both say its builder is
gone (the lock is free and the heartbeat older than ``SCRATCH_GRACE_S``): flock alone lies on some
file systems (FUSE, NFS), a heartbeat alone stops while a builder is stopped.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import sys
import threading
import time
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
    SCRATCH_GRACE_S,
    SCRATCH_HEARTBEAT_S,
    LockKind,
    Op,
    Phase,
)
from lab.refbuilder import _locks, _wheel
from lab.refbuilder._errors import CacheError
from lab.refbuilder._events import Events
from lab.refbuilder._tree import file_digest

T = TypeVar("T")

_PENDING = ".new"
_DISCARDED = ".discarded"
# What a file system says when the cache, not the build, is at fault.
_CACHE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)


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

    @property
    def digest(self) -> dict[str, str]:
        """The wheel's name and sha256: what a publish event says is at the entry's path."""
        return {"wheel": str(self.manifest["wheel"]), "sha256": str(self.manifest["sha256"])}


def read_entry(path: Path) -> Entry | None:
    """The entry in ``path`` if its manifest and wheel agree and the wheel is sound, else
    None (a miss)."""
    try:
        manifest = json.loads((path / ENTRY_MANIFEST).read_text())
        wheel = path / str(manifest["wheel"])
        if wheel.stat().st_size != manifest["size"] or file_digest(wheel) != manifest["sha256"]:
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Entry(path, manifest) if _wheel.problem(wheel) is None else None


def _unique() -> str:
    """A name nobody else in the cache picks: 128 random bits (``uuid`` would cost a runner's
    start its import)."""
    return os.urandom(16).hex()


def write_file(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all, keeping its mode. A write that fails (a full disk
    reports no file name) names the path."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(data)
        if path.exists():
            shutil.copymode(path, tmp)
        tmp.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise CacheError(f"cannot write {path}: {exc.strerror or exc}") from exc


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    data = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    write_file(path / ENTRY_MANIFEST, data.encode())


@dataclass(frozen=True)
class LockSpec:
    """A lock to take: its file, the key it reports under, and its kind."""

    path: Path
    key: str
    kind: LockKind


class Cache:
    def __init__(
        self, root: Path, events: Events, lock_timeout: float | None = None, label: str = ""
    ) -> None:
        """``label`` goes before the names events give what is in this cache: "" for the
        shared one, a unique one for a private cache, whose locks exclude nobody else."""
        self.root = root
        self.events = events
        self.lock_timeout = lock_timeout
        self.label = label

    def entry_name(self, key: str) -> str:
        """How history events name an entry: relative to the cache root."""
        return f"{self.label}{EDITABLE_BUCKET}/{key}"

    def entry_lock(self, key: str) -> LockSpec:
        path = self.root / EDITABLE_BUCKET / key / ENTRY_LOCK
        return LockSpec(path, self.entry_name(key), LockKind.ENTRY)

    def entry_dir(self, key: str, revision: str) -> Path:
        return self.root / EDITABLE_BUCKET / key / revision

    def build_lock(self, key: str, revision: str) -> LockSpec:
        """Held while one runner builds ``revision`` of ``key``, which the others that would
        reuse it wait for (the coalesce policy)."""
        path = self.root / EDITABLE_BUCKET / key / f"{revision}.build.lock"
        return LockSpec(path, f"{self.entry_name(key)}/{revision}.build", LockKind.BUILD)

    def env_name(self, env_key: str) -> str:
        return f"{self.label}{ENVS_BUCKET}/{env_key}"

    def env_dir(self, env_key: str) -> Path:
        return self.root / ENVS_BUCKET / env_key

    def env_lock(self, env_key: str) -> LockSpec:
        path = self.root / ENVS_BUCKET / f"{env_key}.lock"
        return LockSpec(path, self.env_name(env_key), LockKind.ENV)

    def env_make_lock(self, env_key: str) -> LockSpec:
        """Held while one runner makes the env that the others wait for."""
        path = self.root / ENVS_BUCKET / f"{env_key}.make.lock"
        return LockSpec(path, f"{self.env_name(env_key)}.make", LockKind.ENV_MAKE)

    @contextlib.contextmanager
    def held(self, lock: LockSpec | None) -> Iterator[bool]:
        """Hold ``lock`` for the block (None: no lock, for policies that take none), waiting
        no longer than the lock timeout; yields whether it had to wait for another holder."""
        if lock is None:
            yield False
            return
        with _locks.held(lock.path, lock.key, lock.kind, self.events, self.lock_timeout) as waited:
            yield waited

    def unwritable(self, failure: BaseException | None = None) -> str | None:
        """Why nothing can be written into the cache (read-only, full, not ours), or None.

        A probe, not a guess: it writes and removes a small file. A full cache may have room
        for the probe again once the failed build's scratch is gone, so ``failure``, the error
        that brought us here, also counts where it says the file system was full or read-only
        (in its errno, or in a child's message, which carries only the text).
        """
        probe = self.root / f".probe-{_unique()}"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe.write_bytes(b"\0" * 65536)
        except OSError as exc:
            return f"{exc.strerror or exc}"
        finally:
            with contextlib.suppress(OSError):
                probe.unlink()
        while failure is not None:
            for code in _CACHE_ERRNOS:
                if getattr(failure, "errno", None) == code or os.strerror(code) in str(failure):
                    return os.strerror(code)
            failure = failure.__cause__
        return None

    @contextlib.contextmanager
    def scratch(self) -> Iterator[Path]:
        """A private directory on the cache's file system, marked alive while we hold it.

        The marker is created and locked under a name the sweeper ignores, then renamed into
        view (a flock belongs to the inode and survives the rename), and the directory is made
        only after that: a sweeper never sees a marker or a directory that nobody has locked.
        The marker says whose it is, and a heartbeat touches it while we hold it.
        """
        tmp = self.root / SCRATCH_DIR
        tmp.mkdir(parents=True, exist_ok=True)
        name = _unique()
        pending, marker = tmp / f"{name}{SCRATCH_ALIVE}{_PENDING}", tmp / f"{name}{SCRATCH_ALIVE}"
        alive = _locks.try_hold(pending)
        if alive is None:  # a fresh name that nobody else knows
            raise CacheError(f"cannot lock the new scratch marker {pending}")
        owner = {"runner": self.events.runner, "pid": os.getpid(), "host": os.uname().nodename}
        try:
            pending.write_text(json.dumps(owner))
            pending.rename(marker)
        except OSError as exc:
            alive.release()
            pending.unlink(missing_ok=True)
            raise CacheError(f"cannot make the scratch marker {marker}: {exc.strerror}") from exc
        path = tmp / name
        key = f"{self.label}{SCRATCH_DIR}/{name}"
        beating = _Heartbeat(marker, self.events)
        try:
            path.mkdir()
            self.events.emit(Op.SCRATCH, Phase.START, key)
            beating.start()
            yield path
        finally:
            beating.stop()
            shutil.rmtree(path, ignore_errors=True)
            marker.unlink(missing_ok=True)
            self.events.emit(Op.SCRATCH, Phase.END, key)  # stamped while the marker is held
            alive.release()

    def sweep(self) -> list[str]:
        """Remove scratch directories whose builder is gone: their ``.alive`` lock is free and
        their heartbeat is older than the grace; and directories with no marker at all (a
        child that outlived its builder made them) once they are that old.

        The kernel drops a killed process's flocks, so the lock tells across containers whose
        PID namespaces differ, where a PID or hostname marker could not; the heartbeat tells
        where flock does not exclude. A cache that cannot be written is not swept.
        """
        tmp = self.root / SCRATCH_DIR
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
            self.events.emit(
                Op.SWEEP,
                Phase.REMOVED,
                f"{self.label}{SCRATCH_DIR}/{name}",
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
                self.events.emit(
                    Op.SWEEP, Phase.REMOVED, f"{self.label}{SCRATCH_DIR}/{orphan.name}", owner=None
                )
        # A builder killed between creating its marker and renaming it leaves a file.
        for pending in tmp.glob(f"*{SCRATCH_ALIVE}{_PENDING}"):
            age = _age(pending)
            if age is not None and age > SCRATCH_GRACE_S:
                pending.unlink(missing_ok=True)
        return swept

    def discard(self, path: Path) -> None:
        """Remove ``path`` from the cache without anyone seeing it half gone: one rename
        into the scratch dir, then the delete (a sweep finishes one that was interrupted)."""
        aside = self.root / SCRATCH_DIR / f"{_unique()}{_DISCARDED}"
        aside.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.rename(aside)
        except FileNotFoundError:
            return  # someone else took it
        shutil.rmtree(aside, ignore_errors=True)

    def clean_entries(self) -> list[str]:
        """Remove every published entry. Readers take no lock and verify what they read, so
        an entry removed while one installs it is a miss for them, never a broken install."""
        removed = []
        for entry in sorted(self.root.glob(f"{EDITABLE_BUCKET}/*/*")):
            if entry.is_dir():
                self.discard(entry)
                removed.append(entry.relative_to(self.root).as_posix())
        return removed

    def publish(
        self,
        built: Path,
        final: Path,
        read: Callable[[Path], T | None],
        lock: LockSpec | None,
    ) -> tuple[Phase, T | None]:
        """Move ``built`` to ``final`` unless ``read`` finds a valid one there. Return what
        happened (published, replaced, or dropped: ours, as a valid one was there) and, when
        dropped, what ``read`` found. Correct with no exclusion at all: where another
        publisher won meanwhile, the rename fails and ours is dropped for theirs.

        ``lock`` is taken for the rename only; None: the caller holds it.
        """
        with self.held(lock):
            existing = read(final)
            if existing is not None:
                return Phase.DROPPED, existing
            final.parent.mkdir(parents=True, exist_ok=True)
            outcome = Phase.PUBLISHED
            if final.exists():  # present but not valid: set it aside, never delete in place
                with contextlib.suppress(FileNotFoundError):  # another set it aside first
                    final.rename(built.parent / f"stale-{_unique()}")
                outcome = Phase.REPLACED
            try:
                built.rename(final)
            except OSError as exc:
                won = read(final) if exc.errno in (errno.ENOTEMPTY, errno.EEXIST) else None
                if won is not None:
                    if lock is not None:  # held, yet another published under it meanwhile
                        seen = f"{final} was published by another while we held it"
                        warn_locks_do_not_exclude(self.events, lock.path, seen)
                    return Phase.DROPPED, won
                raise CacheError(f"cannot publish {built} as {final}: {exc.strerror}") from exc
            return outcome, None


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


def warn_locks_do_not_exclude(events: Events, lock: Path, seen: str) -> None:
    """Say, once per sighting, that a lock we held did not exclude another holder."""
    message = (
        f"the lock {lock} did not exclude another holder ({seen}): locks on this file system "
        "do not exclude (a network or FUSE file system?); entries stay correct, work is repeated"
    )
    events.emit(Op.BUILDER, Phase.WARNED, message=message)
    print(f"warning: {message}", file=sys.stderr)


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
                warn_locks_do_not_exclude(self._events, self._marker, seen)
                return
            except OSError:
                pass  # a full or read-only cache: the sweeper's grace still protects us

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
