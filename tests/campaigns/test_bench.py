"""The subjects suite measures every subject against uv's own work without a lock, and says
which of its bars this run met."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lab.campaigns import bench
from lab.report import html
from lab.runners.local import LocalBackend
from lab.toolchain import Toolchain
from lab.vocabulary import RunStatus


def _row(
    n: int, subject: str, makespan: float | None, single: float | None, workload: str = "sleep"
) -> dict[str, Any]:
    return {
        "workload": workload,
        "runners": n,
        "subject": subject,
        "makespan_s": makespan,
        "single_build_s": single,
        "ratio": makespan / single if makespan and single else None,
        "wait_p50_s": 0.0,
        "wait_p99_s": 0.01,
        "hold_p50_ms": 0.1,
        "hold_p99_ms": 0.3,
        "start_p50_s": 0.05,
        "status": RunStatus.OK if makespan else RunStatus.FAILED,
        "verdict": "valid" if makespan else "unknown",
        "run_id": f"run-{workload}-{n}-{subject}",
    }


ROWS = [
    _row(1, bench.LOCK_FREE_UV, 4.0, 4.0),
    _row(1, "narrow", 4.4, 4.4),
    _row(8, bench.LOCK_FREE_UV, 6.0, 5.5),
    _row(8, "uv", 28.0, 4.0),
    _row(8, "narrow", 6.3, 6.0),
    _row(8, "coalesce", 4.5, 4.4),
    _row(8, "wide", None, None),  # a failed run is a row without figures
    {**_row(16, bench.LOCK_FREE_UV, 9.0, 8.0), "status": RunStatus.FAILED},
    _row(16, "narrow", 9.0, 8.5),  # no bar at 16: a failed run is none
    _row(1, bench.LOCK_FREE_UV, 2.0, 2.0, "c-extension"),
    _row(4, "uv", 8.0, 2.0, "c-extension"),
    _row(4, "narrow", 5.0, 4.8, "c-extension"),
]


def _report() -> dict[str, Any]:
    report: dict[str, Any] = {
        "benchmark": bench.Suite.SUBJECTS,
        "when": "now",
        "backend": "local",
        "lock_free_label": bench.LOCK_FREE_UV,
        "default_policy": "narrow",  # the bars hold the default policy of the run
        "workloads": [
            {"name": "sleep", "what": "sleeps", "trials": 3},
            {"name": "c-extension", "what": "compiles"},
        ],
        "rows": bench.against_uv([dict(r) for r in ROWS]),
        "reuse": [
            {
                "workload": "sleep",
                "subject": "narrow",
                "wall_s": 0.5,
                "hit": True,
                "lookup_to_installed_s": 0.21,
                "status": RunStatus.OK,
                "verdict": "valid",
                "run_id": "reuse-narrow",
            },
            {
                "workload": "sleep",
                "subject": "uv",
                "wall_s": 3.9,
                "hit": None,
                "lookup_to_installed_s": None,
                "status": RunStatus.OK,
                "verdict": "valid",
                "run_id": "reuse-uv",
            },
        ],
    }
    report["claims"] = [c.__dict__ for c in bench.claims(report)]
    return report


def test_every_row_is_over_uv_s_one_build_and_lock_free_uv_at_its_n_in_its_workload() -> None:
    rows = _report()["rows"]
    assert [(r["vs_uv_one_build"], r["vs_lock_free_uv"]) for r in rows] == [
        (1.0, 1.0),
        (1.1, 1.1),
        (1.5, 1.0),
        (7.0, 4.667),
        (1.575, 1.05),
        (1.125, 0.75),
        (None, None),
        (None, None),
        (2.25, None),
        (1.0, 1.0),  # the c-extension's own one build
        (4.0, None),
        (2.5, None),
    ]


def test_the_bars_are_computed_from_the_rows_and_a_failed_run_meets_none() -> None:
    found = {c["claim"]: (c["figure"], c["met"]) for c in _report()["claims"]}
    assert found == {
        "sleep: narrow's one build ≤ 1.05 × uv's": ("1.10", False),
        "sleep, N=8: narrow ≤ 1.05 × max(uv's one build, lock-free uv)": ("1.05", True),
        "sleep, N=16: narrow ≤ 1.05 × max(uv's one build, lock-free uv)": (
            "n/a: the run it is measured against failed",
            None,
        ),
        "sleep, N=8: coalesce below lock-free uv": ("0.75", True),
        "c-extension, N=4: narrow below uv": ("0.62", True),
        "sleep: narrow's reuse hit ≤ 0.3 s, lookup to installed": ("0.210 s", True),
    }
    report = _report()
    assert bench.failed(report)  # a bar not met, and a run that failed
    report["rows"] = [r for r in report["rows"] if r["status"] == RunStatus.OK]
    report["claims"] = [c for c in report["claims"] if c["met"] is not False]
    assert not bench.failed(report)


def test_the_tables_and_the_page_with_its_charts(tmp_path: Path) -> None:
    report = _report()
    table = bench.markdown(report)
    assert "### sleep: sleeps (the median of 3 trials per cell)" in table
    assert "### c-extension: compiles (one trial per cell)" in table
    assert "| 8 | narrow | 6.3 s | 1.57 | 1.05 | 1.05 |" in table
    assert "| 8 | wide | failed |" in table and "| 16 | uv, different paths | failed |" in table
    assert "| sleep | uv | 3.90 s | n/a | n/a (uv reports no lookup) | valid |" in table
    assert "| sleep: narrow's one build ≤ 1.05 × uv's | 1.10 | **no** |" in table
    out = tmp_path / "bench-subjects-now"
    out.mkdir()
    (out / "bench.json").write_text(json.dumps(report))
    page = html.render(out).read_text()
    assert page.count('<svg class="curves"') == 2
    chart = (out / "chart-sleep.svg").read_text()
    assert chart.startswith("<svg") and "coalesce" in chart and "<polyline" in chart
    assert "sleep, N=8: coalesce below lock-free uv" in page


def test_a_run_is_recorded_in_a_document_with_its_charts(tmp_path: Path) -> None:
    report = _report()
    out = tmp_path / "runs" / "bench-subjects-20261130-120000"
    out.mkdir(parents=True)
    (out / "bench.json").write_text(json.dumps(report))
    html.render(out)
    doc = tmp_path / "docs" / "benchmarks.md"
    doc.parent.mkdir()
    doc.write_text("# Benchmarks\n")
    bench.record(report, out, doc)
    text = doc.read_text()
    assert text.startswith("# Benchmarks\n\n## `cachelab bench subjects`, now, commit unknown")
    assert "![sleep: makespan against N](bench/subjects-20261130-120000-sleep.svg)" in text
    assert (
        (doc.parent / "bench" / "subjects-20261130-120000-sleep.svg").read_text().startswith("<svg")
    )
    assert "#### sleep: sleeps" in text and "\n### " not in text


@pytest.mark.integration
def test_each_cell_runs_its_trials_and_stands_for_its_median_one(
    tmp_path: Path, local_backend: LocalBackend, lab_toolchain: Toolchain
) -> None:
    tiny = bench.Workload("tiny", "hatchling", 0.2, (1, 2), "hatchling, sleeping 0.2 s", trials=2)
    report: dict[str, Any] = bench.subjects_at_scale(
        lab_toolchain,
        tmp_path,
        local_backend,
        subject_names=["coalesce"],
        chosen=[tiny],
        runner_counts=(2,),  # instead of the workload's own
        log=lambda _m: None,
    )
    assert {r["runners"] for r in report["rows"]} == {2}
    rows = {r["subject"]: r for r in report["rows"]}
    assert set(rows) == {bench.LOCK_FREE_UV, "coalesce"}
    for row in rows.values():
        assert (row["status"], row["verdict"]) == (RunStatus.OK, "valid"), row
        assert len(row["makespans_s"]) == 2
        assert row["makespan_s"] == min(row["makespans_s"])  # the lower median of two trials
        assert (tmp_path / row["run_id"] / "history.jsonl").is_file()
    assert (report["workloads"][0]["trials"], report["workloads"][0]["runner_counts"]) == (2, (2,))
    [hit] = report["reuse"]
    assert hit["hit"] is True and hit["lookup_to_installed_s"] is not None


def test_the_swarm_suite_s_table_bar_and_page(tmp_path: Path) -> None:
    def row(backend: str, n: int, nodes: int, up: float | None, verdict: str) -> dict[str, Any]:
        return {
            "backend": backend,
            "runners": n,
            "nodes": nodes,
            "all_running_s": up,
            "start_p50_s": up and up / 2,
            "makespan_s": up and up + 4,
            "status": RunStatus.OK if up else RunStatus.FAILED,
            "verdict": verdict,
            "run_id": f"run-{backend}-{n}",
        }

    report: dict[str, Any] = {
        "benchmark": bench.Suite.SWARM,
        "when": "now",
        "default_policy": "coalesce",
        "workload": {"what": "hatchling, its hook sleeping 3 s"},
        "rows": [row("swarm", 8, 3, 2.5, "valid"), row("docker", 8, 1, 1.2, "valid")],
        "claims": [{"claim": "8 runners over 3 nodes complete", "figure": "ok", "met": True}],
    }
    table = bench.markdown(report)
    assert "| 8 | swarm | 3 | 2.50 s | 1.25 s | 6.50 s | ok, valid |" in table
    assert "| 8 runners over 3 nodes complete | ok | yes |" in table
    assert not bench.failed(report)
    report["rows"].append(row("swarm", 64, 3, None, "unknown"))
    assert bench.failed(report)  # a run that failed is a row, and the suite fails
    out = tmp_path / "bench-swarm-now"
    out.mkdir()
    (out / "bench.json").write_text(json.dumps(report))
    page = html.render(out).read_text()
    assert "Runners over a swarm" in page and "created to all running" in page
