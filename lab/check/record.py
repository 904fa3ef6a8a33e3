"""A run directory as the checker reads it: nothing else, and no runner's verdict on itself."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from lab import nemesis
from lab.check.oracle import ColdBuild
from lab.check.oracle import load as load_oracle
from lab.contract import Event, Op, Phase
from lab.errors import UsageError
from lab.projects import identity
from lab.rundir import RunDir, read_history, read_log


@dataclass(frozen=True)
class RunRecord:
    run_dir: RunDir
    identities: dict[str, identity.Identity]  # what each runner must find, by runner
    events: list[Event]
    lock_timeout: float | None = None  # what the scenario allowed any wait for a lock
    locks_exclude: bool = True  # what the environment promised (RunDir.faults)
    oracle: dict[str, ColdBuild] = field(default_factory=dict)  # a cold build's, by runner

    @property
    def cache(self) -> Path:
        return self.run_dir.cache

    @property
    def runners(self) -> list[str]:
        """Who is judged: each runner with an identity or a cold build the oracle recorded."""
        return list(dict.fromkeys([*self.identities, *self.oracle]))

    @cached_property
    def ends(self) -> dict[str, float]:
        """When each runner ended (t_mono of its exit)."""
        return {e.runner: e.t_mono for e in self.events if e.op is Op.RUN and e.phase is Phase.END}

    def struck(self, runner: str) -> list[Event]:
        """The faults that struck ``runner`` on purpose (failpoints, the nemesis)."""
        return [e for e in self.events if e.op is Op.FAULT and e.runner == runner]

    @cached_property
    def exits(self) -> dict[str, int | None]:
        """Each runner's exit code; None where the lab killed it (timeout, interrupt)."""
        found: dict[str, int | None] = {}
        for e in self.events:
            if e.op is Op.RUN and e.phase is Phase.END:
                rc = e.data.get("rc")
                found[e.runner] = rc if isinstance(rc, int) else None
        return found

    def facts(self, runner: str) -> dict[str, object] | None:
        """The last facts the probe reported for ``runner``."""
        reported = [
            e.data
            for e in self.events
            if e.op is Op.FACTS and e.phase is Phase.REPORTED and e.runner == runner
        ]
        return reported[-1] if reported else None

    def output(self, runner: str) -> list[str]:
        """The runner's output lines, without the contract's event lines."""
        return [line.text for line in read_log(self.run_dir.log(runner)) if not line.is_event]


def load(path: Path) -> RunRecord:
    """The run at ``path``; UsageError names what is missing where it is not a run directory."""
    run_dir = RunDir(path)
    run_dir.check()
    try:
        identities = identity.load(run_dir.identities)
        events = read_history(run_dir.history)
        setup = json.loads(run_dir.scenario.read_text()) if run_dir.scenario.is_file() else {}
        timeout = setup.get("lock_timeout")
        oracle = load_oracle(run_dir.oracle)
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path}: cannot read its record: {exc}") from exc
    lock_timeout = float(timeout) if timeout else None
    return RunRecord(
        run_dir, identities, events, lock_timeout, nemesis.locks_exclude(run_dir.faults), oracle
    )
