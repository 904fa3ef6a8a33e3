"""The publish protocol under real concurrency: processes racing on one cache entry."""

from __future__ import annotations

import io
import json
import multiprocessing
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lab import metrics
from lab.contract import EDITABLE_BUCKET, SCRATCH_DIR
from lab.refbuilder._cache import Cache, read_entry, write_manifest
from lab.refbuilder._events import Events
from lab.refbuilder._tree import file_digest
from lab.rundir import read_history
from tests.refbuilder.conftest import WHEEL, wheel_bytes, write_entry

_CTX = multiprocessing.get_context("fork")


def _publisher(root: str, index: int, delay: float, barrier: Any, out: Any) -> None:
    cache_root = Path(root) / "cache"
    events = Events(
        f"p{index}", history=Path(root) / f"history-{index}.jsonl", stream=io.StringIO()
    )
    cache = Cache(cache_root, events)
    final = cache.entry_dir("k", "rev")
    with cache.scratch() as scratch:
        built = scratch / "out"
        built.mkdir()
        payload = f"wheel of publisher {index}".encode() * 100
        (built / WHEEL).write_bytes(wheel_bytes(payload))
        size = (built / WHEEL).stat().st_size
        write_manifest(built, {"wheel": WHEEL, "size": size, "sha256": file_digest(built / WHEEL)})
        barrier.wait()
        time.sleep(delay)
        outcome, _ = cache.publish(built, final, read_entry, cache.entry_lock("k"))
        entry = read_entry(final)
        out.put((index, outcome, entry.manifest["sha256"] if entry else None))


@settings(max_examples=12, deadline=None)
@given(
    delays=st.lists(st.floats(min_value=0, max_value=0.02), min_size=2, max_size=5),
    stale=st.sampled_from(["none", "torn", "valid"]),
)
def test_racing_publishers_leave_one_valid_entry_that_everyone_uses(
    delays: list[float], stale: str
) -> None:
    with tempfile.TemporaryDirectory() as root:
        final = Path(root) / "cache" / EDITABLE_BUCKET / "k" / "rev"
        if stale != "none":  # an earlier entry: a torn one (crash mid-write) or a valid one
            write_entry(final, b"earlier")
            if stale == "torn":
                (final / WHEEL).write_bytes(b"earl")
        barrier, out = _CTX.Barrier(len(delays)), _CTX.Queue()
        procs = [
            _CTX.Process(target=_publisher, args=(root, i, d, barrier, out))
            for i, d in enumerate(delays)
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
            assert p.exitcode == 0
        results = [out.get(timeout=5) for _ in procs]
        outcomes = Counter(o for _, o, _ in results)

        final_entry = read_entry(final)
        assert final_entry is not None  # never torn, never missing
        if stale == "valid":
            assert outcomes == Counter({"dropped": len(procs)})
        else:
            won = "replaced" if stale == "torn" else "published"
            assert outcomes == Counter({won: 1, "dropped": len(procs) - 1})
        # everyone ended up with the one entry that is there now
        assert {sha for _, _, sha in results} == {final_entry.manifest["sha256"]}
        assert list((Path(root) / "cache" / SCRATCH_DIR).iterdir()) == []
        # and the entry lock was never held by two publishers at once
        events = [
            e for i in range(len(procs)) for e in read_history(Path(root) / f"history-{i}.jsonl")
        ]
        spans = metrics.lock_spans(events)
        assert len(spans) == len(procs)
        assert metrics.overlapping_holds(spans) == []
        assert json.dumps(sorted(s.runner for s in spans)) == json.dumps(
            sorted(f"p{i}" for i in range(len(procs)))
        )
