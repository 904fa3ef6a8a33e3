"""The swarm backend: the nodes of a swarm (the local test swarm, else the one ``DOCKER_HOST``
manages) and whether each has the runner image a run needs."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

import docker
import docker.errors
import requests.exceptions

from lab.errors import BackendUnavailable
from lab.rundir import RunDir
from lab.runners import images
from lab.runners.base import ViewRequest
from lab.runners.containers import LABEL_RUN, container_view, engine_address, labelled, runner_image
from lab.runners.swarm import stamp, testswarm
from lab.runners.swarm.session import (
    CLOCK_DIR,
    STAMPER,
    CacheVolume,
    SwarmSession,
    services,
)
from lab.runners.swarm.tasks import SwarmNode
from lab.runners.view import Mount, RunnerView


class SwarmBackend:
    """``clock_skews``: seconds by which to put some nodes' clocks off (by name), for the
    runners placed there: their stamps must still land right on the lab's clocks.
    ``cache_volume``: the tasks mount it as the cache instead of the run's cache directory."""

    name = "swarm"
    live_output = False  # lines come when a runner ends: they are placed by its node's clock

    def __init__(
        self,
        base_image: str | None = None,
        clock_skews: Mapping[str, float] | None = None,
        cache_volume: CacheVolume | None = None,
    ) -> None:
        self._base_image = base_image
        self._skews = dict(clock_skews or {})
        self.cache_volume = cache_volume
        self.external_cache = f"the volume {cache_volume.name}" if cache_volume else None
        self._manager: docker.DockerClient | None = None
        self.nodes: list[SwarmNode] = []
        self.image: str | None = None

    def _connect(self) -> docker.DockerClient:
        if self._manager is not None:
            return self._manager
        test = testswarm.current()
        if test is not None:
            where = f"the test swarm's manager ({test.manager.socket})"
        else:
            where = f"DOCKER_HOST ({engine_address()})"
        try:
            manager = test.manager.client() if test else docker.from_env()
            control = manager.info().get("Swarm", {}).get("ControlAvailable")
            listed = manager.nodes.list() if control else []
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise BackendUnavailable(self.name, f"{where} does not answer: {exc}") from exc
        if not control:
            raise BackendUnavailable(
                self.name,
                f"{where} is not a swarm manager: `cachelab swarm up --nodes 2` (as root) "
                "forms a local test swarm, or set DOCKER_HOST to a swarm manager",
            )
        ours = {n.node_id: n for n in test.nodes} if test else {}
        for attrs in (n.attrs for n in listed):
            ready = attrs["Status"]["State"] == "ready"
            if not ready or attrs["Spec"].get("Availability") != "active":
                continue
            node_id = attrs["ID"]
            mine = ours.get(node_id)
            name = mine.name if mine else attrs["Description"]["Hostname"] + "-" + node_id[:6]
            self.nodes.append(SwarmNode(node_id, name, mine.client() if mine else None))
        if not self.nodes:
            raise BackendUnavailable(self.name, f"the swarm at {where} has no ready node")
        # the test swarm's in its own order (node-2 before node-10), a real one's by name
        order = {node_id: k for k, node_id in enumerate(ours)}
        self.nodes.sort(key=lambda n: (order.get(n.node_id, len(order)), n.name))
        self._manager = manager
        return manager

    def check(self, binaries: frozenset[str] = frozenset()) -> None:
        self._connect()
        native = images.needs_native(binaries)
        runner = images.tags(self._base_image, native).runner
        for node in self.nodes:
            if node.engine is None:
                continue  # a real swarm's nodes: their engines are not the lab's to ask
            try:
                node.engine.images.get(runner)
            except docker.errors.ImageNotFound:
                up = "cachelab swarm up --native" if native else "cachelab swarm up"
                raise BackendUnavailable(
                    self.name,
                    f"{runner_image(binaries)} {runner} is not on {node.name}: `{up}` loads "
                    "it into every node of the test swarm",
                ) from None
            except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
                raise BackendUnavailable(
                    self.name, f"{node.name}'s engine ({node.engine.api.base_url}): {exc}"
                ) from exc
        self.image = runner

    def view(self, request: ViewRequest) -> RunnerView:
        view = container_view(request)
        stamper = Mount(Path(stamp.__file__), STAMPER, read_only=True)
        clock = Mount(request.run_dir.clock, CLOCK_DIR)
        return dataclasses.replace(view, mounts=(*view.mounts, stamper, clock))

    def leftovers(self, run_dir: RunDir) -> list[str]:
        """The run's services, and its task containers on nodes the lab can see."""
        manager = self._connect()
        label = f"{LABEL_RUN}={run_dir.run_id}"
        found = [str(s.name) for s in services(manager, label)]
        for node in self.nodes:
            if node.engine is not None:
                found += [f"{node.name}: {c.name}" for c in labelled(node.engine, label)]
        return found

    def session(self, run_id: str) -> SwarmSession:
        if self.image is None:
            self.check()
        assert self.image is not None
        return SwarmSession(
            self._connect(), self.nodes, self.image, run_id, self._skews, self.cache_volume
        )
