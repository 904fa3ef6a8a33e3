"""A swarm node's clock, measured against the lab's: tasks stamp their lines by their node's
wall clock (``stamp``) and exchange readings with the lab through a directory shared like the
cache; the lab places each stamp on its own clocks, with an error bound the checker widens
every lock span by."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from lab.runners.base import NodeClock

# Where a node's clock could not be measured (the exchange timed out): the lab assumes the
# node's wall clock agrees with its own, to within this.
UNMEASURED_ERROR_S = 1.0
_CLOCK_POLL_S = 0.002


class ClockServer:
    """Answers the tasks' clock exchanges in ``directory``: each ``<x>.ask`` gets an
    ``<x>.reply`` holding the lab's t_mono. It looks every ``_CLOCK_POLL_S``, which the round
    trip, and so the error, includes."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> ClockServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                for entry in os.scandir(self.directory):
                    if entry.name.endswith(".ask"):
                        self._answer(Path(entry.path))
            time.sleep(_CLOCK_POLL_S)

    def _answer(self, ask: Path) -> None:
        t_mono = time.monotonic()
        tmp = ask.with_name("." + ask.name + ".reply.tmp")
        tmp.write_text(f"{t_mono!r}\n")
        tmp.replace(ask.with_suffix(".reply"))
        ask.unlink()


def node_clock(
    node: str, exchanges: Mapping[str, tuple[float, float, float]], wall_minus_mono: float
) -> NodeClock:
    """The node's clock from its exchanges (phase -> the node's wall clock when it asked and
    when it read the reply, the lab's t_mono in between): each bounds the shift by half its
    round trip; two of them also by how much the shift moved between them (drift)."""
    if not exchanges:
        return NodeClock(node, -wall_minus_mono, UNMEASURED_ERROR_S, wall_minus_mono)
    shifts, errors = [], []
    for n1, n2, lab_mono in exchanges.values():
        shifts.append(lab_mono - (n1 + n2) / 2)
        errors.append(max(0.0, n2 - n1) / 2)
    shift = sum(shifts) / len(shifts)
    error = max(errors) + (max(shifts) - min(shifts)) / 2
    return NodeClock(node, shift, error, wall_minus_mono)
