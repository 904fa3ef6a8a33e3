"""The subjects suite measures every subject against uv's own work without a lock."""

from __future__ import annotations

from typing import Any

from lab.campaigns import bench
from lab.vocabulary import RunStatus


def _row(n: int, subject: str, makespan: float | None, single: float | None) -> dict[str, Any]:
    return {
        "runners": n,
        "subject": subject,
        "makespan_s": makespan,
        "single_build_s": single,
        "ratio": makespan / single if makespan and single else None,
        "longest_wait_s": 0.0,
        "hold_p50_ms": 0.1,
        "hold_p95_ms": 0.2,
        "hold_max_ms": 0.3,
        "status": RunStatus.OK if makespan else RunStatus.FAILED,
    }


def test_every_row_is_over_uv_s_one_build_and_lock_free_uv_at_its_n() -> None:
    rows = bench.against_uv(
        [
            _row(1, bench.LOCK_FREE_UV, 4.0, 4.0),
            _row(1, "narrow", 4.4, 4.4),
            _row(8, bench.LOCK_FREE_UV, 6.0, 5.5),
            _row(8, "uv", 28.0, 4.0),
            _row(8, "narrow", 6.3, 6.0),
            _row(8, "wide", None, None),  # a failed run is a row without figures
            {**_row(16, bench.LOCK_FREE_UV, 9.0, 8.0), "status": RunStatus.FAILED},
            _row(16, "narrow", 9.0, 8.5),  # no bar at 16: a failed run is none
        ]
    )
    assert [(r["vs_uv_one_build"], r["vs_lock_free_uv"]) for r in rows] == [
        (1.0, 1.0),
        (1.1, 1.1),
        (1.5, 1.0),
        (7.0, 4.667),
        (1.575, 1.05),
        (None, None),
        (None, None),
        (2.25, None),
    ]
    table = bench.markdown(
        {"benchmark": bench.Suite.SUBJECTS, "backend": "local", "build_delay_s": 3, "rows": rows}
    )
    assert "| 8 | narrow | 6.3 s | 1.57 | 1.05 | 1.05 |" in table
    assert "| 8 | wide | failed |" in table and "| 16 | uv, different paths | failed |" in table
