"""The history of a run: one ``contract.Event`` per line of ``history.jsonl``.

Runners only append (through the run, which stamps what they print); checkers and reports
read. ``t_mono`` is CLOCK_MONOTONIC, which is system-wide on one host, so events of runners in
different namespaces or containers compare.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TextIO

from lab.contract import Event

FILENAME = "history.jsonl"


class HistoryWriter:
    """A run's subscriber that appends every event to the file, flushed line by line."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._file: TextIO = path.open("a", encoding="utf-8")

    def __call__(self, event: Event) -> None:
        with self._lock:
            if self._file.closed:  # a runner thread that outlived an interrupted run
                return
            self._file.write(event.to_json() + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def __enter__(self) -> HistoryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read(path: Path) -> list[Event]:
    with path.open(encoding="utf-8") as f:
        return [Event.from_json(line) for line in f if line.strip()]
