"""The embedded backend: each runner is a process in private mount and network namespaces.

No Docker engine is needed. ``unshare --mount --net`` gives each runner its own view of the
file system, so every runner can see its own checkout bind-mounted at one identical path, and
an empty network namespace, so nothing reaches the network. Root uses the namespaces directly;
anyone else gets them inside a user namespace (``--map-root-user``). The namespaces and their
mounts vanish with the last process in them, so killing a runner's process group cleans up.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

from lab.errors import BackendUnavailable, RunnerStartError, ToolchainError
from lab.rundir import RunDir
from lab.runners.base import LineCallback, RunnerSpec, ViewRequest
from lab.runners.view import SYSTEM_PATH, Mount, RunnerView

_NS_FLAGS = ("--mount", "--net", "--propagation", "private")
_USERNS_FLAGS = ("--user", "--map-root-user", *_NS_FLAGS)


def _setup_script(spec: RunnerSpec) -> str:
    """Shell run inside the namespaces: mounts first, then exec the runner's command."""
    lines = ["set -eu"]
    for m in spec.mounts:
        source, target = shlex.quote(str(m.source)), shlex.quote(m.target)
        if m.source != Path(m.target):
            lines.append(f"mount --bind {source} {target}")
        if m.read_only:
            if m.source == Path(m.target):
                lines.append(f"mount --bind {source} {target}")
            lines.append(f"mount -o remount,bind,ro {target}")
    for path in spec.tmpfs:
        quoted = shlex.quote(path)
        lines.append(f"mkdir -p {quoted} && mount -t tmpfs -o mode=0755 tmpfs {quoted}")
    lines.append(f"cd {shlex.quote(spec.workdir)}")
    lines.append('exec "$@"')
    return "\n".join(lines)


class LocalRunner:
    def __init__(self, name: str, proc: subprocess.Popen[bytes], on_line: LineCallback) -> None:
        self.name = name
        self.pid: int | None = proc.pid
        self._proc = proc
        self._readers = [
            threading.Thread(target=_pump, args=(stream, label, on_line), daemon=True)
            for stream, label in ((proc.stdout, "stdout"), (proc.stderr, "stderr"))
            if stream is not None
        ]
        for reader in self._readers:
            reader.start()

    def wait(self, timeout: float | None = None) -> int | None:
        try:
            rc = self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        for reader in self._readers:
            reader.join(timeout=10)  # a child that left the group may keep a pipe open
        return rc

    def pause(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGCONT)

    def kill(self) -> None:
        # The whole group, even after the leader exited: a backend's children may live on.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        self._proc.wait()
        for reader in self._readers:
            reader.join(timeout=5)


def _pump(stream: IO[bytes], label: str, on_line: LineCallback) -> None:
    with stream:
        for raw in stream:
            on_line(label, raw.decode("utf-8", "replace").rstrip("\r\n"))


class LocalSession:
    def __init__(self, flags: tuple[str, ...], unshare: str) -> None:
        self._flags = flags
        self._unshare = unshare
        self._runners: list[LocalRunner] = []

    def start(self, spec: RunnerSpec, on_line: LineCallback) -> LocalRunner:
        for m in spec.mounts:
            Path(m.target).mkdir(parents=True, exist_ok=True)  # bind targets must exist
        argv = [
            self._unshare,
            *self._flags,
            "--",
            "sh",
            "-c",
            _setup_script(spec),
            "sh",
            *spec.argv,
        ]
        try:
            proc = subprocess.Popen(
                argv,
                env=dict(spec.env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise RunnerStartError(spec.name, str(exc)) from exc
        runner = LocalRunner(spec.name, proc, on_line)
        self._runners.append(runner)
        return runner

    def __enter__(self) -> LocalSession:
        return self

    def __exit__(self, *exc: object) -> None:
        for runner in self._runners:
            runner.kill()


@functools.cache  # asked by the backend's check and by every runner's view
def host_bin_dir(binary: str) -> Path:
    """The directory holding a host program, for a runner's PATH. rustup's proxies need the
    user's HOME, which runners do not get, so they resolve to the toolchain's own bin."""
    found = shutil.which(binary)
    if found is None:
        raise ToolchainError(f"`{binary}` is not on PATH; a runner here needs it")
    if Path(found).resolve().name == "rustup":
        proc = subprocess.run(
            [str(Path(found).with_name("rustc")), "--print", "sysroot"],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode == 0:
            return Path(proc.stdout.strip()) / "bin"
    return Path(found).parent


class LocalBackend:
    name = "local"
    live_output = True
    external_cache: str | None = None

    def __init__(self) -> None:
        self._flags: tuple[str, ...] | None = None

    def check(self, binaries: frozenset[str] = frozenset()) -> None:
        self._namespace_flags()
        for binary in sorted(binaries):  # runners take the host's own
            host_bin_dir(binary)

    def _namespace_flags(self) -> tuple[str, ...]:
        if self._flags is not None:
            return self._flags
        if shutil.which("unshare") is None:
            raise BackendUnavailable(self.name, "`unshare` (util-linux) is not on PATH")
        candidates = [_NS_FLAGS, _USERNS_FLAGS] if os.geteuid() == 0 else [_USERNS_FLAGS]
        failures = []
        for flags in candidates:
            probe = subprocess.run(
                ["unshare", *flags, "--", "sh", "-c", "mount -t tmpfs tmpfs /mnt"],
                capture_output=True,
                text=True,
                check=False,
            )
            if probe.returncode == 0:
                self._flags = flags
                return flags
            failures.append(
                f"`unshare {' '.join(flags)}`: {probe.stderr.strip() or probe.returncode}"
            )
        raise BackendUnavailable(
            self.name,
            "cannot create private mount and network namespaces ("
            + "; ".join(failures)
            + "). Run as root, enable unprivileged user namespaces, or use --backend docker.",
        )

    def view(self, request: ViewRequest) -> RunnerView:
        # Everything but the checkout appears at its host path. The checkout is bind-mounted,
        # in the runner's namespace only, at its scenario path below the runs directory: one
        # path for every run there (so a later run's key is an earlier one's, as in CI), and
        # nothing outside it is touched.
        run_dir, runner, resources = request.run_dir, request.runner, request.resources
        bins = [str(host_bin_dir(b)) for b in sorted(request.binaries)]
        return RunnerView(
            runner=runner,
            src=str(run_dir.mount_points / request.checkout_path.lstrip("/")),
            cache=str(run_dir.cache),
            tmp=str(run_dir.tmp(runner)),
            home=str(run_dir.home(runner)),
            python=_host_python(),
            resources={name: str(path) for name, path in resources.items()},
            bin_path=":".join(dict.fromkeys([*bins, SYSTEM_PATH])),
            mounts=tuple(Mount(path, str(path), read_only=True) for path in resources.values()),
        )

    def leftovers(self, run_dir: RunDir) -> list[str]:
        """Processes still running in the run's directory (none, after any run): the
        namespaces and their mounts live exactly as long as they do."""
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit() or int(proc.name) == os.getpid():
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                cwd = str((proc / "cwd").readlink())
            except OSError:
                continue
            if str(run_dir.path) in cmdline or cwd.startswith(str(run_dir.path)):
                found.append(f"pid {proc.name}: {cmdline.strip()[:80]}")
        return found

    def session(self, _run_id: str) -> LocalSession:  # each runner is its own process group
        return LocalSession(self._namespace_flags(), shutil.which("unshare") or "unshare")


def _host_python() -> str:
    """The interpreter behind this venv: runners create their own venvs from it."""
    return str(Path(getattr(sys, "_base_executable", sys.executable)).resolve())
