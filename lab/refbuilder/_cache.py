"""The cache's layout and its publish protocol (the names are the contract's).

    <cache>/editable-v1/<key>/.lock          the entry lock, held only to publish
    <cache>/editable-v1/<key>/<revision>/    immutable once published: wheel + entry.json
    <cache>/editable-v1/<key>/<revision>.build.lock
                                             held while one runner builds that revision
                                             (the coalesce policy; the others wait for it)
    <cache>/envs-v1/<env>/ and <env>.lock    build environments, published the same way
    <cache>/envs-v1/<env>.make.lock          held by the one runner making that env
    <cache>/envs-v1/<env>.use                held shared by every builder using that env
    <cache>/tmp/                             private build dirs, alive while their builder
                                             is (``_scratch``)

Published directories never change, so readers take no lock: they verify the manifest (size
and sha256 of the wheel) and the wheel itself, and treat a mismatch as a miss. A lost publish
race costs duplicate work, never a torn entry, even where locks do not exclude: a rename onto
an entry that appeared meanwhile drops ours.

Cleaning moves each thing it removes into the scratch dir in one rename, then deletes it:
every entry (readers verify what they read, so one gone mid-install is a miss for them), and
every build env whose use lock is free.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from lab.contract import (
    EDITABLE_BUCKET,
    ENTRY_LOCK,
    ENTRY_MANIFEST,
    ENV_IN_USE,
    ENVS_BUCKET,
    LockKind,
    Phase,
)
from lab.refbuilder import _locks, _scratch, _wheel
from lab.refbuilder._errors import CacheError
from lab.refbuilder._events import Events
from lab.refbuilder._tree import file_digest

T = TypeVar("T")

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

    def env_in_use(self, env_key: str) -> Path:
        """Held shared by every builder that uses the env; a cleaner takes it exclusively."""
        return self.root / ENVS_BUCKET / f"{env_key}{ENV_IN_USE}"

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
        probe = self.root / f".probe-{_scratch.unique()}"
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

    def scratch(self) -> contextlib.AbstractContextManager[Path]:
        """A private directory on the cache's file system, alive while we hold it."""
        return _scratch.scratch(self.root, self.events, self.label)

    def sweep(self) -> list[str]:
        """Remove the scratch dirs of builders that are gone; their names."""
        return _scratch.sweep(self.root, self.events, self.label)

    def discard(self, path: Path) -> None:
        """Remove ``path`` without anyone seeing it half gone."""
        _scratch.discard(self.root, path)

    def clean_entries(self) -> list[str]:
        """Remove every published entry. Readers take no lock and verify what they read, so
        an entry removed while one installs it is a miss for them, never a broken install."""
        removed = []
        for entry in sorted(self.root.glob(f"{EDITABLE_BUCKET}/*/*")):
            if entry.is_dir():
                self.discard(entry)
                removed.append(entry.relative_to(self.root).as_posix())
        return removed

    def clean_envs(self) -> tuple[list[str], list[str]]:
        """Remove the build envs nobody is using: each is moved aside in one rename while its
        use lock is ours, then deleted. What was removed, and what was in use and kept."""
        removed, kept = [], []
        bucket = self.root / ENVS_BUCKET
        for env_dir in sorted(p for p in bucket.glob("*") if p.is_dir()) if bucket.is_dir() else []:
            fd = _locks.try_exclusive(self.env_in_use(env_dir.name))
            if fd is None:
                kept.append(env_dir.name)
                continue
            try:
                self.discard(env_dir)
            finally:
                _locks.release(fd)
            removed.append(env_dir.name)
        return removed, kept

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
                    final.rename(built.parent / f"stale-{_scratch.unique()}")
                outcome = Phase.REPLACED
            try:
                built.rename(final)
            except OSError as exc:
                won = read(final) if exc.errno in (errno.ENOTEMPTY, errno.EEXIST) else None
                if won is not None:
                    if lock is not None:  # held, yet another published under it meanwhile
                        seen = f"{final} was published by another while we held it"
                        _locks.warn_locks_do_not_exclude(self.events, lock.path, seen)
                    return Phase.DROPPED, won
                raise CacheError(f"cannot publish {built} as {final}: {exc.strerror}") from exc
            return outcome, None
