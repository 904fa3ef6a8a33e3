"""A local test swarm: N Docker engines that the lab starts itself, formed into one swarm.

Each node is its own ``dockerd`` (its own data root, exec root, pid file and socket, no
bridge, no iptables), listening for the swarm on 127.0.0.1; the first one is the manager.
The user's own engine never joins: it only lends the runner image, which is saved from it and
loaded into every node that lacks that tag (digest tags: a node has the image exactly when it
is up to date). A registry would be one more process to reap; save/load needs none, and the
nodes share this host's disk anyway. There is one test swarm per machine (the swarm ports are
the machine's): ``up`` reaps what a killed orchestrator left, ``down`` can be run any number of
times and leaves no engine, containerd, mount, network namespace or data root behind.

Root is needed: dockerd is.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import docker
import docker.errors
import requests.exceptions

from lab.errors import LabError, UsageError

STATE_DIR = Path("/run/cachelab-swarm")  # sockets, pid files, exec roots: gone at reboot
DATA_DIR = Path("/var/lib/cachelab-swarm")  # data roots: the images each node holds
STATE_FILE = STATE_DIR / "swarm.json"
FIRST_PORT = 2377  # node k listens for the swarm on 127.0.0.1:FIRST_PORT + k - 1
_START_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 20.0


class SwarmError(LabError):
    """The test swarm could not be formed or taken down; the message says which node."""


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


def _node_paths(name: str) -> tuple[Path, Path]:
    return STATE_DIR / name, DATA_DIR / name


def current() -> TestSwarm | None:
    """The test swarm that is up on this machine, as ``up`` recorded it, if any."""
    try:
        saved = json.loads(STATE_FILE.read_text())
        nodes = [Node(**n) for n in saved["nodes"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return TestSwarm(nodes) if nodes else None  # none: an `up` that never finished


def _start_engine(name: str, storage_driver: str | None) -> str:
    state, data = _node_paths(name)
    for path in (state, data):
        path.mkdir(parents=True, exist_ok=True)
    config = state / "daemon.json"
    config.write_text("{}\n")  # not /etc/docker/daemon.json: that one is the user's engine's
    sock = state / "docker.sock"
    argv = [
        "dockerd",
        "--config-file", str(config),
        "--data-root", str(data),
        "--exec-root", str(state / "exec"),
        "--pidfile", str(state / "dockerd.pid"),
        "--host", f"unix://{sock}",
        "--bridge=none", "--iptables=false", "--ip-masq=false", "--ip6tables=false",
    ]  # fmt: skip
    if storage_driver:
        argv += ["--storage-driver", storage_driver]
    with (state / "dockerd.log").open("ab") as log:
        try:
            engine = subprocess.Popen(
                argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
            )
        except OSError as exc:
            raise SwarmError(f"{name}: cannot start dockerd: {exc}") from exc
    address = f"unix://{sock}"
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline and engine.poll() is None:
        with contextlib.suppress(
            docker.errors.DockerException, requests.exceptions.RequestException
        ):
            docker.DockerClient(base_url=address, timeout=5).ping()
            return address
        time.sleep(0.2)
    why = f"exited ({engine.returncode})" if engine.poll() is not None else "did not answer"
    tail = (state / "dockerd.log").read_text(errors="replace").strip().splitlines()[-10:]
    raise SwarmError(f"{name}: dockerd {why}; its log ends:\n" + "\n".join(tail))


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
    log: Callable[[str], None] = print,
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
        down(log=log)
        swarm = _form(nodes, _storage_driver(source), log)
    if image_refs and source is not None:
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
    return swarm


def _answers(swarm: TestSwarm) -> bool:
    try:
        for node in swarm.nodes:
            node.client(timeout=5).ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        return False
    return True


def _form(count: int, storage_driver: str | None, log: Callable[[str], None]) -> TestSwarm:
    names = [f"node-{k}" for k in range(1, count + 1)]
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    formed: list[Node] = []
    try:  # whatever stops it half way (an error, Ctrl-C) takes down what it started
        sockets = [_start_engine(name, storage_driver) for name in names]
        token = ""
        for k, (name, sock) in enumerate(zip(names, sockets, strict=True)):
            listen = f"127.0.0.1:{FIRST_PORT + k}"
            try:
                client = docker.DockerClient(base_url=sock, timeout=60)
                if k == 0:
                    client.swarm.init(advertise_addr=listen, listen_addr=listen)
                    client.swarm.reload()
                    token = client.swarm.attrs["JoinTokens"]["Worker"]
                else:
                    client.swarm.join(
                        remote_addrs=[f"127.0.0.1:{FIRST_PORT}"],
                        join_token=token,
                        listen_addr=listen,
                        advertise_addr=listen,
                    )
                formed.append(Node(name, sock, str(client.info()["Swarm"]["NodeID"]), listen))
            except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
                what = "initializing the swarm" if k == 0 else "joining the swarm"
                raise SwarmError(f"{name} ({sock}): {what} on {listen}: {exc}") from exc
    except BaseException:
        down(log=lambda _m: None)
        raise
    swarm = TestSwarm(formed)
    STATE_FILE.write_text(json.dumps({"nodes": [asdict(n) for n in formed]}, indent=2) + "\n")
    log(f"test swarm up: {count} nodes in {time.monotonic() - started:.1f} s")
    return swarm


# The programs an engine of the test swarm runs; a process counts as the swarm's when it is
# one of them and its command line names the swarm's directories (a `tail` of a log is not).
_ENGINE_PROGRAMS = ("dockerd", "containerd", "containerd-shim", "runc", "fuse-overlayfs")


def _ours() -> list[tuple[int, str]]:
    """Processes started for the test swarm: dockerd, its containerd, their shims, the
    overlay mounts of its containers."""
    found = []
    marks = (str(STATE_DIR) + "/", str(DATA_DIR) + "/")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        program = Path(cmdline.split(" ", 1)[0]).name
        if program.startswith(_ENGINE_PROGRAMS) and any(mark in cmdline for mark in marks):
            found.append((int(proc.name), program))
    return found


def _mounts() -> list[str]:
    """Mount points under the swarm's directories (overlays, network namespaces, shm)."""
    points = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            point = line.split()[4].replace("\\040", " ")
            if point.startswith((str(STATE_DIR), str(DATA_DIR))):
                points.append(point)
    return sorted(points, key=len, reverse=True)  # the deepest first


def _stop(procs: list[tuple[int, str]], sig: signal.Signals) -> None:
    for pid, _ in procs:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _wait_gone(timeout: float) -> list[tuple[int, str]]:
    deadline = time.monotonic() + timeout
    left = _ours()
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = _ours()
    return left


def _remove_containers() -> list[str]:
    """Every container on every node that still answers, removed by its engine: a dockerd
    that is then killed cannot leave a container's processes running."""
    removed = []
    for sock in sorted(STATE_DIR.glob("node-*/docker.sock")):
        with contextlib.suppress(
            docker.errors.DockerException, requests.exceptions.RequestException
        ):
            client = docker.DockerClient(base_url=f"unix://{sock}", timeout=10)
            for container in client.containers.list(all=True, ignore_removed=True):
                container.remove(force=True)
                removed.append(f"container {container.name} on {sock.parent.name}")
    return removed


def down(log: Callable[[str], None] = print) -> list[str]:
    """Take the test swarm down, whatever state it is in; return what had to be removed.
    Safe to run again: with nothing up it does nothing."""
    if os.geteuid() != 0:
        raise UsageError("the test swarm's dockerd processes are root's: run as root")
    removed = _remove_containers()
    engines = [(pid, cmd) for pid, cmd in _ours() if cmd == "dockerd"]
    # dockerd stops its containers and its containerd on SIGTERM; what remains is killed
    _stop(engines, signal.SIGTERM)
    left = _wait_gone(_STOP_TIMEOUT_S) if engines else _ours()
    if left:
        _stop(left, signal.SIGKILL)
        left = _wait_gone(5.0)
    if left:
        raise SwarmError(f"processes of the test swarm would not die: {left}")
    removed += [f"{cmd} (pid {pid})" for pid, cmd in engines]
    for point in _mounts():
        proc = subprocess.run(["umount", "-l", point], capture_output=True, text=True, check=False)
        if proc.returncode != 0 and point in _mounts():
            raise SwarmError(f"cannot unmount {point}: {proc.stderr.strip()}")
        removed.append(f"mount {point}")
    for path in (DATA_DIR, STATE_DIR):
        if path.exists():
            shutil.rmtree(path)
            removed.append(str(path))
    if removed:
        log("test swarm down: removed " + ", ".join(removed))
    return removed


def leftovers() -> list[str]:
    """What of a test swarm is still on this machine: nothing after ``down``."""
    found = [f"{cmd} (pid {pid})" for pid, cmd in _ours()]
    found += [f"mount {p}" for p in _mounts()]
    found += [str(p) for p in (STATE_DIR, DATA_DIR) if p.exists()]
    return found
