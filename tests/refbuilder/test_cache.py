from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from lab.contract import EDITABLE_BUCKET, SCRATCH_DIR, Op, Phase
from lab.refbuilder._cache import Cache, read_entry, write_manifest
from lab.refbuilder._tree import file_digest
from tests.refbuilder.conftest import RecordedEvents


def _entry(path: Path, payload: bytes) -> Path:
    path.mkdir(parents=True)
    (path / "w.whl").write_bytes(payload)
    write_manifest(
        path, {"wheel": "w.whl", "size": len(payload), "sha256": file_digest(path / "w.whl")}
    )
    return path


def test_an_entry_is_valid_only_when_manifest_and_wheel_agree(tmp_path: Path) -> None:
    good = _entry(tmp_path / "good", b"wheel")
    assert read_entry(good) is not None
    torn = _entry(tmp_path / "torn", b"wheel")
    (torn / "w.whl").write_bytes(b"whe")  # a partial write
    assert read_entry(torn) is None
    assert read_entry(tmp_path / "absent") is None
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
    assert (final / "w.whl").read_bytes() == b"first"  # published entries never change
    assert events.phases(Op.LOCK) == [Phase.REQUEST, Phase.ACQUIRED, Phase.RELEASED] * 2


def test_an_invalid_entry_is_set_aside_not_rewritten(
    tmp_path: Path, events: RecordedEvents
) -> None:
    cache = Cache(tmp_path, events)
    final = _entry(tmp_path / EDITABLE_BUCKET / "k" / "rev", b"good")
    (final / "w.whl").write_bytes(b"go")
    with cache.scratch() as scratch:
        outcome, _ = cache.publish(_entry(scratch / "out", b"fresh"), final, read_entry, None)
    assert outcome is Phase.REPLACED and (final / "w.whl").read_bytes() == b"fresh"
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
        assert cache.sweep() == [dead.name]  # the kernel dropped its flock
        assert not dead.exists() and alive.exists()
    assert events.phases(Op.SWEEP) == [Phase.REMOVED]
    (swept,) = [e for e in events.records if e.op is Op.SWEEP]
    assert swept.key == f"{SCRATCH_DIR}/{dead.name}"


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
