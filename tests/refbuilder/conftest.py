from __future__ import annotations

import io
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from lab import template
from lab.contract import Event, Op, Phase, parse_event_line
from lab.refbuilder._events import Events
from lab.toolchain import Toolchain

# The interpreter build envs and venvs are made from, as runners pass it.
BASE_PYTHON = Path(getattr(sys, "_base_executable", sys.executable)).resolve()


class RecordedEvents(Events):
    """The builder's events, kept in memory and read back through the contract."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        super().__init__("test", stream=self.buffer)

    @property
    def records(self) -> list[Event]:
        events = [parse_event_line(line) for line in self.buffer.getvalue().splitlines()]
        assert None not in events, "every line the builder writes is an event"
        return [e for e in events if e is not None]

    def phases(self, op: Op) -> list[Phase]:
        return [e.phase for e in self.records if e.op is op]


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
