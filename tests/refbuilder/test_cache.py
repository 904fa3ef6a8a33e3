from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.contract import (
    EDITABLE_BUCKET,
    SCRATCH_ALIVE,
    SCRATCH_DIR,
    SCRATCH_GRACE_S,
    SCRATCH_HEARTBEAT_S,
    Op,
    Phase,
)
from lab.refbuilder._cache import Cache, read_entry, write_manifest
from lab.refbuilder._errors import BuildError, CacheError
from lab.refbuilder._tree import file_digest
from tests.refbuilder.conftest import WHEEL, RecordedEvents, wheel_bytes, write_entry


def _entry(path: Path, payload: bytes) -> Path:
    return write_entry(path, payload)


def test_an_entry_is_valid_only_when_manifest_and_wheel_agree(tmp_path: Path) -> None:
    good = _entry(tmp_path / "good", b"wheel")
    assert read_entry(good) is not None
    torn = _entry(tmp_path / "torn", b"wheel")
    (torn / WHEEL).write_bytes((torn / WHEEL).read_bytes()[:50])  # a partial write
    assert read_entry(torn) is None
    assert read_entry(tmp_path / "absent") is None
    lying = tmp_path / "lying"  # manifest and wheel agree, but the wheel is no wheel
    lying.mkdir()
    (lying / WHEEL).write_bytes(b"not a zip")
    write_manifest(lying, {"wheel": WHEEL, "size": 9, "sha256": file_digest(lying / WHEEL)})
    assert read_entry(lying) is None
    bad = _entry(tmp_path / "bad", b"wheel")
    (bad / "entry.json").write_text("{")
    assert read_entry(bad) is None


def test_publish_moves_in_or_drops_ours(tmp_path: Path, events: RecordedEvents) -> None:
    cache = Cache(tmp_path, events)
    final = tmp_path / EDITABLE_BUCKET / "k" / "rev"
    lock = cache.entry_lock("k")
    with cache.scratch() as scratch:
        outcome, _ = cache.publish(_entry(scratch / "out", b"first"), final, read_entry, lock)
    assert outcome is Phase.PUBLISHED
    with cache.scratch() as scratch:
        ours = _entry(scratch / "out", b"second")
        outcome, existing = cache.publish(ours, final, read_entry, lock)
    assert outcome is Phase.DROPPED and existing is not None and existing.path == final
    assert (final / WHEEL).read_bytes() == wheel_bytes(b"first")  # published never change
    assert events.phases(Op.LOCK) == [Phase.REQUEST, Phase.ACQUIRED, Phase.RELEASED] * 2


def test_a_publisher_that_wins_under_our_lock_is_kept_and_told(
    tmp_path: Path, events: RecordedEvents, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where locks do not exclude, another publisher can rename its entry in just before our
    rename: theirs stays, ours is dropped, and we say the lock did not exclude."""
    cache = Cache(tmp_path, events)
    final = tmp_path / EDITABLE_BUCKET / "k" / "rev"
    rename = Path.rename

    def rename_after_theirs(self: Path, target: Path) -> Path:
        if Path(target) == final and not final.exists():
            _entry(final, b"theirs")  # the other publisher, whose lock did not exclude ours
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", rename_after_theirs)
    with cache.scratch() as scratch:
        ours = _entry(scratch / "out", b"ours")
        outcome, existing = cache.publish(ours, final, read_entry, cache.entry_lock("k"))
    assert outcome is Phase.DROPPED and existing is not None
    assert (final / WHEEL).read_bytes() == wheel_bytes(b"theirs")
    (warned,) = [e for e in events.records if e.phase is Phase.WARNED]
    assert "did not exclude" in warned.data["message"] and ".lock" in warned.data["message"]


def test_a_scratch_marker_swept_while_held_is_told(tmp_path: Path, events: RecordedEvents) -> None:
    with Cache(tmp_path, events).scratch() as scratch:
        marker = scratch.with_name(scratch.name + SCRATCH_ALIVE)
        marker.unlink()  # as a sweeper whose lock did not exclude would
        deadline = time.monotonic() + 10 * SCRATCH_HEARTBEAT_S
        while Phase.WARNED not in events.phases(Op.BUILDER) and time.monotonic() < deadline:
            time.sleep(0.05)
    (warned,) = [e for e in events.records if e.phase is Phase.WARNED]
    assert str(marker) in warned.data["message"]


def test_an_invalid_entry_is_set_aside_not_rewritten(
    tmp_path: Path, events: RecordedEvents
) -> None:
    cache = Cache(tmp_path, events)
    final = _entry(tmp_path / EDITABLE_BUCKET / "k" / "rev", b"good")
    (final / WHEEL).write_bytes(b"go")
    with cache.scratch() as scratch:
        outcome, _ = cache.publish(_entry(scratch / "out", b"fresh"), final, read_entry, None)
    assert outcome is Phase.REPLACED and (final / WHEEL).read_bytes() == wheel_bytes(b"fresh")
    assert (
        list((tmp_path / SCRATCH_DIR).iterdir()) == []
    )  # the stale copy went with the scratch dir


def test_scratch_is_removed_with_its_marker(tmp_path: Path, events: RecordedEvents) -> None:
    with Cache(tmp_path, events).scratch() as scratch:
        (scratch / "f").write_text("x")
        assert len(list((tmp_path / SCRATCH_DIR).iterdir())) == 2  # the dir and its .alive marker
    assert list((tmp_path / SCRATCH_DIR).iterdir()) == []


_HOLDER = """
import sys, time
from pathlib import Path
from lab.refbuilder._cache import Cache
from lab.refbuilder._events import Events
with Cache(Path(sys.argv[1]), Events("holder")).scratch() as scratch:
    (scratch / "partial.whl").write_bytes(b"half a wheel")
    print(scratch, flush=True)
    time.sleep(300)
"""


def test_the_sweeper_removes_only_scratch_of_dead_builders(
    tmp_path: Path, events: RecordedEvents
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    dead = Path(proc.stdout.readline().strip())
    cache = Cache(tmp_path, events)
    with cache.scratch() as alive:
        assert cache.sweep() == []  # the holder lives: its flock says so
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        time.sleep(0.05)
        assert dead.exists()
        assert cache.sweep() == []  # its flock is free, but its heartbeat is still fresh
        _past_the_grace(dead)
        assert cache.sweep() == [dead.name]  # lock free, heartbeat old: its builder is gone
        assert not dead.exists() and alive.exists()
    assert events.phases(Op.SWEEP) == [Phase.REMOVED]
    (swept,) = [e for e in events.records if e.op is Op.SWEEP]
    assert swept.key == f"{SCRATCH_DIR}/{dead.name}"
    assert swept.data["owner"]["runner"] == "holder"  # the marker says whose it was


def _past_the_grace(scratch: Path) -> None:
    """Age a scratch dir and its marker beyond the sweepers' grace."""
    old = time.time() - SCRATCH_GRACE_S - 1
    for path in (scratch, scratch.with_name(scratch.name + SCRATCH_ALIVE)):
        if path.exists():
            os.utime(path, (old, old))


def test_a_dir_without_a_marker_goes_once_it_is_old(tmp_path: Path, events: RecordedEvents) -> None:
    """What a child that outlived its builder wrote after a sweep took the builder's dir."""
    orphan = tmp_path / SCRATCH_DIR / "0123"
    orphan.mkdir(parents=True)
    cache = Cache(tmp_path, events)
    assert cache.sweep() == []
    _past_the_grace(orphan)
    assert cache.sweep() == ["0123"] and not orphan.exists()


_CHURN = """
import sys
from pathlib import Path
from lab.refbuilder._cache import Cache
from lab.refbuilder._events import Events
import io
cache = Cache(Path(sys.argv[1]), Events("churn", stream=io.StringIO()))
for _ in range(300):
    with cache.scratch() as scratch:
        (scratch / "f").write_text("x")
        cache.sweep()
        assert (scratch / "f").exists(), "a live scratch dir was swept"
"""


def test_sweepers_never_take_a_live_scratch_dir(tmp_path: Path) -> None:
    """Builders that start while others sweep: no marker is ever caught before it is locked."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHURN, str(tmp_path)], stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert list((tmp_path / SCRATCH_DIR).iterdir()) == []


def test_a_full_or_read_only_cache_is_told_from_a_failed_build(
    tmp_path: Path, events: RecordedEvents
) -> None:
    cache = Cache(tmp_path, events)
    assert cache.unwritable() is None
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert cache.unwritable(full) == os.strerror(errno.ENOSPC)
    # a child's failure carries only its message
    wrapped = CacheError(f"pip exited 1: [Errno 30] {os.strerror(errno.EROFS)}")
    assert cache.unwritable(wrapped) == os.strerror(errno.EROFS)
    assert cache.unwritable(BuildError("setuptools", "build_editable", tmp_path, "bad")) is None


def test_clean_moves_each_entry_aside_and_leaves_nothing_half_gone(
    tmp_path: Path, events: RecordedEvents
) -> None:
    cache = Cache(tmp_path, events)
    for key in ("a", "b"):
        _entry(tmp_path / EDITABLE_BUCKET / key / "rev", key.encode())
    assert cache.clean_entries() == [f"{EDITABLE_BUCKET}/a/rev", f"{EDITABLE_BUCKET}/b/rev"]
    assert list((tmp_path / EDITABLE_BUCKET).glob("*/*")) == []
    assert list((tmp_path / SCRATCH_DIR).iterdir()) == []  # moved aside, then deleted
    cache.discard(tmp_path / "gone")  # someone else took it first: nothing to do
