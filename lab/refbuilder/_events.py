"""The builder's history events, stamped where they happen (``Clock.SOURCE``).

Events go to stderr as contract lines, which the lab reads, and optionally to a JSONL file.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from lab.contract import Event, Op, Phase, event_line, wall_skew


class Events:
    def __init__(self, runner: str, history: Path | None = None, stream: TextIO | None = None):
        self.runner = runner
        self._stream = sys.stderr if stream is None else stream
        self._history = history
        self._lock = threading.Lock()
        self._skew = wall_skew()

    def emit(self, op: Op, phase: Phase, key: str | None = None, **data: Any) -> None:
        event = Event(
            time.monotonic(),
            time.time() + self._skew,
            self.runner,
            op,
            phase,
            key,
            data={k: v for k, v in data.items() if v is not None},
        )
        with self._lock:
            self._stream.write(event_line(event) + "\n")
            self._stream.flush()
            if self._history is not None:
                with self._history.open("a", encoding="utf-8") as f:
                    f.write(event.to_json() + "\n")
