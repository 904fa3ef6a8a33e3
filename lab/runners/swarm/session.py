"""A run's runners as swarm services: what each task mounts and runs, and removing the
services and task containers of a run, or of orchestrators that died."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import requests.exceptions
from docker.models.containers import Container
from docker.models.services import Service
from docker.types import DriverConfig, RestartPolicy, ServiceMode
from docker.types import Mount as DockerMount

from lab.contract import CLOCK_SKEW_ENV
from lab.errors import LabError, RunnerStartError, UsageError
from lab.runners import images, owner
from lab.runners.base import LineCallback, RunnerSpec
from lab.runners.containers import (
    CACHE_DIR,
    LABEL_OWNER,
    LABEL_RUN,
    bind_mounts,
    labelled,
    labels,
    remove_container,
    runner_user,
)
from lab.runners.swarm.clock import ClockServer
from lab.runners.swarm.tasks import SwarmNode, SwarmRunner

STAMPER = f"{images.RUNNER_PYTHON.rsplit('/', 1)[0]}/stamp.py"  # in the task
CLOCK_DIR = "/opt/cachelab-clock"  # in the task: the run's clock directory, shared
# After its services are removed, a run's nodes are watched this long for a task container
# that was still being made.
_SETTLE_S = 2.0

# A Docker volume's name, as the engine takes it.
_VOLUME_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")


@dataclass(frozen=True)
class CacheVolume:
    """The shared cache as a named volume on every node, in place of a bind of the run's
    cache directory: what a fleet has, e.g. an NFS export through the local volume driver
    (``type=nfs``, ``o=addr=HOST,rw``, ``device=:/export/cache``). Each node's engine makes
    the volume from these options the first time a task mounts it, and keeps it; a volume of
    that name already on a node is used as it is. The lab reads the cache (the checker) from
    the run's shared cache directory, which must be the same storage seen from its host."""

    name: str
    options: Mapping[str, str]  # the local driver's: type, o, device

    @classmethod
    def parse(cls, name: str, options: Sequence[str]) -> CacheVolume:
        """From ``--cache-volume NAME`` and each ``--cache-volume-opt KEY=VALUE``;
        UsageError names what is wrong."""
        if not _VOLUME_NAME.fullmatch(name):
            raise UsageError(
                f"--cache-volume {name!r}: a volume name is letters, digits and _.- "
                "(starting with a letter or digit), e.g. cachelab-cache"
            )
        parsed: dict[str, str] = {}
        for option in options:
            key, sep, value = option.partition("=")
            if not sep or not key.strip():
                raise UsageError(
                    f"--cache-volume-opt {option!r}: expected KEY=VALUE, a local volume "
                    "driver option, e.g. type=nfs, o=addr=10.0.0.5,rw or device=:/export/cache"
                )
            parsed[key.strip()] = value
        return cls(name, parsed)

    def mount(self, read_only: bool) -> DockerMount:
        config = DriverConfig("local", options=dict(self.options)) if self.options else None
        return DockerMount(
            CACHE_DIR, self.name, type="volume", read_only=read_only, driver_config=config
        )


class SwarmSession:
    def __init__(
        self,
        manager: docker.DockerClient,
        nodes: list[SwarmNode],
        image: str,
        run_id: str,
        clock_skews: Mapping[str, float],
        cache_volume: CacheVolume | None,
    ) -> None:
        self._manager = manager
        self._nodes = nodes
        self._skews = clock_skews
        self._cache_volume = cache_volume
        self._image = image
        self._run_id = run_id
        self._owner = owner.current()
        self._runners: list[SwarmRunner] = []
        self._chowned: set[Path] = set()
        self._clocks: set[Path] = set()
        self._servers = contextlib.ExitStack()  # the clock servers, one per clock dir

    def __enter__(self) -> SwarmSession:
        reap_orphans(self._manager, self._nodes)
        return self

    def start(self, spec: RunnerSpec, on_line: LineCallback) -> SwarmRunner:
        for m in spec.mounts:
            if m.target == CLOCK_DIR and m.source not in self._clocks:
                # made before the runner's user is handed its mounts: a sticky directory
                # that is the runner's lets it remove the replies the lab writes there
                m.source.mkdir(exist_ok=True)
                m.source.chmod(0o1777)  # every runner's uid writes its asks there
                self._servers.enter_context(ClockServer(m.source))
                self._clocks.add(m.source)
        uid, gid = runner_user(spec, self._chowned)
        index = len(self._runners) % len(self._nodes) if spec.node is None else spec.node
        if index >= len(self._nodes):
            raise RunnerStartError(
                spec.name,
                f"the scenario's runners_per_node puts it on node {index + 1}, but the swarm "
                f"has {len(self._nodes)}: allow more runners per node, or add nodes",
            )
        node = self._nodes[index]
        mounts = bind_mounts(spec)
        if self._cache_volume is not None:
            mounts = [
                self._cache_volume.mount(bool(m["ReadOnly"])) if m["Target"] == CACHE_DIR else m
                for m in mounts
            ]
        # a swarm's tmpfs mount takes a size and a mode only (the docker backend adds exec)
        mounts += [DockerMount(path, None, type="tmpfs", tmpfs_mode=0o1777) for path in spec.tmpfs]
        tagged = labels(self._run_id, spec.name, self._owner)
        env = dict(spec.env)
        if node.name in self._skews:
            env[CLOCK_SKEW_ENV] = repr(self._skews[node.name])
        try:
            service = self._manager.services.create(  # type: ignore[no-untyped-call]
                self._image,
                command=[
                    images.RUNNER_PYTHON,
                    "-I",
                    STAMPER,
                    CLOCK_DIR,
                    spec.name,
                    "--",
                    *spec.argv,
                ],
                name=f"cachelab-{self._run_id}-{spec.name}",
                env=[f"{k}={v}" for k, v in env.items()],
                workdir=spec.workdir,
                user=f"{uid}:{gid}",
                mounts=mounts,
                mode=ServiceMode("replicated-job", replicas=1),
                restart_policy=RestartPolicy(condition="none"),
                constraints=[f"node.id=={node.node_id}"],
                cap_drop=["ALL"],
                labels=tagged,
                container_labels=tagged,
                stop_grace_period=1_000_000_000,  # ns: the stamper passes a stop on, then KILL
            )
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            raise RunnerStartError(spec.name, f"creating a swarm service: {exc}") from exc
        runner = SwarmRunner(spec.name, service, node, on_line)
        self._runners.append(runner)
        return runner

    def __exit__(self, *exc: object) -> None:
        try:
            remove_run(self._manager, self._nodes, self._run_id)
            deadline = time.monotonic() + 10.0  # for every reader at once, not one by one
            for runner in self._runners:
                runner.join_output(max(0.0, deadline - time.monotonic()))
        finally:
            self._servers.close()


def services(manager: docker.DockerClient, label: str) -> list[Service]:
    try:
        found: list[Service] = manager.services.list(filters={"label": label})
    except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
        raise LabError(f"cannot list the swarm services labelled {label}: {exc}") from exc
    return found


def _remove_containers(
    nodes: list[SwarmNode],
    label: str,
    picked: Callable[[Container], bool] = lambda _c: True,
    settle: float = _SETTLE_S,
) -> list[str]:
    """Remove the task containers labelled ``label`` (those ``picked``) on the nodes the lab
    can reach, until none has come for ``settle`` seconds: swarm keeps an ended job's
    containers after its service is gone and removes a stopped task's later, and a node may
    still be creating one that its agent was told to start just before. What was removed."""
    removed: list[str] = []
    engines = [(node.name, node.engine) for node in nodes if node.engine is not None]
    settled, given_up = time.monotonic() + settle, time.monotonic() + 10 * _SETTLE_S
    while engines and time.monotonic() < given_up:  # what still stands is a leftover
        found = [
            (name, c) for name, engine in engines for c in labelled(engine, label) if picked(c)
        ]
        for name, container in found:
            remove_container(container)
            removed.append(f"{name}: {container.name}")
        if not found and time.monotonic() >= settled:
            break
        time.sleep(0.2)
    return removed


def remove_run(manager: docker.DockerClient, nodes: list[SwarmNode], run_id: str) -> None:
    """Remove the run's services, then its task containers on the nodes the lab can reach."""
    label = f"{LABEL_RUN}={run_id}"
    for service in services(manager, label):
        with contextlib.suppress(docker.errors.APIError):
            service.remove()  # type: ignore[no-untyped-call]
    _remove_containers(nodes, label)


def reap_orphans(manager: docker.DockerClient, nodes: list[SwarmNode]) -> list[str]:
    """Remove the services and task containers of orchestrators (on this host) that are
    gone."""
    removed = []
    for service in services(manager, LABEL_OWNER):
        labels = service.attrs.get("Spec", {}).get("Labels", {})
        if not owner.alive(labels.get(LABEL_OWNER, "")):
            with contextlib.suppress(docker.errors.APIError):
                service.remove()  # type: ignore[no-untyped-call]
            removed.append(str(service.name))

    def orphaned(container: Container) -> bool:
        return not owner.alive(container.labels.get(LABEL_OWNER, ""))

    # the containers of services just removed come and go for a while: watched until gone
    settle = _SETTLE_S if removed else 0.0
    return removed + _remove_containers(nodes, LABEL_OWNER, orphaned, settle)
