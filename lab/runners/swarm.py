"""Runners as Docker Swarm jobs, driven through the Docker SDK, across the nodes of a swarm.

Each runner is one ``replicated-job`` service of one task, placed on a node in turn (runner k
on node k mod N, so N nodes share the runners evenly), or where the scenario's
``runners_per_node`` says (the nodes filled in turn). One service per runner, not one for
the run: each runner has its own checkout, TMPDIR and HOME, and the one way to tell a task
its own mounts is a template on ``{{.Task.Slot}}``, which swarm 20.10 leaves empty on some
replicated-job tasks (seen here: "invalid mount config", then retries). The task gets the
lockdown a swarm allows: an ordinary uid, no capabilities, no network at all (no network is
attached, and the nodes have no bridge), the wheelhouse and the lab's programs read-only.

A task's output reaches the lab through the service's logs, late and in batches. So every
line is stamped inside the task by ``_stamp.py``, and the node's clock is measured against
the lab's before and after the command, through a directory shared like the cache
(``ClockServer``); the lab places each stamp on its own clocks with that error bound, which
the checker widens every lock span by. Services, and their task containers, carry the run's
labels: leaving the session removes them, and a session that starts removes those of
orchestrators that died.

The swarm is the local test swarm that ``cachelab swarm up`` formed (``lab.testswarm``), or
else the swarm whose manager ``DOCKER_HOST`` names. On a real swarm the run directory (the
checkouts, the cache, the clock directory) must be at the same path on every node, on a
shared file system, or the cache on a volume of its own (``CacheVolume``: an NFS export, say,
through the local volume driver): see docs/scale-out.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import requests.exceptions
from docker.models.containers import Container
from docker.models.services import Service
from docker.types import DriverConfig, RestartPolicy, ServiceMode
from docker.types import Mount as DockerMount

from lab import images, owner, testswarm
from lab.contract import CLOCK_SKEW_ENV
from lab.errors import BackendUnavailable, LabError, RunnerStartError, UsageError
from lab.runners import _stamp
from lab.runners.base import LineCallback, Mount, NodeClock, RunnerSpec, RunnerView, Stamp
from lab.runners.docker import (
    CACHE_DIR,
    LABEL_OWNER,
    LABEL_RUN,
    LABEL_RUNNER,
    bind_mounts,
    container_view,
    engine_address,
    labelled,
    remove_container,
    runner_image,
    runner_user,
)

STAMPER = f"{images.RUNNER_PYTHON.rsplit('/', 1)[0]}/stamp.py"
CLOCK_DIR = "/opt/cachelab-clock"  # in the task: the run's clock directory, shared
# Where a node's clock could not be measured (the exchange timed out): the lab assumes the
# node's wall clock agrees with its own, to within this.
UNMEASURED_ERROR_S = 1.0
_CLOCK_POLL_S = 0.002
_SERVICE_LABEL = "com.docker.swarm.service.id"
_ENDED = {"complete", "failed", "shutdown", "rejected", "orphaned", "remove"}
_REJECTIONS = 3  # a task rejected this often (a mount missing on its node, say) is a failure
_POLL_TASK_S = 2.0  # how often a waiting runner asks the manager about its task
# Its task ended: this long for the last log lines (late, in batches, on a loaded manager),
# then the runner ends without them, and says so.
_LAST_LINES_S = 30.0
_KILLED = 137  # as a container's exit code: SIGKILL
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


@dataclass(frozen=True)
class SwarmNode:
    node_id: str
    name: str  # node-1 on the test swarm, else the node's hostname
    engine: docker.DockerClient | None  # the node's own engine, where the lab can reach it


class ClockServer:
    """Answers the tasks' clock exchanges in ``directory``: each ``<x>.ask`` gets an
    ``<x>.reply`` holding the lab's t_mono. It looks every ``_CLOCK_POLL_S``, which the round
    trip, and so the error, includes."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> ClockServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                for entry in os.scandir(self.directory):
                    if entry.name.endswith(".ask"):
                        self._answer(Path(entry.path))
            time.sleep(_CLOCK_POLL_S)

    def _answer(self, ask: Path) -> None:
        t_mono = time.monotonic()
        tmp = ask.with_name("." + ask.name + ".reply.tmp")
        tmp.write_text(f"{t_mono!r}\n")
        tmp.replace(ask.with_suffix(".reply"))
        ask.unlink()


def node_clock(
    node: str, exchanges: Mapping[str, tuple[float, float, float]], wall_minus_mono: float
) -> NodeClock:
    """The node's clock from its exchanges (phase -> the node's wall clock when it asked and
    when it read the reply, the lab's t_mono in between): each bounds the shift by half its
    round trip; two of them also by how much the shift moved between them (drift)."""
    if not exchanges:
        return NodeClock(node, -wall_minus_mono, UNMEASURED_ERROR_S, wall_minus_mono)
    shifts, errors = [], []
    for n1, n2, lab_mono in exchanges.values():
        shifts.append(lab_mono - (n1 + n2) / 2)
        errors.append(max(0.0, n2 - n1) / 2)
    shift = sum(shifts) / len(shifts)
    error = max(errors) + (max(shifts) - min(shifts)) / 2
    return NodeClock(node, shift, error, wall_minus_mono)


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
        self._finish(_KILLED, "its service went away before its last line")

    def _take(self, line: str) -> bool:
        """Take one line of the stamper; True at its last."""
        mark, _, rest = line.partition(" ")
        if mark != _stamp.MARK:
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
            return _KILLED, "its service was removed"
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
        self._finish(_KILLED)

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
        uid, gid = runner_user(spec, self._chowned)
        for m in spec.mounts:
            if m.target == CLOCK_DIR and m.source not in self._clocks:
                self._servers.enter_context(ClockServer(m.source))
                self._clocks.add(m.source)
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
        labels = {LABEL_RUN: self._run_id, LABEL_RUNNER: spec.name, LABEL_OWNER: self._owner}
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
                labels=labels,
                container_labels=labels,
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


def _services(manager: docker.DockerClient, label: str) -> list[Service]:
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
    for service in _services(manager, label):
        with contextlib.suppress(docker.errors.APIError):
            service.remove()  # type: ignore[no-untyped-call]
    _remove_containers(nodes, label)


def reap_orphans(manager: docker.DockerClient, nodes: list[SwarmNode]) -> list[str]:
    """Remove the services and task containers of orchestrators (on this host) that are
    gone."""
    removed = []
    for service in _services(manager, LABEL_OWNER):
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
        runner = images.plan(self._base_image, native).runner
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

    def view(
        self,
        run_dir: Path,
        runner: str,
        checkout_path: str,
        resources: Mapping[str, Path],
        binaries: frozenset[str],
    ) -> RunnerView:
        if self.cache_volume is not None and not (run_dir / "cache").is_symlink():
            raise UsageError(
                f"the cache volume {self.cache_volume.name} is the tasks' cache, so the run "
                "must read the same storage as a shared cache directory (--cache-dir)"
            )
        view = container_view(checkout_path, resources)
        clocks = run_dir / "clock"
        clocks.mkdir(exist_ok=True)
        clocks.chmod(0o1777)  # every runner's uid writes its asks there
        stamper = Mount(Path(_stamp.__file__), STAMPER, read_only=True)
        return dataclasses.replace(view, mounts=(*view.mounts, stamper, Mount(clocks, CLOCK_DIR)))

    def leftovers(self, run_dir: Path) -> list[str]:
        """The run's services, and its task containers on nodes the lab can see."""
        manager = self._connect()
        label = f"{LABEL_RUN}={run_dir.name}"
        found = [str(s.name) for s in _services(manager, label)]
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
