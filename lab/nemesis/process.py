"""Process faults for any subject: a runner killed or paused, struck a while after an event of
its own output, so that uv (which has no failpoints) can be struck where it matters: after its
"Acquired" line, say, while it holds the editable lock.

The nemesis is a subscriber of the run: it sees every event as it is published, arms a timer
on the trigger, and strikes through the runner's handle (SIGKILL or SIGSTOP/SIGCONT of its
process group; a container's kill or pause). Every strike is recorded in the history as a
``fault``/``struck`` event stamped by the orchestrator.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from lab.contract import Event, FaultAction, Op, Phase
from lab.nemesis import Strike
from lab.runners.base import RunningRunner
from lab.subjects import Observation

Record = Callable[[str, Observation], None]


class ProcessNemesis:
    def __init__(self, strikes: Sequence[Strike]) -> None:
        self._waiting = list(strikes)  # not yet triggered
        self._handles: dict[str, RunningRunner] = {}
        self._record: Record | None = None
        self._timers: list[threading.Timer] = []
        self._paused: set[str] = set()
        self._lock = threading.Lock()
        self._stopped = False

    def start(self, runner: str, handle: RunningRunner, record: Record) -> None:
        with self._lock:
            self._handles[runner] = handle
            self._record = record

    def __call__(self, event: Event) -> None:
        with self._lock:
            fired = [
                s
                for s in self._waiting
                if s.runner in (None, event.runner) and s.after == (event.op, event.phase)
            ]
            for strike in fired:
                self._waiting.remove(strike)
                args = (strike, event.runner)
                timer = threading.Timer(strike.delay_s, self._strike, args=args)
                timer.daemon = True
                self._timers.append(timer)
                timer.start()

    def _strike(self, strike: Strike, runner: str) -> None:
        with self._lock:
            handle, record = self._handles.get(runner), self._record
            if self._stopped or handle is None or record is None:
                return
            data = {
                "action": strike.action,
                "after": f"{strike.after[0]}/{strike.after[1]}",
                "delay_s": strike.delay_s,
            }
            if strike.action is FaultAction.PAUSE:
                data["seconds"] = strike.pause_s
                self._paused.add(runner)
        record(runner, Observation(Op.FAULT, Phase.STRUCK, "nemesis", data))
        if strike.action is FaultAction.KILL:
            handle.kill()
        elif strike.action is FaultAction.PAUSE:
            handle.pause()
            timer = threading.Timer(strike.pause_s, self._resume, args=(runner,))
            timer.daemon = True
            with self._lock:
                self._timers.append(timer)
            timer.start()

    def _resume(self, runner: str) -> None:
        with self._lock:
            handle = self._handles.get(runner)
            was_paused = runner in self._paused
            self._paused.discard(runner)
        if handle is not None and was_paused:
            handle.resume()

    def stop(self) -> None:
        """No more strikes; every paused runner goes on (so that it can be stopped)."""
        with self._lock:
            self._stopped = True
            timers, paused = list(self._timers), list(self._paused)
        for timer in timers:
            timer.cancel()
        for runner in paused:
            self._resume(runner)
