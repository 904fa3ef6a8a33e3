"""The real uv, pinned and offline, as a subject."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from lab import resources
from lab.contract import LockKind, Op
from lab.runners.view import Needs, RunnerView
from lab.subjects import uvlog
from lab.subjects.base import Observation, plain_env
from lab.vocabulary import StepKind


@dataclass(frozen=True)
class Uv:
    version: str
    command: tuple[str, ...]  # e.g. ("uv", "sync", "--reinstall")
    lock_timeout: float | None = None  # UV_LOCK_TIMEOUT, which uv reads from 0.9.16 on
    failpoints = False

    @property
    def name(self) -> str:
        return f"uv@{self.version}"

    @property
    def label(self) -> str:
        return f"uv {self.version}"

    @property
    def needs(self) -> Needs:
        return Needs(resources=frozenset({resources.WHEELHOUSE, resources.uv(self.version)}))

    def argv(self, view: RunnerView) -> list[str]:
        uv = f"{view.resources[resources.uv(self.version)]}/bin/uv"
        if self.command[1:2] != ("pip",) or len(self.command) < 3:
            return [uv, *self.command[1:]]
        # `uv pip` installs into an environment that exists, and would take UV_PYTHON (the
        # runner's own interpreter) for it: the checkout's venv is made first, and named
        venv = f"{view.src}/.venv"
        make = [uv, "venv", "--quiet", venv]
        pip = [uv, "pip", self.command[2], "--python", f"{venv}/bin/python", *self.command[3:]]
        return ["sh", "-ec", f"{shlex.join(make)}\nexec {shlex.join(pip)}"]

    def env(self, view: RunnerView) -> dict[str, str]:
        """A fresh environment: nothing of the host's leaks in, everything comes offline."""
        # TMPDIR: uv takes a project lock in $TMPDIR; the runner's own keeps it per runner
        return (
            plain_env(view)
            | {
                "PATH": f"{view.resources[resources.uv(self.version)]}/bin:{view.bin_path}",
                "NO_COLOR": "1",
                "RUST_LOG": uvlog.RUST_LOG,
                "UV_CACHE_DIR": view.cache,
                "UV_OFFLINE": "1",
                "UV_FIND_LINKS": view.resources[resources.WHEELHOUSE],
                "UV_PYTHON": view.python,
                "UV_PYTHON_DOWNLOADS": "never",
                "UV_NO_CONFIG": "1",
                "UV_LINK_MODE": "copy",  # the .venv is a tmpfs, so hardlinks into the cache fail
            }
            | ({"UV_LOCK_TIMEOUT": f"{self.lock_timeout:g}"} if self.lock_timeout else {})
        )

    def cache_argv(self, kind: StepKind, view: RunnerView) -> list[str] | None:
        return [f"{view.resources[resources.uv(self.version)]}/bin/uv", "cache", kind]

    def observe(self, line: str) -> Observation | None:
        parsed = uvlog.parse_line(line)
        if parsed is None:
            return None
        data: dict[str, object] = {"kind": LockKind.ENTRY}
        data |= {
            k: v
            for k, v in (
                ("mode", parsed.mode),
                ("lock", parsed.lock),
                ("timeout_s", parsed.timeout_s),
            )
            if v is not None
        }
        return Observation(Op.LOCK, parsed.phase, parsed.key, data)
