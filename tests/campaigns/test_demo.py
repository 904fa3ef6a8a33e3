"""`cachelab demo --no-pause`: the tour runs unattended and ends with an index of its scenes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from lab.campaigns import demo
from lab.cli import main
from lab.errors import UsageError
from lab.result import RunResult
from lab.run import Lab
from lab.rundir import PAGE, CampaignDir, CampaignKind
from lab.runners.local import LocalBackend
from lab.scenario import Scenario
from lab.toolchain import Toolchain


@pytest.mark.parametrize("lost", [EOFError, RuntimeError])  # stdin at EOF, or closed
def test_a_tour_nobody_can_answer_stops_at_once_and_leaves_nothing(
    tmp_path: Path, lost: type[Exception], lab_toolchain: Toolchain
) -> None:
    def wait(_prompt: str) -> str:
        raise lost

    def compare(_planned: Scenario, _subjects: Sequence[str]) -> list[RunResult]:
        raise AssertionError("nothing runs before the first Enter")

    with pytest.raises(UsageError, match="--no-pause"):
        lab = Lab(lab_toolchain, LocalBackend(), tmp_path)
        demo.tour(lab, compare, pause=True, quick=True, say=lambda _: None, wait=wait)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.integration
def test_the_tour_runs_unattended_and_links_every_scene(tmp_path: Path) -> None:
    argv = ["demo", "--no-pause", "--quick", "--backend", "local", "--runs-dir", str(tmp_path)]
    assert main(argv) == 0
    (index,) = tmp_path.glob(f"demo-*/{PAGE}")
    played = json.loads(CampaignDir(index.parent, CampaignKind.DEMO).record.read_text())["scenes"]
    assert [s["title"] for s in played] == [s.title for s in demo.SCENES]
    for scene in played:
        assert (index.parent / scene["page"]).is_file()
    verdicts = [s["verdicts"] for s in played]
    assert "uv 0.13.9: valid" in verdicts[0] and "narrow builder: valid" in verdicts[0]
    assert "uv 0.13.9: invalid" in verdicts[1] and "narrow builder: valid" in verdicts[1]
    assert "uv 0.13.9: invalid" in verdicts[2] and "narrow builder: valid" in verdicts[2]
    assert verdicts[3] == "none builder: invalid"
    assert [s["surprises"] for s in played] == [[], [], [], []]
    page = index.read_text()
    assert page.count('href="scene-') == len(demo.SCENES)
