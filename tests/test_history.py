from __future__ import annotations

from pathlib import Path

from lab import history
from lab.history import History, Observation


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    with History(path) as h:
        wait = Observation("lock", "wait", "sdists-v11/editable/k", {"mode": "exclusive"})
        first = h.record("runner-1", wait)
        second = h.record("runner-2", Observation("run", "end", data={"rc": 0}), stamp=(5.0, 6.0))
    assert history.read(path) == [first, second]
    assert second.t_mono == 5.0 and second.t_wall == 6.0
    assert '"mode": "exclusive"' in path.read_text().splitlines()[0]


def test_events_are_stamped_when_recorded(tmp_path: Path) -> None:
    before = history.now()
    with History(tmp_path / "h.jsonl") as h:
        event = h.record("r", Observation("run", "start"))
    after = history.now()
    assert before[0] <= event.t_mono <= after[0]
    assert before[1] <= event.t_wall <= after[1]
