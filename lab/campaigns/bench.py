"""Benchmarks, measured side by side in one run: alternating configurations so that drift on
a noisy machine hits every one of them alike. Figures are ratios and medians, never a single
absolute time."""

from __future__ import annotations

import enum
import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lab import history, metrics, run, scenario, subjects
from lab.contract import Event, LockKind, Op, Phase
from lab.errors import LabError
from lab.runners.base import Backend
from lab.runners.docker import DockerBackend
from lab.runners.local import LocalBackend
from lab.toolchain import Toolchain
from lab.vocabulary import RunStatus


class Suite(enum.StrEnum):
    BACKENDS = "backends"  # docker against local
    SUBJECTS = "subjects"  # subjects at N runners


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


def backends(
    tc: Toolchain,
    runs_dir: Path,
    *,
    repeat: int = 3,
    runners: int = 2,
    build_delay: float = 2.0,
    base_image: str | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, object]:
    """Container start-up and run overhead, docker against local, at N runners."""
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


def subjects_at_scale(
    tc: Toolchain,
    runs_dir: Path,
    backend: Backend,
    *,
    subject_names: Sequence[str] = subjects.COMPARED,
    runner_counts: tuple[int, ...] = (1, 2, 4, 8, 16),
    build_delay: float = 3.0,
    log: Callable[[str], None] = print,
) -> dict[str, object]:
    """uv against the reference builder's wide and narrow policies at N runners, each N
    beside lock-free uv at the same N.

    Every subject rebuilds in every checkout (``freshness=ctime``, uv's rule), so the only
    difference between wide and narrow is how long they lock.
    """
    rows = []
    for n in runner_counts:
        for label, subject, topology in [
            (LOCK_FREE_UV, "uv", scenario.Topology.DIFFERENT_PATHS),
            *((name, name, scenario.Topology.SAME_PATH) for name in subject_names),
        ]:
            s = scenario.load_named(
                scenario.ISSUE_SCENARIO,
                [
                    f"runners={n}",
                    f"build_delay={build_delay}",
                    f"subject={subject}",
                    f"topology={topology}",
                    "freshness=ctime",
                ],
            )
            result = run.execute(s, backend, tc, runs_dir)  # a failed run is a row, too
            events = history.read(runs_dir / result.run_id / history.FILENAME)
            entry_keys = _entry_lock_keys(events)
            spans = [s for s in metrics.lock_spans(events) if s.key in entry_keys]
            holds = [s.hold_s for s in spans if s.acquired is not None]
            waits = [s.wait_s for s in spans]
            rows.append(
                {
                    "runners": n,
                    "subject": label,
                    "ratio": result.ratio,
                    "makespan_s": result.makespan_s,
                    "single_build_s": result.single_build_s,
                    "longest_wait_s": round(max(waits, default=0.0), 3),
                    "hold_p50_ms": round(_percentile(holds, 0.5) * 1000, 1),
                    "hold_p95_ms": round(_percentile(holds, 0.95) * 1000, 1),
                    "hold_max_ms": round(max(holds, default=0.0) * 1000, 1),
                    "status": result.status,
                    "verdict": result.verdict,
                    "run_id": result.run_id,
                }
            )
            log(f"N={n} {label}: makespan {result.makespan_s} s, ratio {result.ratio}")
    return {
        "benchmark": Suite.SUBJECTS,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "backend": backend.name,
        "build_delay_s": build_delay,
        "rows": against_uv(rows),
    }


def against_uv(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row with its makespan over uv's one build (lock-free uv's fastest runner, at the
    fewest runners measured) and over lock-free uv's makespan at the same N."""
    ok = [r for r in rows if r["status"] == RunStatus.OK and r["makespan_s"]]
    bars = {r["runners"]: r for r in ok if r["subject"] == LOCK_FREE_UV}
    one_build = bars[min(bars)]["single_build_s"] if bars else None
    for r in rows:
        bar = bars.get(r["runners"])
        made = r["makespan_s"] if r["status"] == RunStatus.OK else None
        r["vs_uv_one_build"] = round(made / one_build, 3) if made and one_build else None
        r["vs_lock_free_uv"] = round(made / bar["makespan_s"], 3) if made and bar else None
    return rows


def markdown(report: dict[str, object]) -> str:
    if report["benchmark"] is Suite.SUBJECTS:
        return _subjects_markdown(report)
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


def _subjects_markdown(report: dict[str, object]) -> str:
    rows = report["rows"]
    assert isinstance(rows, list)
    lines = [
        "| N | subject | makespan | / uv's one build | / lock-free uv, same N | / its own fastest "
        "runner | longest entry lock wait | entry lock hold p50 | p95 | max |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["status"] != RunStatus.OK or r["makespan_s"] is None:
            lines.append(f"| {r['runners']} | {r['subject']} | {r['status']} | | | | | | | |")
            continue
        one, free = r.get("vs_uv_one_build"), r.get("vs_lock_free_uv")
        lines.append(
            f"| {r['runners']} | {r['subject']} | {r['makespan_s']:.1f} s | {_ratio(one)} | "
            f"{_ratio(free)} | {_ratio(r['ratio'])} | {r['longest_wait_s']:.2f} s | "
            f"{r['hold_p50_ms']:.1f} ms | {r['hold_p95_ms']:.1f} ms | {r['hold_max_ms']:.1f} ms |"
        )
    lines.append("")
    lines.append(
        f"{report['backend']} backend, build delay {report['build_delay_s']} s, every checkout "
        "rebuilds (uv's ctime freshness for every subject), one run per cell, all cells in one "
        f'run. "{LOCK_FREE_UV}": uv with the same N runners each at its own path (no shared '
        "key, nobody waits); uv's one build is its fastest runner at the fewest runners."
    )
    return "\n".join(lines)


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def save(report: dict[str, object], runs_dir: Path) -> Path:
    out = runs_dir / f"bench-{report['benchmark']}-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True)
    (out / "bench.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "bench.md").write_text(markdown(report) + "\n")
    return out
