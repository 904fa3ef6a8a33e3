"""Runners as Docker containers, driven through the Docker SDK.

Each runner is one container: its checkout bind-mounted at the scenario's path, the shared
cache read-write, the wheelhouse read-only, a tmpfs ``.venv``, no network, no capabilities,
not privileged, an ordinary uid. Every container carries the run's labels; leaving the session
removes them, and a session that starts removes the containers of orchestrators that died
(testcontainers' reaper, without a reaper container).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import requests.exceptions
from docker.models.containers import Container

from lab.errors import BackendUnavailable, RunnerStartError
from lab.rundir import RunDir
from lab.runners import images, owner
from lab.runners.base import LineCallback, RunnerSpec, ViewRequest
from lab.runners.containers import (
    LABEL_RUN,
    bind_mounts,
    container_view,
    engine_address,
    labelled,
    labels,
    reap_orphans,
    remove_run,
    runner_image,
    runner_user,
)
from lab.runners.view import RunnerView

_LOG_TAIL = 30


class DockerRunner:
    def __init__(
        self,
        name: str,
        container: Container,
        output: Iterator[tuple[bytes | None, bytes | None]],
        on_line: LineCallback,
    ) -> None:
        self.name = name
        self.pid: int | None = None
        self.container = container
        self._reader = threading.Thread(target=_pump, args=(output, on_line), daemon=True)
        self._reader.start()

    def wait(self, timeout: float | None = None) -> int | None:
        try:
            status = self.container.wait(timeout=timeout)
        except requests.exceptions.ConnectionError:  # the client's read timeout
            return None
        self.join_output()
        return int(status["StatusCode"])

    def join_output(self) -> None:
        self._reader.join(timeout=10)

    def kill(self) -> None:
        with contextlib.suppress(docker.errors.APIError):
            self.container.kill()

    def pause(self) -> None:
        with contextlib.suppress(docker.errors.APIError):
            self.container.pause()

    def resume(self) -> None:
        with contextlib.suppress(docker.errors.APIError):
            self.container.unpause()


class DockerSession:
    def __init__(self, client: docker.DockerClient, image: str, run_id: str) -> None:
        self._client = client
        self._image = image
        self._run_id = run_id
        self._owner = owner.current()
        self._runners: list[DockerRunner] = []
        self._chowned: set[Path] = set()

    def __enter__(self) -> DockerSession:
        reap_orphans(self._client)
        return self

    def start(self, spec: RunnerSpec, on_line: LineCallback) -> DockerRunner:
        uid, gid = runner_user(spec, self._chowned)
        mounts = bind_mounts(spec)
        try:
            container = self._client.containers.create(
                self._image,
                command=list(spec.argv),
                name=f"cachelab-{self._run_id}-{spec.name}",
                environment=dict(spec.env),
                working_dir=spec.workdir,
                user=f"{uid}:{gid}",
                mounts=mounts,
                # exec: a venv holds native modules (scikit-build-core installs its .so there)
                tmpfs={path: "mode=1777,exec" for path in spec.tmpfs},
                network_mode="none",
                privileged=False,
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                labels=labels(self._run_id, spec.name, self._owner),
            )
        except docker.errors.APIError as exc:
            raise RunnerStartError(
                spec.name, f"creating a container from {self._image}: {exc}"
            ) from exc
        try:
            # Attached before the start, like `docker run`: every byte arrives, up to the exit.
            output = self._client.api.attach(
                str(container.id), stdout=True, stderr=True, stream=True, logs=True, demux=True
            )
            container.start()
        except docker.errors.APIError as exc:
            tail = _log_tail(container)
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True)
            raise RunnerStartError(spec.name, f"container {container.name}: {exc}", tail) from exc
        runner = DockerRunner(spec.name, container, output, on_line)
        self._runners.append(runner)
        return runner

    def __exit__(self, *exc: object) -> None:
        remove_run(self._client, self._run_id)
        for runner in self._runners:
            runner.join_output()


def _pump(output: Iterator[tuple[bytes | None, bytes | None]], on_line: LineCallback) -> None:
    """Split the attached, demultiplexed output into lines, per stream."""
    pending = {"stdout": b"", "stderr": b""}
    with contextlib.suppress(docker.errors.APIError, requests.exceptions.RequestException):
        for chunks in output:
            for stream, chunk in zip(("stdout", "stderr"), chunks, strict=True):
                if not chunk:
                    continue
                *lines, pending[stream] = (pending[stream] + chunk).split(b"\n")
                for line in lines:
                    on_line(stream, line.decode("utf-8", "replace").rstrip("\r"))
    for stream, rest in pending.items():
        if rest:
            on_line(stream, rest.decode("utf-8", "replace").rstrip("\r"))


def _log_tail(container: Container) -> str:
    try:
        raw: bytes = container.logs(stdout=True, stderr=True, tail=_LOG_TAIL)
    except docker.errors.APIError:
        return ""
    return raw.decode("utf-8", "replace").strip()


class DockerBackend:
    name = "docker"
    live_output = True
    external_cache: str | None = None

    def __init__(self, base_image: str | None = None) -> None:
        self._base_image = base_image
        self._client: docker.DockerClient | None = None
        self.image: str | None = None

    def client(self) -> docker.DockerClient:
        if self._client is None:
            try:
                client = docker.from_env()
                client.ping()
            except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
                raise BackendUnavailable(
                    self.name, f"the Docker engine at {engine_address()} does not answer: {exc}"
                ) from exc
            self._client = client
        return self._client

    def check(self, binaries: frozenset[str] = frozenset()) -> None:
        """The engine answers and has the runner image for ``binaries``: the pure-Python one,
        or the one with compilers, which the runs that follow use."""
        client = self.client()
        runner = images.tags(self._base_image, images.needs_native(binaries)).runner
        try:
            client.images.get(runner)
        except docker.errors.ImageNotFound:
            raise BackendUnavailable(
                self.name,
                f"{runner_image(binaries)} {runner} (for the current inputs) is not in the "
                f"engine at {engine_address()}: run `make images` (or `cachelab images`)",
            ) from None
        self.image = runner

    def view(self, request: ViewRequest) -> RunnerView:
        return container_view(request)

    def leftovers(self, run_dir: RunDir) -> list[str]:
        """Containers of the run that are still there (none, after any run)."""
        return [str(c.name) for c in labelled(self.client(), f"{LABEL_RUN}={run_dir.run_id}")]

    def session(self, run_id: str) -> DockerSession:
        if self.image is None:
            self.check()
        assert self.image is not None
        return DockerSession(self.client(), self.image, run_id)
