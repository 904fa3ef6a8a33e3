from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lab.rundir import RunDir
from tests.conftest import FIXTURES

RUNS = FIXTURES / "runs"


class RunCopy:
    """A recorded run directory, copied so that a test can change one thing in it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.run_dir = RunDir(root)

    def history(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.run_dir.history.read_text().splitlines()]

    def rewrite_history(self, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
        """Apply ``change`` to every event (as a dict); None drops the event."""
        kept = [e for e in map(change, self.history()) if e is not None]
        self.run_dir.history.write_text("".join(json.dumps(e) + "\n" for e in kept))

    def identities(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.run_dir.identities.read_text())
        return data

    def rewrite_identities(self, data: dict[str, Any]) -> None:
        self.run_dir.identities.write_text(json.dumps(data))

    def wheels(self) -> list[Path]:
        return sorted(self.run_dir.cache.rglob("*.whl"))


@pytest.fixture
def recorded(tmp_path: Path) -> Callable[[str], RunCopy]:
    def copy(name: str) -> RunCopy:
        dest = tmp_path / name
        shutil.copytree(RUNS / name, dest)
        return RunCopy(dest)

    return copy
