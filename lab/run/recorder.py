"""A run's events: stamped, kept, and published to its subscribers in the order the history
records them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from lab.contract import Clock, Event
from lab.subjects import Observation

Subscriber = Callable[[Event], None]


def now() -> tuple[float, float]:
    return time.monotonic(), time.time()


class Recorder:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._events: list[Event] = []
        self._failed: dict[Subscriber, str] = {}
        self._lock = threading.Lock()

    def subscribe(self, subscriber: Subscriber, *, first: bool = False) -> None:
        """Call ``subscriber`` with every event, in the order the history records them
        (``first``: before every other subscriber).

        Subscribers are called on the runners' reader threads, one event at a time: they must
        be quick, and one that raises is dropped (``failures`` says so) rather than stopping
        a runner's output."""
        if first:
            self._subscribers.insert(0, subscriber)
        else:
            self._subscribers.append(subscriber)

    def record(
        self,
        runner: str,
        obs: Observation,
        arrived: tuple[float, float] | None = None,
        node: str | None = None,
    ) -> None:
        """Stamp what a runner's output said (or what the lab saw) and publish it. The
        runner is the one whose output it was, whatever the line claimed; ``node``: the
        host it ran on, where that is not the lab's."""
        if obs.at is not None:
            (t_mono, t_wall), clock = obs.at, Clock.SOURCE
        elif arrived is not None:
            (t_mono, t_wall), clock = arrived, Clock.ARRIVAL
        else:
            (t_mono, t_wall), clock = now(), Clock.ORCHESTRATOR
        data = dict(obs.data)
        event = Event(t_mono, t_wall, runner, obs.op, obs.phase, obs.key, clock, node, data)
        with self._lock:
            self._events.append(event)
            for subscriber in self._subscribers:
                if subscriber in self._failed:
                    continue
                try:
                    subscriber(event)
                except Exception as exc:
                    self._failed[subscriber] = f"{subscriber!r} on {event.op}/{event.phase}: {exc}"

    def events(self) -> list[Event]:
        with self._lock:
            return list(self._events)

    def failures(self) -> list[str]:
        """What went wrong in the subscribers that were dropped."""
        with self._lock:
            return list(self._failed.values())
