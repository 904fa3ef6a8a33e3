"""The reference builder (``lab.builder``) as the orchestrator drives it: one policy each."""

from __future__ import annotations

import json
from dataclasses import dataclass

from lab.builder._events import PREFIX as EVENT_PREFIX
from lab.builders.base import SYSTEM_PATH
from lab.history import Observation
from lab.runners.base import RunnerPaths


@dataclass(frozen=True)
class ReferenceBuilder:
    policy: str  # narrow, wide, none
    module: str  # imported in the venv afterwards
    freshness: str = "content"
    tree_lock: bool = True

    @property
    def name(self) -> str:
        return self.policy

    def argv(self, paths: RunnerPaths, runner: str) -> list[str]:
        return [
            paths.builder_python,
            "-m",
            "lab.builder",
            "editable",
            paths.src,
            "--cache",
            paths.cache,
            "--venv",
            f"{paths.src}/.venv",
            "--wheelhouse",
            paths.wheelhouse,
            "--python",
            paths.python,
            "--policy",
            self.policy,
            "--import",
            self.module,
            "--runner",
            runner,
            "--freshness",
            self.freshness,
            *([] if self.tree_lock else ["--no-tree-lock"]),
        ]

    def env(self, paths: RunnerPaths) -> dict[str, str]:
        return {
            "PATH": SYSTEM_PATH,
            "HOME": paths.home,
            "TMPDIR": paths.tmp,
            "LANG": "C.UTF-8",
            "PIP_NO_INDEX": "1",  # belt and braces: build envs come from the wheelhouse only
            "PYTHONDONTWRITEBYTECODE": "1",
        }

    def observe(self, line: str) -> Observation | None:
        """The builder stamps its own events; keep its times, not the arrival's."""
        if not line.startswith(EVENT_PREFIX):
            return None
        try:
            record = json.loads(line[len(EVENT_PREFIX) :])
            at = (float(record.pop("t_mono")), float(record.pop("t_wall")))
            op, phase = str(record.pop("op")), str(record.pop("phase"))
        except (ValueError, KeyError):
            return None
        record.pop("runner", None)
        return Observation(op, phase, record.pop("key", None), record, at=at)
