"""Benchmarks, measured side by side in one run: alternating configurations so that drift on
a noisy machine hits every one of them alike. Figures are ratios and medians, never a single
absolute time."""

from __future__ import annotations

import enum
import json
import shutil
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lab import history, metrics, run, scenario
from lab.campaigns.claims import Claim, any_unmet, claims_markdown, commit
from lab.contract import Event, LockKind, Op, Phase
from lab.errors import LabError
from lab.refbuilder import DEFAULT_POLICY
from lab.result import RunResult, last_run_step, representative
from lab.runners.base import Backend
from lab.runners.docker import DockerBackend
from lab.runners.local import LocalBackend
from lab.toolchain import Toolchain
from lab.vocabulary import RunStatus


class Suite(enum.StrEnum):
    BACKENDS = "backends"  # docker against local
    SUBJECTS = "subjects"  # subjects at N runners
    SWARM = "swarm"  # the default policy at N runners over a test swarm's nodes, and on docker


@dataclass(frozen=True)
class BackendFigures:
    backend: str
    trials: int
    start_s: float  # median, per runner: run start -> its first output line
    overhead_s: float  # median makespan - build delay, with N runners that never wait


def _start_latencies(events: list[Event]) -> list[float]:
    starts = {e.runner: e.t_mono for e in events if e.op is Op.RUN and e.phase is Phase.START}
    return [
        e.t_mono - starts[e.runner]
        for e in events
        if e.op is Op.RUN and e.phase is Phase.OUTPUT and e.runner in starts
    ]


BACKEND_TRIALS = 3
SWARM_RUNNERS = (8, 16, 32, 64)


def swarm_at_scale(
    tc: Toolchain,
    runs_dir: Path,
    swarm_backend: Backend,
    docker_backend: Backend,
    *,
    nodes: int,
    runner_counts: Sequence[int] = SWARM_RUNNERS,
    log: Callable[[str], None] = print,
) -> dict[str, object]:
    """The issue's scenario with the default policy at N runners, over the swarm's nodes and
    on the one engine in turn: the time from the first runner's start (a service created, a
    container created) to every runner running (its first line), the makespan, the verdict."""
    at_commit = commit()
    rows = []
    for n in runner_counts:
        s = _scenario(WORKLOADS[0], str(DEFAULT_POLICY), [f"runners={n}"])
        for backend in (swarm_backend, docker_backend):
            result = run.execute(s, backend, tc, runs_dir)  # a failed run is a row, too
            events = history.read(runs_dir / result.run_id / history.FILENAME)
            starts = _start_latencies(events)
            rows.append(
                {
                    "backend": backend.name,
                    "runners": n,
                    "nodes": nodes if backend is swarm_backend else 1,
                    "all_running_s": round(max(starts), 3) if len(starts) == n else None,
                    "start_p50_s": round(statistics.median(starts), 3) if starts else None,
                    "makespan_s": result.makespan_s,
                    "status": result.status,
                    "verdict": result.verdict,
                    "run_id": result.run_id,
                }
            )
            log(
                f"N={n} {backend.name}: all running after {rows[-1]['all_running_s']} s, "
                f"makespan {result.makespan_s} s, {result.status}, {result.verdict}"
            )
    report: dict[str, Any] = {
        "benchmark": Suite.SWARM,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": at_commit,
        "default_policy": str(DEFAULT_POLICY),
        "workload": asdict(WORKLOADS[0]),
        "rows": rows,
    }
    biggest = max(runner_counts)
    mine = [r for r in rows if r["backend"] == swarm_backend.name and r["runners"] == biggest]
    report["claims"] = [
        asdict(
            Claim(
                f"{biggest} runners over {nodes} nodes complete, judged valid",
                f"{r['status']}, {r['verdict']}",
                r["status"] == RunStatus.OK and r["verdict"] == "valid",
            )
        )
        for r in mine
    ]
    return report


def _swarm_markdown(report: dict[str, Any], heading: str) -> str:
    lines = [
        "| N | backend | nodes | service or container created to all running | start-up p50 "
        "| makespan | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        lines.append(
            f"| {r['runners']} | {r['backend']} | {r['nodes']} | {_seconds(r['all_running_s'])} "
            f"| {_seconds(r['start_p50_s'])} | {_seconds(r['makespan_s'])} | {r['status']}, "
            f"{r['verdict']} |"
        )
    lines += ["", *claims_markdown(report["claims"], heading)]
    lines.append(
        f"The issue's scenario ({report['workload']['what']}), {report['default_policy']} (the "
        "default), on one machine: the swarm's nodes are engines the lab started here, so "
        "they share its two cores. Start-up: from a runner's start (its service or container "
        "created) to its first line, stamped where it ran."
    )
    return "\n".join(lines)


def backends(
    tc: Toolchain,
    runs_dir: Path,
    *,
    repeat: int = BACKEND_TRIALS,
    runners: int = 2,
    build_delay: float = 2.0,
    base_image: str | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, object]:
    """Container start-up and run overhead, docker against local, at N runners."""
    at_commit = commit()  # the code that runs, whatever the checkout becomes meanwhile
    s = scenario.load_named(
        scenario.ISSUE_SCENARIO,
        [f"runners={runners}", f"build_delay={build_delay}", "topology=different-paths"],
    )
    docker_backend = DockerBackend(base_image)
    docker_backend.check()
    candidates: dict[str, Backend] = {"local": LocalBackend(), "docker": docker_backend}
    starts: dict[str, list[float]] = {name: [] for name in candidates}
    overheads: dict[str, list[float]] = {name: [] for name in candidates}
    for trial in range(1, repeat + 1):
        for name, backend in candidates.items():
            result = run.execute(s, backend, tc, runs_dir)
            if result.status is not RunStatus.OK or result.makespan_s is None:
                raise LabError(f"benchmark run {result.run_id} on {name}: {result.status}")
            events = history.read(runs_dir / result.run_id / history.FILENAME)
            starts[name] += _start_latencies(events)
            overheads[name].append(result.makespan_s - build_delay)
            log(f"trial {trial}/{repeat} {name}: makespan {result.makespan_s:.2f} s")
    figures = {
        name: BackendFigures(
            name,
            repeat,
            round(statistics.median(starts[name]), 3),
            round(statistics.median(overheads[name]), 3),
        )
        for name in candidates
    }
    return {
        "benchmark": Suite.BACKENDS,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": at_commit,
        "runners": runners,
        "build_delay_s": build_delay,
        "figures": [asdict(f) for f in figures.values()],
        "docker_minus_local_start_s": round(
            figures["docker"].start_s - figures["local"].start_s, 3
        ),
        "overhead_ratio_docker_to_local": round(
            figures["docker"].overhead_s / figures["local"].overhead_s, 2
        ),
    }


def _entry_lock_keys(events: list[Event]) -> set[str]:
    """The keys of cache-entry locks (uv's editable lock, the reference builder's entry)."""
    return {
        e.key
        for e in events
        if e.op is Op.LOCK and e.key is not None and e.data.get("kind") == LockKind.ENTRY
    }


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# The bar every subject is measured against: uv's own work without a lock, the same N runners
# each at its own path, so that no one shares a key and nobody waits.
LOCK_FREE_UV = "uv, different paths"
# The subjects suite's subjects: uv against every safe policy of the reference builder.
MEASURED = ("uv", "wide", "narrow", "coalesce")


@dataclass(frozen=True)
class Workload:
    """What every runner builds: a template, how long its build sleeps, at which N."""

    name: str
    template: str
    build_delay: float
    runner_counts: tuple[int, ...]
    what: str
    # per cell, each showing its median trial: the sleeping hook's cells move 10-25 % from
    # run to run on two cores, the CPU-bound ones far less, and they take minutes
    trials: int = 1


WORKLOADS = (
    Workload(
        "sleep", "hatchling", 3.0, (1, 2, 4, 8, 16, 32), "hatchling, its hook sleeping 3 s", 3
    ),
    Workload("c-extension", "setuptools-c", 0.0, (1, 2, 4, 8), "setuptools compiling C"),
    Workload("maturin", "maturin", 0.0, (1, 2, 4, 8), "maturin compiling pyo3 with cargo"),
)


def workloads(names: Sequence[str]) -> list[Workload]:
    """The workloads named, in their order; ValueError names what would be one."""
    known = {w.name: w for w in WORKLOADS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown workload {unknown[0]!r}; choose from {', '.join(known)}")
    return [known[n] for n in names]


def _scenario(workload: Workload, subject: str, overrides: Sequence[str]) -> scenario.Scenario:
    return scenario.load_named(
        scenario.ISSUE_SCENARIO,
        [
            f"template={workload.template}",
            f"build_delay={workload.build_delay}",
            f"subject={subject}",
            *overrides,
        ],
    )


def _cell(
    workload: Workload, n: int, label: str, trials: list[RunResult], runs_dir: Path
) -> dict[str, Any]:
    """The row of a cell run ``trials`` times: its median trial's figures (or its first
    failure's), and every trial's makespan."""
    result = representative(trials)
    events = history.read(runs_dir / result.run_id / history.FILENAME)
    entry_keys = _entry_lock_keys(events)
    spans = [s for s in metrics.lock_spans(events) if s.key in entry_keys]
    holds = [s.hold_s for s in spans if s.acquired is not None]
    waits = [s.wait_s for s in spans]
    starts = _start_latencies(events)
    return {
        "workload": workload.name,
        "runners": n,
        "subject": label,
        "ratio": result.ratio,
        "makespan_s": result.makespan_s,
        "single_build_s": result.single_build_s,
        "wait_p50_s": round(_percentile(waits, 0.5), 3),
        "wait_p99_s": round(_percentile(waits, 0.99), 3),
        "hold_p50_ms": round(_percentile(holds, 0.5) * 1000, 1),
        "hold_p99_ms": round(_percentile(holds, 0.99) * 1000, 1),
        "start_p50_s": round(statistics.median(starts), 3) if starts else None,
        "serialized": result.serialized,
        "coalesced": result.coalesced,
        "status": result.status,
        "verdict": result.verdict,
        "run_id": result.run_id,
        "makespans_s": [t.makespan_s for t in trials],
    }


def _reuse_hit(
    tc: Toolchain, runs_dir: Path, backend: Backend, workload: Workload, subject: str
) -> dict[str, Any]:
    """A fresh checkout identical to one already built, on the cache that build filled: its
    runner's wall time and, where the subject reports it, lookup to installed."""
    base = _scenario(workload, subject, ["runners=2"])
    steps = [{"kind": "run", "runners": ["runner-1"]}, {"kind": "run", "runners": ["runner-2"]}]
    s = scenario.from_mapping({**base.model_dump(), "steps": steps}, "the reuse-hit benchmark")
    result = run.execute(s, backend, tc, runs_dir)
    events = history.read(runs_dir / result.run_id / history.FILENAME)
    mine = [e for e in last_run_step(events) if e.runner == "runner-2"]
    looked = [e.t_mono for e in mine if e.op is Op.LOOKUP and e.phase is Phase.START]
    installed = [e.t_mono for e in mine if e.op is Op.INSTALL and e.phase is Phase.END]
    hit = any(e.op is Op.LOOKUP and e.phase is Phase.HIT for e in mine)
    return {
        "workload": workload.name,
        "subject": subject,
        "wall_s": result.makespan_s,
        "hit": hit if looked else None,
        "lookup_to_installed_s": round(installed[-1] - looked[0], 3)
        if looked and installed
        else None,
        "status": result.status,
        "verdict": result.verdict,
        "run_id": result.run_id,
    }


def subjects_at_scale(
    tc: Toolchain,
    runs_dir: Path,
    backend: Backend,
    *,
    subject_names: Sequence[str] = MEASURED,
    chosen: Sequence[Workload] = WORKLOADS,
    trials: int | None = None,
    runner_counts: Sequence[int] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, object]:
    """Every subject at every N of every workload (or at ``runner_counts``), each N beside
    lock-free uv at the same N, then each subject's reuse hit. Each cell runs ``trials``
    times (default: its workload's own), the subjects of one N taking turns trial by trial
    so that those compared are measured in the same minutes. The reference builder's
    policies judge freshness by content (their own rule), uv by its own (ctime): identical
    checkouts are what CI has."""
    at_commit = commit()
    rows = []
    reuse = []
    for workload in chosen:
        for n in runner_counts or workload.runner_counts:
            cells = [
                (LOCK_FREE_UV, "uv", scenario.Topology.DIFFERENT_PATHS),
                *((name, name, scenario.Topology.SAME_PATH) for name in subject_names),
            ]
            done: dict[str, list[RunResult]] = {label: [] for label, _, _ in cells}
            count = trials or workload.trials
            for trial in range(1, count + 1):
                for label, subject, topology in cells:
                    s = _scenario(workload, subject, [f"runners={n}", f"topology={topology}"])
                    result = run.execute(s, backend, tc, runs_dir)  # a failed run is a row, too
                    done[label].append(result)
                    log(
                        f"{workload.name} N={n} {label} ({trial}/{count}): makespan "
                        f"{result.makespan_s} s, {result.status}, {result.verdict}"
                    )
            rows += [_cell(workload, n, label, done[label], runs_dir) for label in done]
        for subject in subject_names:
            reuse.append(_reuse_hit(tc, runs_dir, backend, workload, subject))
            log(f"{workload.name} reuse hit {subject}: {reuse[-1]['wall_s']} s")
    report: dict[str, Any] = {
        "benchmark": Suite.SUBJECTS,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": at_commit,
        "default_policy": str(DEFAULT_POLICY),
        "backend": backend.name,
        "lock_free_label": LOCK_FREE_UV,
        "workloads": [
            asdict(w)
            | {"trials": trials or w.trials, "runner_counts": runner_counts or w.runner_counts}
            for w in chosen
        ],
        "rows": against_uv(rows),
        "reuse": reuse,
    }
    report["claims"] = [asdict(c) for c in claims(report)]
    return report


def against_uv(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row with its makespan over uv's one build (lock-free uv's fastest runner, at the
    fewest runners measured, in the same workload) and over lock-free uv's makespan at the
    same N."""
    ok = [r for r in rows if r["status"] == RunStatus.OK and r["makespan_s"]]
    bars = {(r["workload"], r["runners"]): r for r in ok if r["subject"] == LOCK_FREE_UV}
    fewest: dict[str, int] = {}
    for workload, n in bars:
        fewest[workload] = min(n, fewest.get(workload, n))
    for r in rows:
        workload = r["workload"]
        bar = bars.get((workload, r["runners"]))
        one = bars[(workload, fewest[workload])]["single_build_s"] if workload in fewest else None
        made = r["makespan_s"] if r["status"] == RunStatus.OK else None
        r["vs_uv_one_build"] = round(made / one, 3) if made and one else None
        r["vs_lock_free_uv"] = round(made / bar["makespan_s"], 3) if made and bar else None
    return rows


def _cell_of(
    rows: list[dict[str, Any]], workload: str, subject: str, n: int
) -> dict[str, Any] | None:
    """That cell's row, where it was measured."""
    wanted = (workload, subject, n)
    return next((r for r in rows if (r["workload"], r["subject"], r["runners"]) == wanted), None)


def _held_to(
    claim: str, mine: dict[str, Any], ratio: float | None, limit: float, *, below: bool = False
) -> Claim:
    """``ratio``, ``mine``'s makespan over its bar, at most ``limit`` (``below``: under it).
    Our run failed: not met; the bar's run failed (no ratio): not known."""
    if mine["status"] != RunStatus.OK:
        return Claim(claim, "its run failed", False)
    if ratio is None:
        return Claim(claim, "n/a: the run it is measured against failed", None)
    return Claim(claim, _ratio(ratio), ratio < limit if below else ratio <= limit)


def claims(report: dict[str, Any]) -> list[Claim]:
    """The bars of issue 14, from this run's rows and the ratios ``against_uv`` gave them: the
    default policy as fast as uv's own work without a lock, coalescing below it, the native
    build below uv's, a reuse hit in 0.3 s. A bar whose cells were not measured is left out;
    one whose run failed is not met."""
    rows, found = report["rows"], []
    default = str(report.get("default_policy", DEFAULT_POLICY))
    mine = _cell_of(rows, "sleep", default, 1)
    if mine is not None:
        claim = f"sleep: {default}'s one build ≤ 1.05 × uv's"
        found.append(_held_to(claim, mine, mine["vs_uv_one_build"], 1.05))
    for n in (2, 4, 8, 16):
        mine = _cell_of(rows, "sleep", default, n)
        if mine is not None:
            # over the larger of the two bars: the smaller of the two ratios
            ratios = [mine["vs_uv_one_build"], mine["vs_lock_free_uv"]]
            claim = f"sleep, N={n}: {default} ≤ 1.05 × max(uv's one build, lock-free uv)"
            found.append(_held_to(claim, mine, None if None in ratios else min(ratios), 1.05))
    for n in (8, 16):
        mine = _cell_of(rows, "sleep", "coalesce", n)
        if mine is not None:
            claim = f"sleep, N={n}: coalesce below lock-free uv"
            found.append(_held_to(claim, mine, mine["vs_lock_free_uv"], 1.0, below=True))
    mine = _cell_of(rows, "c-extension", default, 4)
    if mine is not None:
        uv = _cell_of(rows, "c-extension", "uv", 4)
        ok = uv is not None and uv["status"] == RunStatus.OK and mine["makespan_s"]
        ratio = mine["makespan_s"] / uv["makespan_s"] if ok and uv else None
        claim = f"c-extension, N=4: {default} below uv"
        found.append(_held_to(claim, mine, ratio, 1.0, below=True))
    for hit in report.get("reuse", []):
        if hit["subject"] in ("uv", "wide") or hit["workload"] != "sleep":
            continue  # uv rebuilds a fresh checkout (ctime); wide is not held to this
        took = hit["lookup_to_installed_s"]
        claim = f"sleep: {hit['subject']}'s reuse hit ≤ 0.3 s, lookup to installed"
        if hit["status"] != RunStatus.OK or took is None:
            found.append(Claim(claim, "its run failed", False))
        else:
            found.append(Claim(claim, f"{took:.3f} s", took <= 0.3))
    return found


def markdown(report: dict[str, object], heading: str = "###") -> str:
    """The report's tables, its sections headed ``heading`` (the subjects suite's)."""
    if report["benchmark"] == Suite.SUBJECTS:
        return _subjects_markdown(report, heading)
    if report["benchmark"] == Suite.SWARM:
        return _swarm_markdown(report, heading)
    rows = [
        "| backend | start-up per runner (median) | makespan - build delay (median) |",
        "|---|---|---|",
    ]
    figures = report["figures"]
    assert isinstance(figures, list)
    for f in figures:
        rows.append(f"| {f['backend']} | {f['start_s']:.3f} s | {f['overhead_s']:.3f} s |")
    rows.append("")
    rows.append(
        f"N = {report['runners']} runners, build delay {report['build_delay_s']} s, "
        f"{figures[0]['trials']} trials each, alternating. Docker adds "
        f"{report['docker_minus_local_start_s']} s of start-up per runner; its overhead is "
        f"{report['overhead_ratio_docker_to_local']} × the local backend's."
    )
    return "\n".join(rows)


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def _subjects_markdown(report: dict[str, Any], heading: str) -> str:
    lines = []
    for workload in report["workloads"]:
        count = workload.get("trials", 1)
        each = f"the median of {count} trials per cell" if count > 1 else "one trial per cell"
        lines += [
            f"{heading} {workload['name']}: {workload['what']} ({each})",
            "",
            "| N | subject | makespan | / uv's one build | / lock-free uv, same N | / its own "
            "fastest runner | entry lock wait p50 | p99 | entry lock hold p50 | p99 | start-up "
            "p50 | verdict |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in (r for r in report["rows"] if r["workload"] == workload["name"]):
            if r["status"] != RunStatus.OK or r["makespan_s"] is None:
                lines.append(
                    f"| {r['runners']} | {r['subject']} | {r['status']} | | | | | | | | | "
                    f"{r.get('verdict', '')} |"
                )
                continue
            lines.append(
                f"| {r['runners']} | {r['subject']} | {r['makespan_s']:.1f} s | "
                f"{_ratio(r.get('vs_uv_one_build'))} | {_ratio(r.get('vs_lock_free_uv'))} | "
                f"{_ratio(r['ratio'])} | {r['wait_p50_s']:.2f} s | {r['wait_p99_s']:.2f} s | "
                f"{r['hold_p50_ms']:.1f} ms | {r['hold_p99_ms']:.1f} ms | "
                f"{_seconds(r.get('start_p50_s'))} | {r.get('verdict', '')} |"
            )
        lines.append("")
    reuse = report.get("reuse", [])
    if reuse:
        lines += [
            f"{heading} Reuse hit: a fresh identical checkout on the cache another one filled",
            "",
            "| workload | subject | runner wall | lookup to installed | hit | verdict |",
            "|---|---|---|---|---|---|",
        ]
        for hit in reuse:
            was = {True: "yes", False: "no (built)", None: "n/a (uv reports no lookup)"}
            lines.append(
                f"| {hit['workload']} | {hit['subject']} | {_seconds(hit['wall_s'])} | "
                f"{_seconds(hit['lookup_to_installed_s'])} | {was[hit['hit']]} | "
                f"{hit['verdict']} |"
            )
        lines.append("")
    if report.get("claims"):
        lines += claims_markdown(report["claims"], heading)
    lines.append(
        f"{report['backend']} backend, all cells in one run, the subjects of one N taking "
        "turns trial by trial. "
        f'"{LOCK_FREE_UV}": uv with the same N runners each at its own path (no shared key, '
        "nobody waits); uv's one build is its fastest runner at the fewest runners. The "
        "reference builder judges freshness by content, uv by ctime (its own rules)."
    )
    return "\n".join(lines)


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def failed(report: dict[str, object]) -> bool:
    """Whether a run of the suite failed, or a bar it is held to was not met."""
    rows = report.get("rows")
    if not isinstance(rows, list):
        return False
    said = report.get("claims")
    unmet = isinstance(said, list) and any_unmet(said)
    reuse = report.get("reuse")
    runs = [*rows, *(reuse if isinstance(reuse, list) else [])]
    return unmet or any(r["status"] != RunStatus.OK for r in runs)


def record(report: dict[str, object], out: Path, doc: Path) -> Path:
    """Append the run saved in ``out`` to the Markdown file ``doc``: a dated section with its
    tables, and its charts (drawn in ``out`` by its page) copied to ``<doc's dir>/bench/``."""
    stamp = out.name.removeprefix("bench-")
    charts = doc.parent / "bench"
    lines = [
        "",
        f"## `cachelab bench {report['benchmark']}`, {report['when']}, "
        f"commit {report.get('commit', 'unknown')}",
        "",
    ]
    for chart in sorted(out.glob("chart-*.svg")):
        charts.mkdir(parents=True, exist_ok=True)
        target = charts / f"{stamp}-{chart.name.removeprefix('chart-')}"
        shutil.copyfile(chart, target)
        workload = chart.stem.removeprefix("chart-")
        lines += [f"![{workload}: makespan against N]({target.relative_to(doc.parent)})", ""]
    lines += [markdown(report, heading="####"), ""]
    with doc.open("a", encoding="utf-8") as f:
        f.write("\n".join(lines))
    return doc


def save(report: dict[str, object], runs_dir: Path) -> Path:
    out = runs_dir / f"bench-{report['benchmark']}-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True)
    (out / "bench.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / "bench.md").write_text(markdown(report) + "\n", encoding="utf-8")
    return out
