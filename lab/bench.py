"""Benchmarks, measured side by side in one run: alternating configurations so that drift on
a noisy machine hits every one of them alike. Figures are ratios and medians, never a single
absolute time."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from lab import history, orchestrator, scenario
from lab.history import RUN
from lab.runners.base import Backend
from lab.runners.docker import DockerBackend
from lab.runners.local import LocalBackend
from lab.toolchain import Toolchain

SCENARIOS_DIR = Path(__file__).resolve().parent.parent / "scenarios"


@dataclass(frozen=True)
class BackendFigures:
    backend: str
    trials: int
    start_s: float  # median, per runner: run start -> its first output line
    overhead_s: float  # median makespan - build delay, with N runners that never wait


def _start_latencies(events: list[history.Event]) -> list[float]:
    starts = {e.runner: e.t_mono for e in events if e.op == RUN and e.phase == "start"}
    return [
        e.t_mono - starts[e.runner]
        for e in events
        if e.op == RUN and e.phase == "output" and e.runner in starts
    ]


def backends(
    tc: Toolchain,
    runs_dir: Path,
    *,
    repeat: int = 3,
    runners: int = 2,
    build_delay: float = 2.0,
    log: Callable[[str], None] = print,
) -> dict[str, object]:
    """Container start-up and run overhead, docker against local, at N runners."""
    s = scenario.load(
        SCENARIOS_DIR / "issue-15380.toml",
        [f"runners={runners}", f"build_delay={build_delay}", "topology=different-paths"],
    )
    docker_backend = DockerBackend(tc)
    docker_backend.check()
    candidates: dict[str, Backend] = {"local": LocalBackend(tc), "docker": docker_backend}
    starts: dict[str, list[float]] = {name: [] for name in candidates}
    overheads: dict[str, list[float]] = {name: [] for name in candidates}
    for trial in range(1, repeat + 1):
        for name, backend in candidates.items():
            result = orchestrator.run(s, backend, tc, runs_dir)
            if result.status != "ok" or result.makespan_s is None:
                raise RuntimeError(f"benchmark run {result.run_id} on {name}: {result.status}")
            events = history.read(runs_dir / result.run_id / "history.jsonl")
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
        "benchmark": "backends",
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


def markdown(report: dict[str, object]) -> str:
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


def save(report: dict[str, object], runs_dir: Path) -> Path:
    out = runs_dir / f"bench-{report['benchmark']}-{time.strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True)
    (out / "bench.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "bench.md").write_text(markdown(report) + "\n")
    return out
