"""A report's tables, in Markdown: the summary beside its record, and what ``append_section`` adds
to a document."""

from __future__ import annotations

from collections.abc import Sequence

from lab.campaigns.bench._reports import (
    BackendsReport,
    Report,
    SubjectsReport,
    SwarmReport,
    claims,
)
from lab.campaigns.bench._rows import LOCK_FREE_UV, ReuseHit, SubjectRow
from lab.campaigns.bench._workloads import Workload
from lab.campaigns.claims import claims_markdown
from lab.vocabulary import RunStatus


def markdown(report: Report, heading: str = "###") -> str:
    """The report's tables, its sections headed ``heading``."""
    if isinstance(report, SubjectsReport):
        return _subjects(report, heading)
    if isinstance(report, SwarmReport):
        return _swarm(report, heading)
    return _backends(report)


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _corpus(report: SubjectsReport, heading: str) -> list[str]:
    """The corpus of real projects in one table: a row per project and N, a column per
    subject: its makespan over uv's one build, over lock-free uv at the same N, and its
    verdict."""
    subjects = list(dict.fromkeys(r.subject for r in report.rows if r.subject != LOCK_FREE_UV))
    lines = [
        f"{heading} The corpus: real sdists, each the issue's scenario at N runners (one "
        "trial per cell)",
        "",
        "Each cell: makespan / uv's one build (lock-free uv's fastest runner at N = 1) · / "
        "lock-free uv at the same N · the checker's verdict. One build at N: lock-free uv's "
        "fastest runner at that N, N builds sharing the machine.",
        "",
        f"| project | build | N | one build at N | {' | '.join(subjects)} |",
        f"|---|---|---|---|{'---|' * len(subjects)}",
    ]
    for workload in report.workloads:
        mine = [r for r in report.rows if r.workload == workload.name]
        free = {r.runners: r for r in mine if r.subject == LOCK_FREE_UV}
        for n in workload.runner_counts:
            cells = [
                _corpus_cell(r) for s in subjects for r in mine if (r.subject, r.runners) == (s, n)
            ]
            one = free[n].single_build_s if n in free else None
            lines.append(
                f"| {workload.name} | {workload.what} | {n} | {_seconds(one)} | "
                f"{' | '.join(cells)} |"
            )
    return [*lines, ""]


def _corpus_cell(r: SubjectRow) -> str:
    if r.status is not RunStatus.OK or r.makespan_s is None:
        return f"{r.status}, {r.verdict}"
    return f"{_ratio(r.vs_uv_one_build)} · {_ratio(r.vs_lock_free_uv)} · {r.verdict}"


def _subjects(report: SubjectsReport, heading: str) -> str:
    lines = []
    if report.workloads and all(w.project for w in report.workloads):
        lines += _corpus(report, heading)
    else:
        for workload in report.workloads:
            mine = [r for r in report.rows if r.workload == workload.name]
            lines += _workload(workload, mine, heading)
    if report.reuse:
        lines += _reuse(report.reuse, heading)
    if found := claims(report):
        lines += claims_markdown(found, heading)
    lines.append(
        f"{report.backend} backend, all cells in one run, the subjects of one N taking "
        "turns trial by trial. "
        f'"{LOCK_FREE_UV}": uv with the same N runners each at its own path (no shared key, '
        "nobody waits); uv's one build is its fastest runner at the fewest runners. The "
        "reference builder judges freshness by content, uv by ctime (its own rules)."
    )
    return "\n".join(lines)


def _workload(workload: Workload, rows: Sequence[SubjectRow], heading: str) -> list[str]:
    count = workload.trials
    each = f"the median of {count} trials per cell" if count > 1 else "one trial per cell"
    lines = [
        f"{heading} {workload.name}: {workload.what} ({each})",
        "",
        "| N | subject | makespan | / uv's one build | / lock-free uv, same N | / its own "
        "fastest runner | entry lock wait p50 | p99 | entry lock hold p50 | p99 | start-up "
        "p50 | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [_subject_row(r) for r in rows]
    return [*lines, ""]


def _subject_row(r: SubjectRow) -> str:
    if r.status is not RunStatus.OK or r.makespan_s is None:
        return f"| {r.runners} | {r.subject} | {r.status} | | | | | | | | | {r.verdict} |"
    return (
        f"| {r.runners} | {r.subject} | {r.makespan_s:.1f} s | "
        f"{_ratio(r.vs_uv_one_build)} | {_ratio(r.vs_lock_free_uv)} | "
        f"{_ratio(r.ratio)} | {r.wait_p50_s:.2f} s | {r.wait_p99_s:.2f} s | "
        f"{r.hold_p50_ms:.1f} ms | {r.hold_p99_ms:.1f} ms | "
        f"{_seconds(r.start_p50_s)} | {r.verdict} |"
    )


def _reuse(reuse: Sequence[ReuseHit], heading: str) -> list[str]:
    was = {True: "yes", False: "no (built)", None: "n/a (uv reports no lookup)"}
    lines = [
        f"{heading} Reuse hit: a fresh identical checkout on the cache another one filled",
        "",
        "| workload | subject | runner wall | lookup to installed | hit | verdict |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {hit.workload} | {hit.subject} | {_seconds(hit.wall_s)} | "
        f"{_seconds(hit.lookup_to_installed_s)} | {was[hit.hit]} | {hit.verdict} |"
        for hit in reuse
    ]
    return [*lines, ""]


def _swarm(report: SwarmReport, heading: str) -> str:
    lines = [
        "| N | backend | nodes | service or container created to all running | start-up p50 "
        "| makespan | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.runners} | {r.backend} | {r.nodes} | {_seconds(r.all_running_s)} "
        f"| {_seconds(r.start_p50_s)} | {_seconds(r.makespan_s)} | {r.status}, {r.verdict} |"
        for r in report.rows
    ]
    lines += ["", *claims_markdown(claims(report), heading)]
    lines.append(
        f"The issue's scenario ({report.workload.what}), {report.default_policy} (the "
        "default), on one machine: the swarm's nodes are engines the lab started here, so "
        "they share its two cores. Start-up: from a runner's start (its service or container "
        "created) to its first line, stamped where it ran."
    )
    return "\n".join(lines)


def _backends(report: BackendsReport) -> str:
    lines = [
        "| backend | start-up per runner (median) | makespan - build delay (median) |",
        "|---|---|---|",
    ]
    lines += [
        f"| {f.backend} | {f.start_s:.3f} s | {f.overhead_s:.3f} s |"
        for f in (report.local, report.docker)
    ]
    lines += [
        "",
        f"N = {report.runners} runners, build delay {report.build_delay_s} s, "
        f"{report.local.trials} trials each, alternating. Docker adds "
        f"{report.docker_minus_local_start_s} s of start-up per runner; its overhead is "
        f"{report.overhead_ratio_docker_to_local} × the local backend's.",
    ]
    return "\n".join(lines)
