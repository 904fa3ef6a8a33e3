from __future__ import annotations

from pathlib import Path

from lab.contract import Clock, Event, LockKind, Op, Phase, event_line
from lab.rundir import HistoryWriter, LogLine, RunDir, RunnerLog, read_history, read_log


def test_what_the_writer_writes_reads_back_the_same(tmp_path: Path) -> None:
    path = RunDir(tmp_path).history
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
    with HistoryWriter(path) as write:
        write(wait)
        write(end)
    write(end)  # a runner thread that outlived the run: ignored, never an error
    assert read_history(path) == [wait, end]
    assert '"mode": "exclusive"' in path.read_text().splitlines()[0]


def test_a_runner_log_line_reads_back_as_it_was_written(tmp_path: Path) -> None:
    path = RunDir(tmp_path).log("runner-1")
    path.parent.mkdir()
    event = Event(1.5, 2.5, "runner-1", Op.RUN, Phase.START)
    lines = [
        LogLine(12.25, "stderr", "Waiting to acquire lock for `/cache/x` at `/cache/x/.lock`"),
        LogLine(12.5, "stdout", ""),
        LogLine(13.0, "stderr", event_line(event)),
    ]
    log = RunnerLog(path)
    assert [log.write(line) for line in lines] == [True, False, False]  # the first is told
    log.close()
    assert log.write(lines[0]) is False  # a reader thread that outlived the run: ignored
    read = read_log(path)
    assert [(line.stream, line.text) for line in read] == [(x.stream, x.text) for x in lines]
    assert [line.t_mono for line in read] == [12.25, 12.5, 13.0]
    assert [line.is_event for line in read] == [False, False, True]
    assert LogLine.parse("not a line of ours") == LogLine(0.0, "", "not a line of ours")
    assert read_log(RunDir(tmp_path).log("nobody")) == []


def test_a_runs_directory_names_each_run_once(tmp_path: Path) -> None:
    made = {RunDir.create(tmp_path, "issue-15380").run_id for _ in range(20)}
    assert len(made) == 20 and all(name.endswith(tuple("0123456789abcdef")) for name in made)
    newest = RunDir(tmp_path / sorted(made)[0])
    newest.point_latest()
    assert RunDir.latest(tmp_path).path.resolve() == newest.path
