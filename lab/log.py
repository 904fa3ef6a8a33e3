"""Where the orchestrator's progress lines go: one context-local sink, as pypa/build keeps its
logger (``build._ctx.LOGGER``), so that no signature carries a logger.

    log("building the offline wheelhouse")   # to stderr, unless someone said otherwise
    with logging_to(console_line):           # a command sends its lines to its console
        ...
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from contextvars import ContextVar

Sink = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


SINK: ContextVar[Sink] = ContextVar("SINK", default=_stderr)


def log(message: str) -> None:
    """One line of progress, for people."""
    SINK.get()(message)


@contextlib.contextmanager
def logging_to(sink: Sink) -> Iterator[None]:
    """Send the lines logged in this context (this thread's, or this task's) to ``sink``."""
    token = SINK.set(sink)
    try:
        yield
    finally:
        SINK.reset(token)
