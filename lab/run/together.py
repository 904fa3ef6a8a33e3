"""Runners that run together, in one session of the backend: each starts at its time, each
line it prints is logged, read by the subject and recorded, and each exit is waited for until
the run's deadline."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from lab.contract import CLOCK_ERROR_KEY, Op, Phase, parse_event_line
from lab.nemesis.process import ProcessNemesis
from lab.run.recorder import Recorder, now
from lab.rundir import LogLine, RunnerLog
from lab.runners.base import Backend, LineCallback, RunnerSpec, RunningRunner, Stamp
from lab.subjects import Observation, Subject
from lab.vocabulary import RunStatus


@dataclass(frozen=True)
class Together:
    backend: Backend
    run_id: str
    subject: Subject
    recorder: Recorder
    nemesis: ProcessNemesis | None
    deadline: float  # t_mono when the scenario's timeout ends the run

    def run(self, starts: Sequence[tuple[RunnerSpec, float]], measured: Sequence[str]) -> RunStatus:
        """Start each spec so many seconds after the first, wait for them all; the status
        counts the ``measured`` runners only."""
        logs: list[RunnerLog] = []
        try:
            with self.backend.session(self.run_id) as session:
                handles: dict[str, RunningRunner] = {}
                started = time.monotonic()
                for spec, delay in sorted(starts, key=lambda item: item[1]):
                    time.sleep(max(0.0, started + delay - time.monotonic()))
                    assert spec.log_path is not None
                    log = RunnerLog(spec.log_path)
                    logs.append(log)
                    self.recorder.record(spec.name, Observation(Op.RUN, Phase.START))
                    handles[spec.name] = session.start(spec, self._reader(spec.name, log))
                    if self.nemesis is not None:
                        self.nemesis.start(spec.name, handles[spec.name], self.recorder.record)
                try:
                    codes = self._wait_all(handles)
                finally:
                    if self.nemesis is not None:
                        self.nemesis.stop()  # a paused runner goes on, so that it can stop
        finally:
            for log in logs:
                log.close()
        if codes is None:
            return RunStatus.TIMEOUT
        return RunStatus.OK if all(codes.get(name) == 0 for name in measured) else RunStatus.FAILED

    def _reader(self, runner: str, log: RunnerLog) -> LineCallback:
        """The line callback of one runner: log every line, record what it tells. A line its
        backend stamped where it was produced (another host) is placed on the lab's clocks
        by that node's clock, and so is what the subject stamped itself there."""

        def on_line(stream: str, line: str, stamp: Stamp | None = None) -> None:
            arrived = stamp.clock.place(stamp.node_wall) if stamp else now()
            up = Observation(Op.RUN, Phase.OUTPUT)
            obs = self.subject.observe(line) or _facts(line)
            node = None
            if stamp is not None:
                up, obs = _placed(up, stamp), _placed(obs, stamp) if obs else None
                node = stamp.clock.node
            if log.write(LogLine(arrived[0], stream, line)):
                # the runner is up: start-up overhead ends here
                self.recorder.record(runner, up, arrived, node)
            if obs is not None:
                self.recorder.record(runner, obs, arrived, node)

        return on_line

    def _wait_all(self, handles: dict[str, RunningRunner]) -> dict[str, int | None] | None:
        """Wait for every runner; each exit is recorded by its own thread as it happens.
        Their exit codes, or None where the scenario's timeout ended them."""
        codes: dict[str, int | None] = {}

        def wait_one(name: str, handle: RunningRunner) -> None:
            rc = handle.wait()
            codes[name] = rc
            ended = Observation(Op.RUN, Phase.END, data={"rc": rc, "pid": handle.pid})
            self.recorder.record(name, ended)

        waiters = [
            threading.Thread(target=wait_one, args=item, daemon=True) for item in handles.items()
        ]
        for waiter in waiters:
            waiter.start()
        while any(w.is_alive() for w in waiters):
            if time.monotonic() > self.deadline:
                for name, handle in handles.items():
                    if name not in codes:
                        handle.kill()
                for waiter in waiters:
                    waiter.join()
                return None
            for waiter in waiters:
                waiter.join(timeout=0.1)  # short joins keep Ctrl-C responsive
        return codes


def _facts(line: str) -> Observation | None:
    """The probe's facts, whatever the subject: it stamps them itself."""
    event = parse_event_line(line)
    if event is None or event.op is not Op.FACTS:
        return None
    return Observation(event.op, event.phase, None, event.data, at=(event.t_mono, event.t_wall))


def _placed(obs: Observation, stamp: Stamp) -> Observation:
    """``obs`` from a line that ``stamp`` says its node produced: at the time its subject
    stamped it there (a node's wall clock), else the line's, on the lab's clocks; with how
    far off that can be."""
    clock = stamp.clock
    at = clock.place(obs.at[1] if obs.at else stamp.node_wall)
    data = {**obs.data, CLOCK_ERROR_KEY: round(clock.error_s, 6)}
    return dataclasses.replace(obs, at=at, data=data)
