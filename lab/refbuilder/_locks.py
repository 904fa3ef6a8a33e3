"""Locks that report themselves: request, wait (only when contended), acquired, released;
and a warning where one is seen not to exclude another holder."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import filelock

from lab.contract import Failpoint, LockKind, Op, Phase
from lab.refbuilder import _failpoints
from lab.refbuilder._errors import CacheError, LockTimeout
from lab.refbuilder._events import Events

# filelock polls a non-blocking flock; a short interval keeps hand-overs quick.
_POLL_S = 0.005


def _lock(path: Path) -> filelock.FileLock:
    # No soft fallback: where flock does not work (some network file systems) a marker file
    # cannot tell a dead holder from a live one across containers. Fail loudly instead.
    return filelock.FileLock(path, poll_interval=_POLL_S, fallback_to_soft=False)


def _holder_file(path: Path) -> Path:
    return path.with_name(path.name + ".holder")


def _holder(path: Path) -> str:
    """Who said they held ``path`` last, for a timeout's message (best effort)."""
    try:
        holder = json.loads(_holder_file(path).read_text())
        since = time.strftime("%H:%M:%S", time.localtime(float(holder["since"])))
        return f"held by {holder['runner']} (pid {holder['pid']} on {holder['host']}) since {since}"
    except (OSError, ValueError, KeyError, TypeError):
        return "its holder unknown"


@contextmanager
def held(
    path: Path, key: str, kind: LockKind, events: Events, timeout: float | None = None
) -> Iterator[bool]:
    """Hold the exclusive lock ``path`` and report it; wait ``timeout`` seconds at most (None:
    for ever), then LockTimeout names the lock, its kind and who holds it. Yields whether it
    had to wait for another holder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = _lock(path)
    events.emit(Op.LOCK, Phase.REQUEST, key, kind=kind, lock=str(path))
    waited = False
    try:
        try:
            lock.acquire(blocking=False)
        except filelock.Timeout:
            waited = True
            events.emit(Op.LOCK, Phase.WAIT, key, kind=kind, lock=str(path))
            lock.acquire(timeout=-1 if timeout is None else timeout)
    except filelock.Timeout:
        events.emit(Op.LOCK, Phase.TIMEOUT, key, kind=kind, lock=str(path), timeout_s=timeout)
        raise LockTimeout(
            f"timed out after {timeout:g} s waiting for the {kind} lock {path}, {_holder(path)}"
        ) from None
    except OSError as exc:
        raise CacheError(f"cannot lock {path}: {exc}") from exc
    events.emit(Op.LOCK, Phase.ACQUIRED, key, kind=kind)
    # Who holds it, for a waiter's timeout (best effort); not in a source tree, which is the
    # project's own (the file would show in its `git status`).
    with contextlib.suppress(OSError):
        if kind is not LockKind.TREE:
            _holder_file(path).write_text(
                json.dumps(
                    {
                        "runner": events.runner,
                        "pid": os.getpid(),
                        "host": os.uname().nodename,
                        "since": time.time(),
                    }
                )
            )
    try:
        _failpoints.hit(Failpoint.LOCK_ACQUIRED, events, kind)
        yield waited
    finally:
        # Stamped while still held: a recorded hold always lies inside the real one, so the
        # next holder's "acquired" can never seem to come first.
        events.emit(Op.LOCK, Phase.RELEASED, key, kind=kind, lock=str(path))
        lock.release()


def try_hold(path: Path) -> filelock.FileLock | None:
    """The lock if it is free right now, else None (no events: used by the sweeper)."""
    lock = _lock(path)
    try:
        lock.acquire(blocking=False)
    except filelock.Timeout:
        return None
    return lock


def hold_shared(path: Path, timeout: float | None) -> int:
    """A shared flock on ``path``, made if missing: "in use", as many may say at once. Held
    until ``release`` or the process ends; waits (no longer than ``timeout``) only
    while a cleaner holds it exclusively, for the moment it takes to move a thing aside."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if deadline is not None and time.monotonic() > deadline:
                os.close(fd)
                raise LockTimeout(f"timed out after {timeout:g} s waiting to use {path}") from None
            time.sleep(_POLL_S)


def release(fd: int) -> None:
    """Let go of a lock ``hold_shared`` or ``try_exclusive`` gave."""
    os.close(fd)  # closing the only descriptor drops the flock


def try_exclusive(path: Path) -> int | None:
    """An exclusive flock on ``path`` if nobody holds it in any way right now, else None."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def warn_locks_do_not_exclude(events: Events, lock: Path, seen: str) -> None:
    """Say, once per sighting, that a lock we held did not exclude another holder."""
    message = (
        f"the lock {lock} did not exclude another holder ({seen}): locks on this file system "
        "do not exclude (a network or FUSE file system?); entries stay correct, work is repeated"
    )
    events.emit(Op.BUILDER, Phase.WARNED, message=message)
    print(f"warning: {message}", file=sys.stderr)
