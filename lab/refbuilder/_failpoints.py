"""Failpoints: named places where the builder can be made to fail on purpose, for the lab's
fault campaigns. Off unless ``CACHELAB_FAILPOINTS`` is set (see ``contract.Failpoint``), and
then read once: a point that is not armed costs one dictionary lookup.
"""

from __future__ import annotations

import errno
import os
import signal
import time

from lab.contract import (
    FAILPOINTS_ENV,
    FailpointError,
    FaultAction,
    Op,
    Phase,
    parse_failpoints,
)
from lab.refbuilder._events import Events


def _load() -> tuple[dict[str, tuple[FaultAction, float]], str | None]:
    try:
        return parse_failpoints(os.environ.get(FAILPOINTS_ENV, "")), None
    except FailpointError as exc:
        return {}, str(exc)


_ARMED, _ERROR = _load()


def check_setting() -> None:
    """Raise FailpointError where the setting could not be read (the CLI says so, exit 2)."""
    if _ERROR is not None:
        raise FailpointError(_ERROR)


def hit(point: str, events: Events, qualifier: str | None = None) -> None:
    """Strike if ``point`` (or ``point.qualifier``) is armed; each point strikes once."""
    if not _ARMED:
        return
    name = f"{point}.{qualifier}" if qualifier and f"{point}.{qualifier}" in _ARMED else point
    armed = _ARMED.pop(name, None)
    if armed is None:
        return
    action, seconds = armed
    events.emit(Op.FAULT, Phase.STRUCK, name, action=action, seconds=seconds or None)
    if action is FaultAction.PAUSE:
        time.sleep(seconds)
    elif action is FaultAction.KILL:
        os.kill(os.getpid(), signal.SIGKILL)
    elif action is FaultAction.KILL_GROUP:
        os.killpg(os.getpgid(0), signal.SIGKILL)
    else:
        code = errno.ENOSPC if action is FaultAction.ENOSPC else errno.EROFS
        raise OSError(code, os.strerror(code), f"failpoint {name}")
