"""The engines of the local test swarm: each its own ``dockerd`` (its own data root, exec root,
pid file and socket, no bridge, no iptables), started by the lab, and stopped without a trace:
no engine, containerd, mount, network namespace or data root is left behind.

Root is needed: dockerd is.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import docker
import docker.errors
import requests.exceptions

from lab.errors import LabError, UsageError
from lab.log import log

STATE_DIR = Path("/run/cachelab-swarm")  # sockets, pid files, exec roots: gone at reboot
DATA_DIR = Path("/var/lib/cachelab-swarm")  # data roots: the images each node holds
STATE_FILE = STATE_DIR / "swarm.json"
_START_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 20.0


class SwarmError(LabError):
    """The test swarm could not be formed or taken down; the message says which node."""


def _node_paths(name: str) -> tuple[Path, Path]:
    return STATE_DIR / name, DATA_DIR / name


def start_engine(name: str, storage_driver: str | None) -> str:
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


def down() -> list[str]:
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
