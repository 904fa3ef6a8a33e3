"""History events: the same schema as the lab's history, stamped where they happen.

CLOCK_MONOTONIC is system-wide on one host, so stamps taken here, in any container, compare
with every other runner's. Events go to stderr as ``@cachelab {json}`` lines, which the lab
reads, and optionally to a JSONL file.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

PREFIX = "@cachelab "


class Events:
    def __init__(self, runner: str, history: Path | None = None, stream: TextIO | None = None):
        self.runner = runner
        self._stream = sys.stderr if stream is None else stream
        self._history = history
        self._lock = threading.Lock()

    def emit(self, op: str, phase: str, key: str | None = None, **data: Any) -> None:
        record: dict[str, Any] = {
            "t_mono": time.monotonic(),
            "t_wall": time.time(),
            "runner": self.runner,
            "op": op,
            "phase": phase,
        }
        if key is not None:
            record["key"] = key
        record.update({k: v for k, v in data.items() if v is not None})
        line = json.dumps(record, sort_keys=True)
        with self._lock:
            self._stream.write(PREFIX + line + "\n")
            self._stream.flush()
            if self._history is not None:
                with self._history.open("a", encoding="utf-8") as f:
                    f.write(line + "\n")
