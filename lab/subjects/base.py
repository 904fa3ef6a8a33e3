"""What a subject is: the thing that runs in every runner and is measured.

A subject declares what it needs in a runner by name (``Needs``), gives the command and the
environment a runner runs it with, and reads its own output lines into observations.
Nothing else in the lab knows how a subject works.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from lab.contract import Op, Phase
from lab.runners.view import Needs, RunnerView
from lab.vocabulary import StepKind


@dataclass(frozen=True)
class Observation:
    """What a subject's output line says happened, before the lab stamps it with its runner
    (and, unless the subject stamped it itself, with the time the line arrived)."""

    op: Op
    phase: Phase
    key: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    at: tuple[float, float] | None = None  # (mono, wall) where the subject stamped it itself


class Subject(Protocol):
    @property
    def name(self) -> str:
        """As in ``--subjects``: ``uv@0.13.9``, ``narrow``."""

    @property
    def label(self) -> str:
        """For people: ``uv 0.13.9``, ``narrow builder``."""

    @property
    def needs(self) -> Needs: ...

    @property
    def failpoints(self) -> bool:
        """Whether it reads the lab's failpoints (``contract.Failpoint``); the others are
        struck from outside, on their own output."""

    def argv(self, view: RunnerView) -> list[str]: ...

    def env(self, view: RunnerView) -> dict[str, str]: ...

    def observe(self, line: str) -> Observation | None: ...

    def cache_argv(self, kind: StepKind, view: RunnerView) -> list[str] | None:
        """The subject's own command that prunes or cleans the cache (``kind``: ``prune``,
        ``clean``), run by a runner of its own with ``env(view)``; None where it has none."""


def plain_env(view: RunnerView) -> dict[str, str]:
    """A runner's own PATH, HOME and TMPDIR and a UTF-8 locale: nothing of the host's."""
    return {"PATH": view.bin_path, "HOME": view.home, "TMPDIR": view.tmp, "LANG": "C.UTF-8"}
