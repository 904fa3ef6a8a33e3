"""Run one scenario: prepare the run directory, start the runners, record, summarize.

Everything a run produces stays in ``runs/<id>/``: the resolved scenario, the rendered
checkouts, the shared cache, one log per runner, ``history.jsonl`` and ``result.json``.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from lab import template
from lab.builders.base import SYSTEM_PATH, Builder
from lab.builders.reference import ReferenceBuilder
from lab.builders.uv import UvBuilder
from lab.errors import LabError
from lab.history import CHECK, RUN, Event, History, Observation, now
from lab.result import RunResult, summarize
from lab.runners.base import Backend, Mount, RunnerPaths, RunnerSpec, RunningRunner
from lab.scenario import Scenario, Topology
from lab.toolchain import Toolchain

EventCallback = Callable[[Event], None]


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def run_id(self) -> str:
        return self.path.name

    @classmethod
    def create(cls, runs_dir: Path, scenario: str) -> RunDir:
        runs_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for attempt in range(1, 1000):
            suffix = "" if attempt == 1 else f"-{attempt}"
            path = runs_dir / f"{stamp}-{scenario}{suffix}"
            try:
                path.mkdir()
            except FileExistsError:
                continue
            return cls(path)
        raise LabError(f"cannot create a run directory in {runs_dir}: 999 exist for this second")

    def point_latest(self) -> None:
        """Make ``runs/latest`` name this run, replacing the link atomically."""
        link = self.path.parent / "latest"
        tmp = self.path.parent / f".latest.{os.getpid()}"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(self.path.name)
        tmp.replace(link)


class _RunnerLog:
    """A runner's output with arrival times, fed by its stdout and stderr readers."""

    def __init__(self, path: Path) -> None:
        self._file: TextIO = path.open("w", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, t_mono: float, stream: str, line: str) -> bool:
        """Append one line; True if it is the runner's first."""
        with self._lock:
            if self._file.closed:  # a reader thread that outlived an interrupted run
                return False
            first = self._file.tell() == 0
            self._file.write(f"{t_mono:.6f} {stream} {line}\n")
            self._file.flush()
            return first

    def close(self) -> None:
        with self._lock:
            self._file.close()


# Every runner checks its install the same way, whatever built it: the template's check code
# runs in the venv, and a line says it passed.
CHECK_PASSED = "cachelab-check: passed"
_CHECKED = (
    "sh",
    "-c",
    f'set -e; "$@"; "$CACHELAB_VENV/bin/python" -c "$CACHELAB_CHECK"; echo "{CHECK_PASSED}"',
    "sh",
)


def make_builder(scenario: Scenario, module: str) -> Builder:
    if scenario.builder == "uv":
        return UvBuilder(scenario.uv_version, scenario.command)
    return ReferenceBuilder(scenario.builder, module, scenario.freshness, scenario.tree_lock)


def runner_names(count: int) -> list[str]:
    return [f"runner-{i}" for i in range(1, count + 1)]


def _offline_cargo(paths: RunnerPaths, home: Path, path: str) -> dict[str, str]:
    """Cargo in a runner: crates only from the vendored directory, never the network."""
    cargo_home = home / ".cargo"
    cargo_home.mkdir(parents=True, exist_ok=True)
    (cargo_home / "config.toml").write_text(
        '[source.crates-io]\nreplace-with = "vendored"\n\n'
        f'[source.vendored]\ndirectory = "{paths.vendor}"\n\n[net]\noffline = true\n'
    )
    env = {"CARGO_HOME": f"{paths.home}/.cargo"}
    if paths.rust_bin:
        env["PATH"] = f"{paths.rust_bin}:{path}"
    return env


def _checkout(tmpl: template.Template, scenario: Scenario, dest: Path) -> None:
    tmpl.render(dest, scenario.template_params())
    # The mount point of each runner's private tmpfs .venv, made now and writable for any uid:
    # Docker copies an existing mount point's mode into the tmpfs it mounts there.
    venv = dest / ".venv"
    venv.mkdir()
    venv.chmod(0o1777)


def _prepare(
    scenario: Scenario,
    backend: Backend,
    toolchain: Toolchain,
    tmpl: template.Template,
    builder: Builder,
    root: Path,
) -> list[RunnerSpec]:
    """Render the checkouts, lay out the run directory and describe each runner."""
    (root / "scenario.json").write_text(scenario.model_dump_json(indent=2) + "\n")
    (root / "cache").mkdir()
    (root / "logs").mkdir()

    specs: list[RunnerSpec] = []
    shared = scenario.topology is Topology.SHARED_TREE
    if shared:  # one physical tree, mounted into every runner
        _checkout(tmpl, scenario, root / "checkouts" / "shared")
    for name in runner_names(scenario.runners):
        checkout = root / "checkouts" / ("shared" if shared else name)
        if not shared:
            _checkout(tmpl, scenario, checkout)
        checkout_path = scenario.checkout_path
        if scenario.topology is Topology.DIFFERENT_PATHS:
            checkout_path += f"-{name}"
        paths = backend.paths(root, name, checkout_path)
        private = root / "runners" / name
        for sub in ("tmp", "home"):
            (private / sub).mkdir(parents=True)
        mounts = [
            Mount(checkout, paths.src),
            Mount(root / "cache", paths.cache),
            Mount(private / "tmp", paths.tmp),
            Mount(private / "home", paths.home),
            Mount(toolchain.wheelhouse, paths.wheelhouse, read_only=True),
        ]
        if paths.uv_from_host:
            mounts.append(Mount(toolchain.root / "uv", paths.uv_root, read_only=True))
        env = {
            **builder.env(paths),
            "CACHELAB_VENV": f"{paths.src}/.venv",
            "CACHELAB_CHECK": tmpl.check,
        }
        if tmpl.vendor_crates:
            mounts.append(Mount(toolchain.vendor, paths.vendor, read_only=True))
            env.update(_offline_cargo(paths, private / "home", env.get("PATH", SYSTEM_PATH)))
        specs.append(
            RunnerSpec(
                name=name,
                argv=[*_CHECKED, *builder.argv(paths, name)],
                env=env,
                workdir=paths.src,
                mounts=mounts,
                tmpfs=(f"{paths.src}/.venv",),
                log_path=root / "logs" / f"{name}.log",
            )
        )

    return specs


def run(
    scenario: Scenario,
    backend: Backend,
    toolchain: Toolchain,
    runs_dir: Path,
    on_event: EventCallback | None = None,
) -> RunResult:
    """Run ``scenario`` on ``backend``. Interrupts still leave a result and no runner behind."""
    tmpl = template.get(scenario.template)
    toolchain.check(scenario.uv_version if scenario.builder == "uv" else None, tmpl.vendor_crates)
    backend.check()
    builder = make_builder(scenario, tmpl.import_name)
    run_dir = RunDir.create(runs_dir, scenario.name)
    root = run_dir.path
    try:
        specs = _prepare(scenario, backend, toolchain, tmpl, builder, root)
    except BaseException:  # incl. Ctrl-C: leave no half-prepared run directory behind
        shutil.rmtree(root, ignore_errors=True)
        raise
    run_dir.point_latest()

    status = "failed"
    logs: list[_RunnerLog] = []
    with History(root / "history.jsonl") as history:

        def record(runner: str, obs: Observation, stamp: tuple[float, float] | None = None) -> None:
            event = history.record(runner, obs, stamp)
            if on_event is not None:
                on_event(event)

        try:
            with backend.session(run_dir.run_id) as session:
                handles: dict[str, RunningRunner] = {}
                for spec in specs:
                    assert spec.log_path is not None
                    log = _RunnerLog(spec.log_path)
                    logs.append(log)

                    def on_line(
                        stream: str, line: str, name: str = spec.name, log: _RunnerLog = log
                    ) -> None:
                        stamp = now()
                        if log.write(stamp[0], stream, line):
                            # the runner is up: start-up overhead ends here
                            record(name, Observation(RUN, "output"), stamp)
                        obs = (
                            Observation(CHECK, "ok")
                            if line == CHECK_PASSED
                            else builder.observe(line)
                        )
                        if obs is not None:
                            record(name, obs, stamp)

                    record(spec.name, Observation(RUN, "start"))
                    handles[spec.name] = session.start(spec, on_line)
                status = _wait_all(handles, scenario.timeout, record)
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            for log in logs:
                log.close()
            result = summarize(
                history.events,
                run_id=run_dir.run_id,
                scenario=scenario.name,
                status=status,
                backend=backend.name,
                builder=builder.name,
                uv_version=scenario.uv_version if scenario.builder == "uv" else None,
                topology=scenario.topology.value,
                build_delay_s=scenario.build_delay,
            )
            result.save(root / "result.json")
    return result


def _wait_all(
    handles: dict[str, RunningRunner],
    timeout: float,
    record: Callable[[str, Observation], None],
) -> str:
    """Wait for every runner; each exit is recorded by its own thread the moment it happens."""
    codes: dict[str, int | None] = {}

    def wait_one(name: str, handle: RunningRunner) -> None:
        rc = handle.wait()
        codes[name] = rc
        record(name, Observation(RUN, "end", data={"rc": rc, "pid": handle.pid}))

    waiters = [
        threading.Thread(target=wait_one, args=item, daemon=True) for item in handles.items()
    ]
    for waiter in waiters:
        waiter.start()
    deadline = time.monotonic() + timeout
    while any(w.is_alive() for w in waiters):
        if time.monotonic() > deadline:
            for name, handle in handles.items():
                if name not in codes:
                    handle.kill()
            for waiter in waiters:
                waiter.join()
            return "timeout"
        for waiter in waiters:
            waiter.join(timeout=0.1)  # short joins keep Ctrl-C responsive
    return "ok" if all(rc == 0 for rc in codes.values()) else "failed"
