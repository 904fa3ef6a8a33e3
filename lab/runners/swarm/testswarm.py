"""A local test swarm: N Docker engines that the lab starts itself (``engines``), formed into
one swarm.

Each node listens for the swarm on 127.0.0.1; the first one is the manager. The user's own
engine never joins: it only lends the runner image, which is saved from it and loaded into
every node that lacks that tag (digest tags: a node has the image exactly when it is up to
date). A registry would be one more process to reap; save/load needs none, and the nodes
share this host's disk anyway. There is one test swarm per machine (the swarm ports are the
machine's): ``up`` reaps what a killed orchestrator left, ``engines.down`` can be run any
number of times.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

import docker
import docker.errors
import requests.exceptions

from lab.errors import UsageError
from lab.log import log
from lab.runners.swarm import engines
from lab.runners.swarm.engines import SwarmError

_FIRST_PORT = 2377  # node k listens for the swarm on 127.0.0.1:_FIRST_PORT + k - 1


@dataclass(frozen=True)
class Node:
    name: str  # node-1 (the manager), node-2, ...
    socket: str  # unix:///run/cachelab-swarm/node-1/docker.sock
    node_id: str  # the swarm's id of the node
    listen: str  # 127.0.0.1:2377

    def client(self, timeout: int = 120) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.socket, timeout=timeout)


@dataclass(frozen=True)
class TestSwarm:
    nodes: list[Node]

    @property
    def manager(self) -> Node:
        return self.nodes[0]


def current() -> TestSwarm | None:
    """The test swarm that is up on this machine, as ``up`` recorded it, if any."""
    try:
        saved = json.loads(engines.STATE_FILE.read_text())
        nodes = [Node(**n) for n in saved["nodes"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return TestSwarm(nodes) if nodes else None  # none: an `up` that never finished


def _storage_driver(source: docker.DockerClient | None) -> str | None:
    """The user's engine's storage driver: the one known to work on this host's disks."""
    if source is None:
        return None
    with contextlib.suppress(docker.errors.DockerException, requests.exceptions.RequestException):
        return str(source.info().get("Driver") or "") or None
    return None


def _load_image(source: docker.DockerClient, image: str, node: Node) -> None:
    client = node.client()
    try:
        client.images.get(image)
        return  # digest-tagged: present means up to date
    except docker.errors.ImageNotFound:
        pass
    try:
        chunks: Iterator[bytes] = source.images.get(image).save(named=True)
        # streamed from one engine to the other: the tarball is never written or held whole
        for said in client.api.load_image(chunks):  # type: ignore[no-untyped-call]
            if isinstance(said, dict) and "error" in said:
                raise SwarmError(f"{node.name}: loading {image}: {said['error']}")
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise SwarmError(f"{node.name}: loading {image} from the user's engine: {exc}") from exc


def up(
    nodes: int,
    image_refs: Sequence[str] = (),
    source: docker.DockerClient | None = None,
) -> TestSwarm:
    """Start ``nodes`` engines, form them into a swarm, and load the images ``image_refs``
    (from ``source``, the user's engine) into each. A swarm of that size that is up already
    is reused; what a killed orchestrator left is taken down first."""
    if nodes < 1:
        raise UsageError(f"--nodes {nodes}: a swarm needs at least 1 node")
    if os.geteuid() != 0:
        raise UsageError("a test swarm starts its own dockerd processes: run as root")
    if shutil.which("dockerd") is None:
        raise SwarmError("dockerd is not installed (Debian: docker.io)")
    swarm = current()
    if swarm is not None and len(swarm.nodes) == nodes and _answers(swarm):
        log(f"the test swarm of {nodes} nodes is up already")
    else:
        engines.down()
        swarm = _form(nodes, _storage_driver(source))
    if image_refs and source is not None:
        _load_everywhere(swarm, image_refs, source)
    return swarm


def _load_everywhere(
    swarm: TestSwarm, image_refs: Sequence[str], source: docker.DockerClient
) -> None:
    """Load ``image_refs`` into every node at once."""
    failures: list[str] = []

    def load(node: Node) -> None:
        try:
            for ref in image_refs:
                _load_image(source, ref, node)
        except SwarmError as exc:
            failures.append(str(exc))

    threads = [threading.Thread(target=load, args=(n,)) for n in swarm.nodes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise SwarmError("; ".join(failures))
    log(f"{', '.join(image_refs)} on every node")


def _answers(swarm: TestSwarm) -> bool:
    try:
        for node in swarm.nodes:
            node.client(timeout=5).ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        return False
    return True


def _form(count: int, storage_driver: str | None) -> TestSwarm:
    names = [f"node-{k}" for k in range(1, count + 1)]
    engines.STATE_DIR.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    formed: list[Node] = []
    try:  # whatever stops it half way (an error, Ctrl-C) takes down what it started
        sockets = [engines.start_engine(name, storage_driver) for name in names]
        token = ""
        for k, (name, sock) in enumerate(zip(names, sockets, strict=True)):
            listen = f"127.0.0.1:{_FIRST_PORT + k}"
            try:
                client = docker.DockerClient(base_url=sock, timeout=60)
                if k == 0:
                    client.swarm.init(advertise_addr=listen, listen_addr=listen)
                    client.swarm.reload()
                    token = client.swarm.attrs["JoinTokens"]["Worker"]
                else:
                    client.swarm.join(
                        remote_addrs=[f"127.0.0.1:{_FIRST_PORT}"],
                        join_token=token,
                        listen_addr=listen,
                        advertise_addr=listen,
                    )
                formed.append(Node(name, sock, str(client.info()["Swarm"]["NodeID"]), listen))
            except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
                what = "initializing the swarm" if k == 0 else "joining the swarm"
                raise SwarmError(f"{name} ({sock}): {what} on {listen}: {exc}") from exc
    except BaseException:
        engines.down()
        raise
    swarm = TestSwarm(formed)
    engines.STATE_FILE.write_text(
        json.dumps({"nodes": [asdict(n) for n in formed]}, indent=2) + "\n"
    )
    log(f"test swarm up: {count} nodes in {time.monotonic() - started:.1f} s")
    return swarm
