"""What the container backends share (``docker``, ``swarm``): the labels every container
carries, removing a run's containers and those of orchestrators that died, and the user and
bind mounts a runner's container gets.

Every container carries the run's labels and its orchestrator's name (``lab.runners.owner``):
leaving a session removes the run's, and a session that starts removes those whose
orchestrator on this host is gone (testcontainers' reaper, without a reaper container).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import docker
import docker.errors
import requests.exceptions
from docker.models.containers import Container
from docker.types import Mount as DockerMount

from lab.errors import LabError
from lab.runners import images, owner
from lab.runners.base import RunnerSpec, ViewRequest
from lab.runners.view import SYSTEM_PATH, Mount, RunnerView

LABEL_RUN = "org.cachelab.run"
LABEL_RUNNER = "org.cachelab.runner"
LABEL_OWNER = "org.cachelab.owner"  # host/pid/start time of the orchestrator
RESOURCES_DIR = "/opt/cachelab"  # resources are mounted read-only at <this>/<name>
CACHE_DIR = "/cache"  # where a container sees the shared cache


def engine_address() -> str:
    """The Docker engine the SDK talks to, for messages."""
    return os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


def labels(run_id: str, runner: str, orchestrator: str) -> dict[str, str]:
    return {LABEL_RUN: run_id, LABEL_RUNNER: runner, LABEL_OWNER: orchestrator}


def runner_user(spec: RunnerSpec, chowned: set[Path]) -> tuple[int, int]:
    """The uid and gid ``spec``'s container runs as: the image's ordinary user when the lab
    runs as root, which first hands that user the writable mounts not in ``chowned`` (once
    a session, before runners write); else the caller's own."""
    if os.geteuid() != 0:
        return os.getuid(), os.getgid()
    uid = gid = images.RUNNER_UID
    for m in spec.mounts:
        if not m.read_only and m.source not in chowned:
            chown_tree(m.source, uid, gid)
            chowned.add(m.source)
    return uid, gid


def bind_mounts(spec: RunnerSpec) -> list[DockerMount]:
    return [
        DockerMount(m.target, str(m.source), type="bind", read_only=m.read_only)
        for m in spec.mounts
    ]


def chown_tree(root: Path, uid: int, gid: int) -> None:
    """Hand a bind-mounted directory to the container's ordinary uid. What is its already is
    left alone: a chown changes a file's ctime even to the same owner, and uv's freshness
    reads ctimes, so a later step would see a checkout changed that nobody touched. A link
    (a checkout in place) hands on the directory it names."""
    root = root.resolve()
    paths = [root]
    for dirpath, dirnames, filenames in os.walk(root):
        paths.extend(Path(dirpath) / name for name in dirnames + filenames)
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            st = path.lstat()
            if (st.st_uid, st.st_gid) != (uid, gid):
                os.chown(path, uid, gid, follow_symlinks=False)


def labelled(client: docker.DockerClient, label: str) -> list[Container]:
    """The containers with ``label``; one removed while they are listed (an engine removing
    a swarm task's, another cleanup) is not among them."""
    try:
        found: list[Container] = client.containers.list(
            all=True, filters={"label": label}, ignore_removed=True
        )
    except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
        raise LabError(
            f"cannot list the containers labelled {label} at {client.api.base_url}: {exc}"
        ) from exc
    return found


def remove_container(container: Container) -> None:
    # NotFound: gone already; a 409 "removal in progress": another orchestrator is on it
    with contextlib.suppress(docker.errors.APIError):
        if container.status == "paused":  # a paused container cannot be removed
            container.unpause()
        container.remove(force=True)


def remove_run(client: docker.DockerClient, run_id: str) -> None:
    """Remove every container of the run ``run_id``."""
    for container in labelled(client, f"{LABEL_RUN}={run_id}"):
        remove_container(container)


def reap_orphans(client: docker.DockerClient) -> list[str]:
    """Remove containers whose orchestrator on this host is gone; return their names."""
    removed = []
    for container in labelled(client, LABEL_OWNER):
        if not owner.alive(container.labels.get(LABEL_OWNER, "")):
            remove_container(container)
            removed.append(str(container.name))
    return removed


def runner_image(binaries: frozenset[str]) -> str:
    """What the runner image for ``binaries`` is, in words."""
    if images.needs_native(binaries):
        return f"the native runner image (with {', '.join(sorted(binaries))})"
    return "the runner image"


def container_view(request: ViewRequest) -> RunnerView:
    """A runner in a container of the runner image: the image carries the binaries; the
    resources are mounted by name under /opt/cachelab."""
    resources = request.resources
    targets = {name: f"{RESOURCES_DIR}/{name}" for name in resources}
    return RunnerView(
        runner=request.runner,
        src=request.checkout_path,
        cache=CACHE_DIR,
        tmp="/tmp",
        home="/home/runner",
        python=images.RUNNER_PYTHON,
        resources=targets,
        bin_path=SYSTEM_PATH,
        mounts=tuple(
            Mount(path, targets[name], read_only=True) for name, path in resources.items()
        ),
    )
