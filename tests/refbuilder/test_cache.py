from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from lab.contract import EDITABLE_BUCKET, ENVS_BUCKET, SCRATCH_DIR, Op, Phase
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


def test_nothing_in_use_means_nothing_kept(tmp_path: Path, events: RecordedEvents) -> None:
    cache = Cache(tmp_path, events)
    (tmp_path / ENVS_BUCKET / "abc").mkdir(parents=True)
    assert cache.clean_envs() == (["abc"], [])
