"""What a builder gives the orchestrator: the command a runner runs, its environment, and
a reader that turns output lines into history observations."""

from __future__ import annotations

from typing import Protocol

from lab.history import Observation
from lab.runners.base import RunnerPaths

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Builder(Protocol):
    @property
    def name(self) -> str: ...

    def argv(self, paths: RunnerPaths, runner: str) -> list[str]: ...

    def env(self, paths: RunnerPaths) -> dict[str, str]: ...

    def observe(self, line: str) -> Observation | None: ...
