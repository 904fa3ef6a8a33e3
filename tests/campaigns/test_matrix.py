"""The backend matrix: a reduced one in CI (the full one is `make matrix`), and its judge."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from lab import subjects
from lab.campaigns import matrix
from lab.run import Lab
from lab.runners.local import LocalBackend
from lab.toolchain import Toolchain
from lab.vocabulary import RunStatus, Topology, Verdict

# maturin builds for minutes on two cores: test_frontend and the catalog cover it
REDUCED = ("hatchling", "setuptools-c", "inplace")


@pytest.mark.integration
def test_reduced_matrix(
    tmp_path: Path, local_backend: LocalBackend, lab_toolchain: Toolchain
) -> None:
    lab = Lab(lab_toolchain, local_backend, tmp_path)
    out, found = matrix.run(lab, templates=REDUCED, build_delay=2.0)
    cells = found.cells
    assert len(cells) == len(REDUCED) * len(subjects.COMPARED) * len(matrix.TOPOLOGIES)
    for cell in cells:
        # valid: every runner's check passed (for native templates it calls compiled code)
        # and no lock was ever held by two runners at once
        assert (cell.status, cell.verdict) == (RunStatus.OK, Verdict.VALID), cell
        if cell.subject in ("narrow", "coalesce"):
            assert cell.ratio is not None and cell.ratio <= 1.2, cell
            assert cell.longest_hold_s <= 0.05, cell
            assert not cell.serialized, cell
        if cell.subject.startswith("uv") and cell.topology == "same-path":
            assert cell.serialized, cell  # one key for both checkouts: uv #15380
    saved = json.loads(out.record.read_text())
    assert len(saved["cells"]) == len(cells)
    table = out.summary.read_text()
    for tmpl in REDUCED:
        for topology in matrix.TOPOLOGIES:
            assert f"| {tmpl} | {topology} | ok " in table


def _cell(subject: str, **changes: object) -> matrix.Cell:
    cell = matrix.Cell(
        template="hatchling",
        subject=subject,
        topology=Topology.SAME_PATH,
        status=RunStatus.OK,
        ratio=1.02,
        longest_wait_s=0.0,
        longest_hold_s=0.0007,
        serialized=False,
        coalesced=False,
        verdict=Verdict.VALID,
        reasons=[],
        run_id="r",
    )
    return dataclasses.replace(cell, **changes)  # type: ignore[arg-type]


def test_the_table_tells_serialized_coalesced_and_invalid_apart() -> None:
    cells = [
        _cell("uv", ratio=1.96, longest_wait_s=10.2, serialized=True, makespan_s=8.04),
        _cell("wide", ratio=1.03, longest_wait_s=5.2, coalesced=True),
        _cell("narrow", verdict=Verdict.INVALID, reasons=["runner-1: wrong version"]),
        _cell("none", status=None, verdict=Verdict.UNKNOWN),
    ]
    found = matrix.Matrix("now", "abc", "local", 2.0, 3, "coalesce", cells)
    table = matrix.markdown(found).splitlines()
    assert table[0] == "| template | topology | uv | wide | narrow | none |"
    assert table[2] == (
        "| hatchling | same-path | ok 1.96× (8.0 s), wait 10.2 s, valid | ok 1.03×, coalesced "
        "5.2 s, valid | ok 1.02×, hold 0.7 ms, invalid | **error** (unknown) |"
    )
    assert "the median of 3 trials per cell" in table[-1]


def test_the_bar_holds_the_default_policy_to_uv_row_by_row() -> None:
    cells = [
        _cell("uv", makespan_s=4.0),
        _cell("coalesce", makespan_s=4.1),  # 1.025: met
        _cell("narrow", makespan_s=9.0),  # not the default: not held to it
        _cell("uv", template="flit-core", makespan_s=4.0),
        _cell("coalesce", template="flit-core", makespan_s=4.2),  # 1.05: not met
        _cell("uv", template="inplace", status=RunStatus.FAILED, makespan_s=None),
        _cell("coalesce", template="inplace", makespan_s=4.0),  # nothing to hold it to
        _cell("uv", template="pdm-backend", makespan_s=4.0),
        _cell("coalesce", template="pdm-backend", status=RunStatus.FAILED),  # ours failed
        _cell("narrow", template="maturin", makespan_s=30.0),  # no default, no uv: no bar
    ]
    found = {c.claim.split(",")[0]: (c.figure, c.met) for c in matrix.bars(cells, "coalesce")}
    assert found == {
        "hatchling": ("1.02", True),
        "flit-core": ("1.05", False),
        "inplace": ("n/a: uv's run failed", None),
        "pdm-backend": ("its run failed", False),
    }
