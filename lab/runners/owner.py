"""Who made a thing: an orchestrator process, named so that a later one can tell whether it is
gone (its containers and mounts are then leftovers to remove).

The name is host/pid/start time: a PID alone is reused, a PID with its start time is not.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22: start time in clock ticks


def current() -> str:
    """This process, as an owner."""
    pid = os.getpid()
    return f"{socket.gethostname()}/{pid}/{_start_time(pid)}"


def alive(owner: str) -> bool:
    """Whether ``owner`` still runs; another host's owner is not ours to judge (alive)."""
    host, _, rest = owner.partition("/")
    pid, _, started = rest.partition("/")
    if host != socket.gethostname():
        return True
    return pid.isdigit() and _start_time(int(pid)) == started
