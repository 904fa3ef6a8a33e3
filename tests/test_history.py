from __future__ import annotations

from pathlib import Path

from lab import history
from lab.contract import Clock, Event, LockKind, Op, Phase


def test_what_the_writer_writes_reads_back_the_same(tmp_path: Path) -> None:
    path = tmp_path / history.FILENAME
    wait = Event(
        1.0,
        2.0,
        "runner-1",
        Op.LOCK,
        Phase.WAIT,
        "sdists-v11/editable/k",
        Clock.ARRIVAL,
        data={"mode": "exclusive", "kind": LockKind.ENTRY},
    )
    end = Event(5.0, 6.0, "runner-2", Op.RUN, Phase.END, clock=Clock.ORCHESTRATOR, data={"rc": 0})
    with history.HistoryWriter(path) as write:
        write(wait)
        write(end)
    write(end)  # a runner thread that outlived the run: ignored, never an error
    assert history.read(path) == [wait, end]
    assert '"mode": "exclusive"' in path.read_text().splitlines()[0]
