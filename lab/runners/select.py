"""Choosing a runner backend: ``docker``, ``local``, ``swarm``, or ``auto`` (Docker when it
can run)."""

from __future__ import annotations

from lab.errors import BackendUnavailable, UsageError
from lab.runners.base import Backend
from lab.runners.docker import DockerBackend
from lab.runners.local import LocalBackend
from lab.runners.swarm import CacheVolume, SwarmBackend

CHOICES = ("auto", "docker", "local", "swarm")


def choose(
    name: str, base_image: str | None = None, cache_volume: CacheVolume | None = None
) -> tuple[Backend, str]:
    """The backend and why it was chosen. An explicit choice that cannot run raises;
    ``cache_volume`` is for a swarm's tasks only."""
    if cache_volume is not None and name != "swarm":
        raise UsageError(
            f"--cache-volume is for --backend swarm, whose tasks mount it (not {name}): a "
            "container on one engine mounts --cache-dir itself"
        )
    if name == "local":
        return LocalBackend(), "requested"
    if name == "swarm":
        swarm_backend = SwarmBackend(base_image, cache_volume=cache_volume)
        swarm_backend.check()
        nodes = ", ".join(n.name for n in swarm_backend.nodes)
        return swarm_backend, f"requested: {len(swarm_backend.nodes)} nodes ({nodes})"
    docker_backend = DockerBackend(base_image)
    if name == "docker":
        docker_backend.check()
        return docker_backend, "requested"
    try:
        docker_backend.check()
    except BackendUnavailable as exc:
        return LocalBackend(), f"auto: {exc.reason}; using private namespaces instead"
    return docker_backend, f"auto: the Docker engine answers and has {docker_backend.image}"
