"""Scratch dirs: alive while their builder is, swept once it is gone, and only then."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lab.contract import SCRATCH_ALIVE, SCRATCH_DIR, SCRATCH_GRACE_S, SCRATCH_HEARTBEAT_S, Op, Phase
from lab.refbuilder._cache import Cache
from tests.refbuilder.conftest import RecordedEvents


def test_a_scratch_marker_swept_while_held_is_told(tmp_path: Path, events: RecordedEvents) -> None:
    with Cache(tmp_path, events).scratch() as scratch:
        marker = scratch.with_name(scratch.name + SCRATCH_ALIVE)
        marker.unlink()  # as a sweeper whose lock did not exclude would
        deadline = time.monotonic() + 10 * SCRATCH_HEARTBEAT_S
        while Phase.WARNED not in events.phases(Op.BUILDER) and time.monotonic() < deadline:
            time.sleep(0.05)
    (warned,) = [e for e in events.records if e.phase is Phase.WARNED]
    assert str(marker) in warned.data["message"]


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
