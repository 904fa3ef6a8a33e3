"""The benchmarks measure every subject against uv's own work without a lock, say which of
their bars a run met, and keep their reports where the benchmark's page reads them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, cast

import pytest

from lab.campaigns import bench
from lab.contract import Event, Op, Phase
from lab.errors import UsageError
from lab.log import logging_to
from lab.report import html
from lab.result import RunResult
from lab.run import Lab
from lab.rundir import CampaignDir, CampaignKind, RunDir
from lab.runners.base import Backend
from lab.runners.local import LocalBackend
from lab.scenario import Scenario
from lab.toolchain import Toolchain, corpus
from lab.vocabulary import RunStatus, Verdict, runner_names


def _row(
    n: int, subject: str, makespan: float | None, single: float | None, workload: str = "sleep"
) -> bench.SubjectRow:
    return bench.SubjectRow(
        workload=workload,
        runners=n,
        subject=subject,
        ratio=makespan / single if makespan and single else None,
        makespan_s=makespan,
        single_build_s=single,
        wait_p50_s=0.0,
        wait_p99_s=0.01,
        hold_p50_ms=0.1,
        hold_p99_ms=0.3,
        start_p50_s=0.05,
        serialized=False,
        coalesced=False,
        status=RunStatus.OK if makespan else RunStatus.FAILED,
        verdict=Verdict.VALID if makespan else Verdict.UNKNOWN,
        run_id=f"run-{workload}-{n}-{subject}",
        makespans_s=(makespan,),
    )


ROWS = (
    _row(1, bench.LOCK_FREE_UV, 4.0, 4.0),
    _row(1, "narrow", 4.4, 4.4),
    _row(8, bench.LOCK_FREE_UV, 6.0, 5.5),
    _row(8, "uv", 28.0, 4.0),
    _row(8, "narrow", 6.3, 6.0),
    _row(8, "coalesce", 4.5, 4.4),
    _row(8, "wide", None, None),  # a failed run is a row without figures
    dataclasses.replace(_row(16, bench.LOCK_FREE_UV, 9.0, 8.0), status=RunStatus.FAILED),
    _row(16, "narrow", 9.0, 8.5),  # no bar at 16: a failed run is none
    _row(1, bench.LOCK_FREE_UV, 2.0, 2.0, "c-extension"),
    _row(4, "uv", 8.0, 2.0, "c-extension"),
    _row(4, "narrow", 5.0, 4.8, "c-extension"),
)


def _hit(subject: str, wall: float, took: float | None) -> bench.ReuseHit:
    return bench.ReuseHit(
        workload="sleep",
        subject=subject,
        wall_s=wall,
        hit=None if took is None else True,
        lookup_to_installed_s=took,
        status=RunStatus.OK,
        verdict=Verdict.VALID,
        run_id=f"reuse-{subject}",
    )


def _report() -> bench.SubjectsReport:
    return bench.SubjectsReport(
        when="now",
        commit="unknown",
        default_policy="narrow",  # the bars hold the default policy of the run
        backend="local",
        workloads=(
            bench.Workload("sleep", "hatchling", 3.0, (1, 8, 16), "sleeps", trials=3),
            bench.Workload("c-extension", "setuptools-c", 0.0, (1, 4), "compiles"),
        ),
        rows=tuple(bench.against_uv(ROWS)),
        reuse=(_hit("narrow", 0.5, 0.21), _hit("uv", 3.9, None)),
    )


def _swarm_row(backend: str, n: int, nodes: int, up: float | None) -> bench.SwarmRow:
    return bench.SwarmRow(
        backend=backend,
        runners=n,
        nodes=nodes,
        all_running_s=up,
        start_p50_s=up and up / 2,
        makespan_s=up and up + 4,
        status=RunStatus.OK if up else RunStatus.FAILED,
        verdict=Verdict.VALID if up else Verdict.UNKNOWN,
        run_id=f"run-{backend}-{n}",
    )


def _swarm_report(*rows: bench.SwarmRow) -> bench.SwarmReport:
    return bench.SwarmReport(
        when="now",
        commit="unknown",
        default_policy="coalesce",
        workload=bench.WORKLOADS[0],
        rows=rows,
        swarm_backend="swarm",
    )


def _backends_report() -> bench.BackendsReport:
    return bench.BackendsReport(
        when="now",
        commit="unknown",
        runners=2,
        build_delay_s=2.0,
        local=bench.BackendFigures("local", 3, 0.029, 0.913),
        docker=bench.BackendFigures("docker", 3, 0.262, 1.379),
    )


def test_every_row_is_over_uv_s_one_build_and_lock_free_uv_at_its_n_in_its_workload() -> None:
    rows = _report().rows
    assert [(r.vs_uv_one_build, r.vs_lock_free_uv) for r in rows] == [
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
    assert all(r.vs_uv_one_build is None for r in ROWS)  # new rows; the measured ones stay


def test_the_bars_are_computed_from_the_rows_and_a_failed_run_meets_none() -> None:
    report = _report()
    found = {c.claim: (c.figure, c.met) for c in bench.claims(report)}
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
    assert bench.failed(report)  # a bar not met, and a run that failed
    ok = [r for r in report.rows if r.status is RunStatus.OK]
    assert bench.failed(dataclasses.replace(report, rows=tuple(ok)))  # the bar not met
    met = [r for r in ok if (r.subject, r.runners) != ("narrow", 1)]
    assert not bench.failed(dataclasses.replace(report, rows=tuple(met)))
    failed_hit = dataclasses.replace(report.reuse[0], status=RunStatus.FAILED)
    assert bench.failed(dataclasses.replace(report, rows=tuple(met), reuse=(failed_hit,)))


def test_the_tables() -> None:
    table = bench.markdown(_report())
    assert "### sleep: sleeps (the median of 3 trials per cell)" in table
    assert "### c-extension: compiles (one trial per cell)" in table
    assert "| 8 | narrow | 6.3 s | 1.57 | 1.05 | 1.05 |" in table
    assert "| 8 | wide | failed |" in table and "| 16 | uv, different paths | failed |" in table
    assert "| sleep | uv | 3.90 s | n/a | n/a (uv reports no lookup) | valid |" in table
    assert "| sleep: narrow's one build ≤ 1.05 × uv's | 1.10 | **no** |" in table
    backends = bench.markdown(_backends_report())
    assert "| local | 0.029 s | 0.913 s |\n| docker | 0.262 s | 1.379 s |" in backends
    assert (
        "N = 2 runners, build delay 2.0 s, 3 trials each, alternating. Docker adds 0.233 s of "
        "start-up per runner; its overhead is 1.51 × the local backend's."
    ) in backends


# What the benchmark's page and its template read of bench.json: its keys, as they were.
RECORD_KEYS = {
    bench.Suite.SUBJECTS: {
        "benchmark",
        "when",
        "commit",
        "default_policy",
        "backend",
        "lock_free_label",
        "workloads",
        "rows",
        "reuse",
        "claims",
    },
    bench.Suite.SWARM: {
        "benchmark",
        "when",
        "commit",
        "default_policy",
        "workload",
        "rows",
        "claims",
    },
    bench.Suite.BACKENDS: {
        "benchmark",
        "when",
        "commit",
        "runners",
        "build_delay_s",
        "figures",
        "docker_minus_local_start_s",
        "overhead_ratio_docker_to_local",
    },
}
SUBJECT_ROW_KEYS = {
    "workload",
    "runners",
    "subject",
    "ratio",
    "makespan_s",
    "single_build_s",
    "wait_p50_s",
    "wait_p99_s",
    "hold_p50_ms",
    "hold_p99_ms",
    "start_p50_s",
    "serialized",
    "coalesced",
    "status",
    "verdict",
    "run_id",
    "makespans_s",
    "vs_uv_one_build",
    "vs_lock_free_uv",
}
REUSE_KEYS = {
    "workload",
    "subject",
    "wall_s",
    "hit",
    "lookup_to_installed_s",
    "status",
    "verdict",
    "run_id",
}
SWARM_ROW_KEYS = {
    "backend",
    "runners",
    "nodes",
    "all_running_s",
    "start_p50_s",
    "makespan_s",
    "status",
    "verdict",
    "run_id",
}
WORKLOAD_KEYS = {"name", "template", "build_delay", "runner_counts", "what", "trials", "project"}
CLAIM_KEYS = {"claim", "figure", "met"}


def _saved(report: bench.Report, tmp_path: Path) -> tuple[CampaignDir, dict[str, Any]]:
    """The report saved in a campaign directory of its own, its page drawn; its record."""
    out = CampaignDir.create(tmp_path, CampaignKind.BENCH, report.suite)
    bench.save(report, out)
    assert out.summary.read_text() == bench.markdown(report) + "\n"
    html.render_bench(out)
    found = json.loads(out.record.read_text())
    assert set(found) == RECORD_KEYS[report.suite]
    assert found["benchmark"] == report.suite
    return out, found


def test_a_subjects_report_is_recorded_with_the_keys_its_page_reads(tmp_path: Path) -> None:
    report = _report()
    out, found = _saved(report, tmp_path)
    assert found["lock_free_label"] == bench.LOCK_FREE_UV
    assert all(set(w) == WORKLOAD_KEYS for w in found["workloads"])
    assert [set(r) for r in found["rows"]] == [SUBJECT_ROW_KEYS] * len(ROWS)
    assert [set(r) for r in found["reuse"]] == [REUSE_KEYS] * 2
    assert found["claims"] == [dataclasses.asdict(c) for c in bench.claims(report)]
    assert found["rows"][4]["status"] == "ok" and found["rows"][4]["vs_lock_free_uv"] == 1.05
    page = out.page.read_text()
    assert page.count('<svg class="curves"') == 2
    chart = out.chart("sleep").read_text()
    assert chart.startswith("<svg") and "coalesce" in chart and "<polyline" in chart
    assert "sleep, N=8: coalesce below lock-free uv" in page


def test_the_swarm_suite_s_table_bar_and_record(tmp_path: Path) -> None:
    report = _swarm_report(_swarm_row("swarm", 8, 3, 2.5), _swarm_row("docker", 8, 1, 1.2))
    table = bench.markdown(report)
    assert "| 8 | swarm | 3 | 2.50 s | 1.25 s | 6.50 s | ok, valid |" in table
    assert "| 8 runners over 3 nodes complete, judged valid | ok, valid | yes |" in table
    assert not bench.failed(report)
    out, found = _saved(report, tmp_path)
    assert [set(r) for r in found["rows"]] == [SWARM_ROW_KEYS] * 2
    assert set(found["workload"]) == WORKLOAD_KEYS
    assert [set(c) for c in found["claims"]] == [CLAIM_KEYS]
    page = out.page.read_text()
    assert "Runners over a swarm" in page and "created to all running" in page
    # a run that failed is a row, and the suite fails: the bar is now at its N
    worse = _swarm_report(*report.rows, _swarm_row("swarm", 64, 3, None))
    assert [(c.claim, c.met) for c in bench.claims(worse)] == [
        ("64 runners over 3 nodes complete, judged valid", False)
    ]
    assert bench.failed(worse)


def test_a_backends_report_is_recorded_with_the_keys_its_page_reads(tmp_path: Path) -> None:
    report = _backends_report()
    assert bench.claims(report) == [] and not bench.failed(report)
    out, found = _saved(report, tmp_path)
    assert found["figures"] == [
        {"backend": "local", "trials": 3, "start_s": 0.029, "overhead_s": 0.913},
        {"backend": "docker", "trials": 3, "start_s": 0.262, "overhead_s": 1.379},
    ]
    assert (found["docker_minus_local_start_s"], found["overhead_ratio_docker_to_local"]) == (
        0.233,
        1.51,
    )
    assert "docker against local" in out.page.read_text()


def test_a_run_is_recorded_in_a_document_with_its_charts(tmp_path: Path) -> None:
    report = _report()
    out = CampaignDir(tmp_path / "runs" / "bench-subjects-20261130-120000", CampaignKind.BENCH)
    out.path.mkdir(parents=True)
    bench.save(report, out)
    html.render_bench(out)
    doc = tmp_path / "docs" / "benchmarks.md"
    doc.parent.mkdir()
    doc.write_text("# Benchmarks\n")
    assert bench.append_section(report, out, doc) == doc
    text = doc.read_text()
    assert text.startswith("# Benchmarks\n\n## `cachelab bench subjects`, now, commit unknown")
    assert "![sleep: makespan against N](bench/subjects-20261130-120000-sleep.svg)" in text
    assert (
        (doc.parent / "bench" / "subjects-20261130-120000-sleep.svg").read_text().startswith("<svg")
    )
    assert "#### sleep: sleeps" in text and "\n### " not in text


def test_workloads_are_chosen_by_name() -> None:
    assert [w.name for w in bench.workloads(["maturin", "sleep"])] == ["maturin", "sleep"]
    with pytest.raises(ValueError, match="'cmake'; choose from sleep, c-extension, maturin"):
        bench.workloads(["cmake"])


def test_the_corpus_is_one_table_and_each_project_a_cell_scenario(tmp_path: Path) -> None:
    """``make real``: a row per project and N, a column per subject (its makespan over uv's
    one build, over lock-free uv at that N, its verdict); each cell the issue's scenario on
    the project's sdist, as ``cachelab setup --real`` left it."""
    for pin in corpus.pins():
        sdist = corpus.sdist_path(tmp_path, pin)
        sdist.parent.mkdir(parents=True, exist_ok=True)
        sdist.write_bytes(b"")
    found = bench.real_workloads(tmp_path)
    assert len(found) >= 12 and all(w.runner_counts == (1, 2, 4) for w in found)
    attrs = next(w for w in found if w.name == "attrs")
    cell = bench.cell_scenario(attrs, "narrow", ["runners=2"])
    assert cell.project == str(tmp_path / "real" / "attrs-26.1.0.tar.gz")
    assert (cell.subject, cell.runners) == ("narrow", 2)
    rows = [
        _row(1, bench.LOCK_FREE_UV, 3.0, 3.0, "attrs"),
        _row(1, "uv", 3.3, 3.3, "attrs"),
        _row(1, "narrow", 2.7, 2.7, "attrs"),
        _row(2, bench.LOCK_FREE_UV, 3.2, 3.1, "attrs"),
        _row(2, "uv", 6.0, 3.0, "attrs"),
        dataclasses.replace(_row(2, "narrow", None, None, "attrs"), status=RunStatus.FAILED),
    ]
    report = dataclasses.replace(
        _report(),
        workloads=(dataclasses.replace(attrs, runner_counts=(1, 2)),),
        rows=tuple(bench.against_uv(rows)),
        reuse=(),
    )
    table = [line for line in bench.markdown(report).splitlines() if line.startswith("| attrs")]
    assert table == [
        "| attrs | hatchling with hatch-vcs and hatch-fancy-pypi-readme | 1 | 3.00 s | "
        "1.10 · 1.10 · valid | 0.90 · 0.90 · valid |",
        "| attrs | hatchling with hatch-vcs and hatch-fancy-pypi-readme | 2 | 3.10 s | "
        "2.00 · 1.88 · valid | failed, unknown |",
    ]
    (tmp_path / "real" / "attrs-26.1.0.tar.gz").unlink()
    with pytest.raises(UsageError, match="run `cachelab setup --real`"):
        bench.real_workloads(tmp_path)


@dataclasses.dataclass(frozen=True)
class _Scripted(Lab):
    """A lab whose runs are made up, in its runs directory: every runner's first line comes
    0.25 s after its start, a reuse hit takes 30 ms, and a subject's trials each take 0.1 s
    longer than the one before."""

    took: dict[str, float] = dataclasses.field(default_factory=dict)  # per subject
    made: list[str] = dataclasses.field(default_factory=list)  # the subjects run, in turn

    def run(self, scenario: Scenario, **_: Any) -> RunResult:
        run_dir = RunDir.create(self.runs_dir, scenario.name)
        self.made.append(scenario.subject)
        events = []
        for i, name in enumerate(runner_names(scenario.runners)):
            events += [
                Event(i, 0.0, name, Op.RUN, Phase.START),
                Event(i + 0.25, 0.0, name, Op.RUN, Phase.OUTPUT),
            ]
        if len(scenario.steps) == 2:  # the reuse hit's
            events += [
                Event(10.0, 0.0, "runner-2", Op.LOOKUP, Phase.START),
                Event(10.01, 0.0, "runner-2", Op.LOOKUP, Phase.HIT),
                Event(10.03, 0.0, "runner-2", Op.INSTALL, Phase.END),
            ]
        run_dir.history.write_text("".join(e.to_json() + "\n" for e in events))
        makespan = self.took[scenario.subject] + 0.1 * self.made.count(scenario.subject)
        return RunResult(
            run_id=run_dir.run_id,
            scenario=scenario.name,
            status=RunStatus.OK,
            backend=self.backend.name,
            subject=scenario.subject,
            subject_label=scenario.subject,
            topology=scenario.topology,
            build_delay_s=scenario.build_delay,
            runners=[],
            single_build_s=1.0,
            makespan_s=makespan,
            ratio=makespan,
            longest_wait=None,
            verdict=Verdict.VALID,
        )


@dataclasses.dataclass(frozen=True)
class _Named:
    """A backend as far as a scripted lab looks: its name."""

    name: str


def _scripted(tmp_path: Path, backend: str, **took: float) -> _Scripted:
    named = cast("Backend", _Named(backend))
    return _Scripted(Toolchain(tmp_path / "toolchain"), named, tmp_path / "runs", took)


def test_the_subjects_suite_runs_its_cells_in_the_lab_it_is_given(tmp_path: Path) -> None:
    lab = _scripted(tmp_path, "local", uv=4.0, coalesce=2.0)
    tiny = bench.Workload("tiny", "hatchling", 0.2, (1, 2), "sleeping 0.2 s", trials=2)
    said: list[str] = []
    with logging_to(said.append):
        report = bench.subjects(lab, subject_names=["coalesce"], chosen=[tiny], runner_counts=[2])
    assert [(r.subject, r.makespans_s, r.makespan_s) for r in report.rows] == [
        (bench.LOCK_FREE_UV, (4.1, 4.2), 4.1),  # the lower median of two trials
        ("coalesce", (2.1, 2.2), 2.1),
    ]
    assert [(r.start_p50_s, r.vs_lock_free_uv) for r in report.rows] == [(0.25, 1.0), (0.25, 0.512)]
    [hit] = report.reuse
    assert (hit.subject, hit.hit, hit.lookup_to_installed_s) == ("coalesce", True, 0.03)
    assert lab.made == ["uv", "coalesce", "uv", "coalesce", "coalesce"]  # trial by trial
    ran = {p.name for p in lab.runs_dir.iterdir() if p.is_dir()}
    assert {*(r.run_id for r in report.rows), hit.run_id} <= ran and len(ran) == 5
    assert (report.backend, report.workloads[0].runner_counts) == ("local", (2,))
    assert len(said) == 5 and said[-1] == "tiny reuse hit coalesce: 2.3 s"


def test_the_swarm_suite_takes_turns_over_the_swarm_and_one_engine(tmp_path: Path) -> None:
    lab = _scripted(tmp_path, "swarm", coalesce=5.0)
    docker = cast("Backend", _Named("docker"))
    with logging_to(lambda _m: None):
        report = bench.swarm(lab, docker, nodes=3, runner_counts=(2, 4))
    assert [(r.backend, r.runners, r.nodes, r.all_running_s) for r in report.rows] == [
        ("swarm", 2, 3, 0.25),
        ("docker", 2, 1, 0.25),
        ("swarm", 4, 3, 0.25),
        ("docker", 4, 1, 0.25),
    ]
    assert [(c.claim, c.met) for c in bench.claims(report)] == [
        ("4 runners over 3 nodes complete, judged valid", True)
    ]


@pytest.mark.integration
def test_each_cell_runs_its_trials_and_stands_for_its_median_one(
    tmp_path: Path, local_backend: LocalBackend, lab_toolchain: Toolchain
) -> None:
    tiny = bench.Workload("tiny", "hatchling", 0.2, (1, 2), "hatchling, sleeping 0.2 s", trials=2)
    report = bench.subjects(
        Lab(lab_toolchain, local_backend, tmp_path),
        subject_names=["coalesce"],
        chosen=[tiny],
        runner_counts=(2,),  # instead of the workload's own
    )
    assert {r.runners for r in report.rows} == {2}
    rows = {r.subject: r for r in report.rows}
    assert set(rows) == {bench.LOCK_FREE_UV, "coalesce"}
    for row in rows.values():
        assert (row.status, row.verdict) == (RunStatus.OK, Verdict.VALID), row
        assert len(row.makespans_s) == 2
        assert row.makespan_s == min(t for t in row.makespans_s if t)  # the lower median of two
        assert RunDir(tmp_path / row.run_id).history.is_file()
    assert (report.workloads[0].trials, report.workloads[0].runner_counts) == (2, (2,))
    [hit] = report.reuse
    assert hit.hit is True and hit.lookup_to_installed_s is not None
