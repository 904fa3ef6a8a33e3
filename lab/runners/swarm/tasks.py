"""One runner as a swarm task: its service's log read on a thread, its lines handed on
(stamped where they were produced) once its last line says it exited, or once it was killed."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import docker
import docker.errors
import requests.exceptions
from docker.models.containers import Container
from docker.models.services import Service

from lab.errors import LabError
from lab.runners.base import LineCallback, Stamp
from lab.runners.swarm.clock import node_clock
from lab.runners.swarm.stamp import MARK

_SERVICE_LABEL = "com.docker.swarm.service.id"
_ENDED = {"complete", "failed", "shutdown", "rejected", "orphaned", "remove"}
_REJECTIONS = 3  # a task rejected this often (a mount missing on its node, say) is a failure
_POLL_TASK_S = 2.0  # how often a waiting runner asks the manager about its task
# Its task ended: this long for the last log lines (late, in batches, on a loaded manager),
# then the runner ends without them, and says so.
_LAST_LINES_S = 30.0
KILLED = 137  # as a container's exit code: SIGKILL


@dataclass(frozen=True)
class SwarmNode:
    node_id: str
    name: str  # node-1 on the test swarm, else the node's hostname
    engine: docker.DockerClient | None  # the node's own engine, where the lab can reach it


class SwarmRunner:
    """One runner's service: its log stream read on a thread, its lines handed on (stamped)
    once its last line says it exited, or once it was killed."""

    def __init__(self, name: str, service: Service, node: SwarmNode, on_line: LineCallback) -> None:
        self.name = name
        self.pid: int | None = None
        self.node = node
        self._service = service
        self._on_line = on_line
        self._exchanges: dict[str, tuple[float, float, float]] = {}
        # (stream, the node's wall clock where the task stamped it, else None, text)
        self._lines: list[tuple[str, float | None, str]] = []
        self._delivered = threading.Lock()
        self._done = threading.Event()
        self.rc: int | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        pending = b""
        with contextlib.suppress(docker.errors.APIError, requests.exceptions.RequestException):
            logs: Iterator[bytes] = self._service.logs(follow=True, stdout=True, stderr=True)
            for chunk in logs:
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    if self._take(line.decode("utf-8", "replace")):
                        return
                if self._done.is_set():
                    return  # killed, or given up on: what comes now is not delivered
        self._finish(KILLED, "its service went away before its last line")

    def _take(self, line: str) -> bool:
        """Take one line of the stamper; True at its last."""
        mark, _, rest = line.partition(" ")
        if mark != MARK:
            self._lines.append(("stderr", None, line))  # not the stamper's: it failed
            return False
        what, _, rest = rest.partition(" ")
        if what == "line":
            stream, stamp, text = ([*rest.split(" ", 2), "", ""])[:3]
            with contextlib.suppress(ValueError):
                self._lines.append((stream, float(stamp), text))
        elif what == "clock":
            phase, *numbers = rest.split()
            with contextlib.suppress(ValueError):
                n1, n2, lab_mono = map(float, numbers)
                self._exchanges[phase] = (n1, n2, lab_mono)
        elif what == "exit":
            with contextlib.suppress(ValueError):
                self._finish(int(rest))
                return True
        return False

    def _finish(self, rc: int | None, why_cut_short: str = "") -> None:
        """Hand every line on, placed by the node's clock as measured, once."""
        with self._delivered:
            if self._done.is_set():
                return
            if why_cut_short:
                self._lines.append(("stderr", None, f"cachelab: {self.name}: {why_cut_short}"))
            clock = node_clock(self.node.name, self._exchanges, time.time() - time.monotonic())
            for stream, node_wall, text in self._lines:
                stamp = Stamp(node_wall, clock) if node_wall is not None else None
                self._on_line(stream, text, stamp)
            self.rc = rc
            self._done.set()

    def _task_ended(self) -> tuple[int | None, str] | None:
        """The exit code and error of the service's task, once swarm says it ended (or the
        service is gone)."""
        try:
            tasks = self._service.tasks()  # type: ignore[no-untyped-call]
        except docker.errors.NotFound:
            return KILLED, "its service was removed"
        except (docker.errors.APIError, requests.exceptions.RequestException):
            return None
        rejected = [t for t in tasks if t["Status"]["State"] == "rejected"]
        if len(rejected) >= _REJECTIONS:
            return 125, str(rejected[-1]["Status"].get("Err", "rejected"))
        ended = [t for t in tasks if t["Status"]["State"] in _ENDED - {"rejected"}]
        if not ended:
            return None
        last = ended[-1]["Status"]
        return last.get("ContainerStatus", {}).get("ExitCode"), str(last.get("Err", ""))

    def wait(self, timeout: float | None = None) -> int | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        ended_at: float | None = None
        while not self._done.wait(_POLL_TASK_S):
            if deadline is not None and time.monotonic() >= deadline:
                return None
            ended = self._task_ended()
            if ended is None:
                continue
            ended_at = ended_at or time.monotonic()
            if time.monotonic() - ended_at > _LAST_LINES_S:
                rc, err = ended
                why = f"its task ended ({err or 'no error'}) but its last lines never came"
                self._finish(rc if rc is not None else 125, why)
        return self.rc

    def kill(self) -> None:
        with contextlib.suppress(docker.errors.APIError, requests.exceptions.RequestException):
            # its task is stopped: SIGTERM to the group, then SIGKILL
            self._service.remove()  # type: ignore[no-untyped-call]
        self._finish(KILLED)

    def _container(self) -> Container:
        if self.node.engine is None:
            raise LabError(f"{self.name}: pausing a swarm task needs its node's engine")
        found = self.node.engine.containers.list(
            filters={"label": f"{_SERVICE_LABEL}={self._service.id}"}, ignore_removed=True
        )
        if not found:
            raise LabError(f"{self.name}: its task has no container on {self.node.name}")
        return found[0]

    def pause(self) -> None:
        self._container().pause()

    def resume(self) -> None:
        with contextlib.suppress(docker.errors.APIError):
            self._container().unpause()

    def join_output(self, timeout: float = 10.0) -> None:
        self._reader.join(timeout=timeout)
