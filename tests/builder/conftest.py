from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from lab import template
from lab.builder._events import PREFIX, Events
from lab.toolchain import Toolchain

# The interpreter build envs and venvs are made from, as runners pass it.
BASE_PYTHON = Path(getattr(sys, "_base_executable", sys.executable)).resolve()


class RecordedEvents(Events):
    """Events kept in memory as dicts, for assertions."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        super().__init__("test", stream=self.buffer)

    @property
    def records(self) -> list[dict[str, object]]:
        lines = self.buffer.getvalue().splitlines()
        return [json.loads(line.removeprefix(PREFIX)) for line in lines]

    def phases(self, op: str) -> list[str]:
        return [str(r["phase"]) for r in self.records if r["op"] == op]


@pytest.fixture
def events() -> RecordedEvents:
    return RecordedEvents()


@pytest.fixture
def render(tmp_path: Path) -> Callable[..., Path]:
    """Render a template into tmp_path/<name>."""

    def _render(name: str, template_name: str = "hatchling", build_delay: float = 0) -> Path:
        dest = tmp_path / name
        template.get(template_name).render(dest, {"build_delay": build_delay})
        return dest

    return _render


@pytest.fixture
def wheelhouse(lab_toolchain: Toolchain) -> Path:
    return lab_toolchain.wheelhouse
