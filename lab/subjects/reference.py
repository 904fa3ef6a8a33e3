"""The reference builder (``lab.refbuilder``) as a subject: one subject per lock policy.

The builder runs from the ``refbuilder`` resource, a directory holding exactly the builder,
the contract and their few dependencies, with the runner's own interpreter, isolated and
without site-packages (``python -I -S DIR``), so a runner needs no image of ours to run it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lab.contract import parse_event_line
from lab.refbuilder import DEFAULT_LOCK_TIMEOUT_S, Freshness, Policy, Request, editable_argv
from lab.resources import REFBUILDER, WHEELHOUSE
from lab.runners.view import Needs, RunnerView
from lab.subjects.base import Observation, plain_env
from lab.vocabulary import StepKind


@dataclass(frozen=True)
class Reference:
    policy: Policy
    module: str | None  # imported in the venv afterwards, where there is one to import
    freshness: Freshness = Freshness.CONTENT
    tree_lock: bool = True
    lock_timeout: float | None = None  # None: the builder's own default (uv's, 300 s)
    failpoints = True

    @property
    def name(self) -> str:
        return self.policy.value

    @property
    def label(self) -> str:
        return f"{self.policy.value} builder"

    @property
    def needs(self) -> Needs:
        return Needs(resources=frozenset({REFBUILDER, WHEELHOUSE}))

    def request(self, view: RunnerView) -> Request:
        return Request(
            source=Path(view.src),
            cache=Path(view.cache),
            venv=Path(view.src) / ".venv",
            wheelhouse=Path(view.resources[WHEELHOUSE]),
            python=Path(view.python),
            policy=self.policy,
            module=self.module,
            freshness=self.freshness,
            tree_lock=self.tree_lock,
            lock_timeout=self.lock_timeout or DEFAULT_LOCK_TIMEOUT_S,
        )

    def argv(self, view: RunnerView) -> list[str]:
        bundle = view.resources[REFBUILDER]
        return [view.python, "-I", "-S", bundle, *editable_argv(self.request(view), view.runner)]

    def cache_argv(self, kind: StepKind, view: RunnerView) -> list[str] | None:
        command = "sweep" if kind is StepKind.PRUNE else "clean"
        bundle = view.resources[REFBUILDER]
        return [view.python, "-I", "-S", bundle, command, "--cache", view.cache]

    def env(self, view: RunnerView) -> dict[str, str]:
        return plain_env(view) | {"PYTHONDONTWRITEBYTECODE": "1"}

    def observe(self, line: str) -> Observation | None:
        """The builder stamps its own events; keep its times, not the arrival's."""
        event = parse_event_line(line)
        if event is None:
            return None
        return Observation(
            event.op, event.phase, event.key, dict(event.data), at=(event.t_mono, event.t_wall)
        )
