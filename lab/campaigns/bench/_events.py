"""What a run's history says that a benchmark measures: start-up, cache-entry locks."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from pathlib import Path

from lab.contract import Event, LockKind, Op, Phase
from lab.result import RunResult
from lab.rundir import RunDir, read_history


def events_of(runs_dir: Path, result: RunResult) -> list[Event]:
    """The history of a run in ``runs_dir``."""
    return read_history(RunDir(runs_dir / result.run_id).history)


def start_latencies(events: Sequence[Event]) -> list[float]:
    """Per runner, from its run's start to its first output line."""
    starts = {e.runner: e.t_mono for e in events if e.op is Op.RUN and e.phase is Phase.START}
    return [
        e.t_mono - starts[e.runner]
        for e in events
        if e.op is Op.RUN and e.phase is Phase.OUTPUT and e.runner in starts
    ]


def entry_lock_keys(events: Iterable[Event]) -> set[str]:
    """The keys of cache-entry locks (uv's editable lock, the reference builder's entry)."""
    return {
        e.key
        for e in events
        if e.op is Op.LOCK and e.key is not None and e.data.get("kind") == LockKind.ENTRY
    }


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q`` quantile; 0 where nothing was measured (no lock, no wait)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def median_s(values: Sequence[float]) -> float | None:
    """The median in seconds, to the millisecond; None where nothing was measured."""
    return round(statistics.median(values), 3) if values else None
