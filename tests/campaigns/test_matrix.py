"""The backend matrix: a reduced one in CI (the full one is `make matrix`), and its judge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab import subjects
from lab.campaigns import matrix
from lab.contract import EDITABLE_BUCKET, SCRATCH_DIR, Clock, Event, Op, Phase
from lab.runners.local import LocalBackend
from lab.toolchain import Toolchain
from lab.vocabulary import RunStatus, Verdict

REDUCED = ("hatchling", "setuptools-c", "maturin")


@pytest.mark.integration
def test_reduced_matrix(
    tmp_path: Path, local_backend: LocalBackend, lab_toolchain: Toolchain
) -> None:
    out, cells = matrix.run(
        lab_toolchain,
        local_backend,
        tmp_path,
        templates=REDUCED,
        build_delay=2.0,
        log=lambda _m: None,
    )
    assert len(cells) == len(REDUCED) * len(subjects.COMPARED) * len(matrix.TOPOLOGIES)
    for cell in cells:
        # valid: every runner's check passed (for native templates it calls compiled code)
        # and no lock was ever held by two runners at once
        assert (cell.status, cell.verdict) == (RunStatus.OK, Verdict.VALID), cell
        if cell.subject == "narrow":
            assert cell.ratio is not None and cell.ratio <= 1.2, cell
            assert cell.longest_hold_s <= 0.05, cell
            assert not cell.serialized, cell
        if cell.subject.startswith("uv") and cell.topology == "same-path":
            assert cell.serialized, cell  # one key for both checkouts: uv #15380
    saved = json.loads((out / "matrix.json").read_text())
    assert len(saved["cells"]) == len(cells)
    table = (out / "matrix.md").read_text()
    for tmpl in REDUCED:
        for topology in matrix.TOPOLOGIES:
            assert f"| {tmpl} | {topology} | ok " in table


def _event(t: float, runner: str, op: Op, phase: Phase, key: str | None = None) -> Event:
    return Event(t, t, runner, op, phase, key, Clock.SOURCE)


def test_the_judge(tmp_path: Path) -> None:
    checks = [_event(9, r, Op.CHECK, Phase.OK) for r in ("runner-1", "runner-2")]
    assert matrix.judge(checks, 2, RunStatus.OK, tmp_path) == (Verdict.VALID, [])
    assert matrix.judge(checks[:1], 2, RunStatus.FAILED, tmp_path) == (
        Verdict.INVALID,
        ["runner-2: no passing install check"],
    )
    key = f"{EDITABLE_BUCKET}/k"
    overlap = [
        _event(1, "runner-1", Op.LOCK, Phase.ACQUIRED, key),
        _event(2, "runner-2", Op.LOCK, Phase.ACQUIRED, key),
        _event(3, "runner-1", Op.LOCK, Phase.RELEASED, key),
        _event(4, "runner-2", Op.LOCK, Phase.RELEASED, key),
    ]
    verdict, reasons = matrix.judge([*overlap, *checks], 2, RunStatus.OK, tmp_path)
    assert verdict is Verdict.INVALID and reasons == [f"runner-1 and runner-2 held {key} at once"]
    (tmp_path / SCRATCH_DIR / "leftover").mkdir(parents=True)
    assert matrix.judge(checks, 2, RunStatus.OK, tmp_path)[1] == [
        "scratch directories left in the cache"
    ]
    assert matrix.judge([], 2, RunStatus.INTERRUPTED, tmp_path)[0] is Verdict.UNKNOWN
