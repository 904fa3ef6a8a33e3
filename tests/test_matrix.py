"""The backend matrix: a reduced one in CI (the full one is `make matrix`), and its judge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab import matrix, scenario
from lab.history import CHECK, LOCK, Event
from lab.runners.local import LocalBackend
from lab.toolchain import Toolchain

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
    assert len(cells) == len(REDUCED) * len(scenario.COMPARED_BUILDERS) * len(matrix.TOPOLOGIES)
    for cell in cells:
        # valid: every runner's check passed (for native templates it calls compiled code)
        # and no lock was ever held by two runners at once
        assert (cell.status, cell.verdict) == ("ok", "valid"), cell
        if cell.builder == "narrow":
            assert cell.ratio is not None and cell.ratio <= 1.2, cell
            assert cell.longest_hold_s <= 0.05, cell
        if cell.builder == "uv" and cell.topology == "same-path":
            assert cell.serialized, cell  # one key for both checkouts: uv #15380
    saved = json.loads((out / "matrix.json").read_text())
    assert len(saved["cells"]) == len(cells)
    table = (out / "matrix.md").read_text()
    for tmpl in REDUCED:
        for topology in matrix.TOPOLOGIES:
            assert f"| {tmpl} | {topology} | ok " in table


def _event(t: float, runner: str, op: str, phase: str, key: str | None = None) -> Event:
    return Event(t, t, runner, op, phase, key, {})


def test_the_judge(tmp_path: Path) -> None:
    checks = [_event(9, r, CHECK, "ok") for r in ("runner-1", "runner-2")]
    assert matrix.judge(checks, 2, "ok", tmp_path) == ("valid", [])
    assert matrix.judge(checks[:1], 2, "failed", tmp_path) == (
        "invalid",
        ["runner-2: no passing install check"],
    )
    overlap = [
        _event(1, "runner-1", LOCK, "acquired", "editable-v1/k"),
        _event(2, "runner-2", LOCK, "acquired", "editable-v1/k"),
        _event(3, "runner-1", LOCK, "released", "editable-v1/k"),
        _event(4, "runner-2", LOCK, "released", "editable-v1/k"),
    ]
    verdict, reasons = matrix.judge([*overlap, *checks], 2, "ok", tmp_path)
    assert verdict == "invalid" and reasons == ["runner-1 and runner-2 held editable-v1/k at once"]
    (tmp_path / "tmp" / "leftover").mkdir(parents=True)
    assert matrix.judge(checks, 2, "ok", tmp_path)[1] == ["scratch directories left in the cache"]
    assert matrix.judge([], 2, "interrupted", tmp_path)[0] == "unknown"
