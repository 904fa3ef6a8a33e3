"""The real uv, pinned and offline, as a builder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lab.builders import uvlog
from lab.builders.base import SYSTEM_PATH
from lab.history import LOCK, Observation
from lab.runners.base import RunnerPaths


@dataclass(frozen=True)
class UvBuilder:
    version: str
    command: Sequence[str]  # e.g. ("uv", "sync", "--reinstall")

    @property
    def name(self) -> str:
        return "uv"

    def argv(self, paths: RunnerPaths, runner: str) -> list[str]:
        return [self._binary(paths), *self.command[1:]]

    def env(self, paths: RunnerPaths) -> dict[str, str]:
        """A fresh environment: nothing of the host's leaks in, everything comes offline."""
        return {
            "PATH": f"{paths.uv_root}/{self.version}/bin:{SYSTEM_PATH}",
            "HOME": paths.home,
            "TMPDIR": paths.tmp,  # uv takes a project lock in $TMPDIR; keep it per runner
            "LANG": "C.UTF-8",
            "NO_COLOR": "1",
            "RUST_LOG": uvlog.RUST_LOG,
            "UV_CACHE_DIR": paths.cache,
            "UV_OFFLINE": "1",
            "UV_FIND_LINKS": paths.wheelhouse,
            "UV_PYTHON": paths.python,
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_NO_CONFIG": "1",
            "UV_LINK_MODE": "copy",  # the .venv is a tmpfs, so hardlinks into the cache fail
        }

    def observe(self, line: str) -> Observation | None:
        parsed = uvlog.parse_line(line)
        if parsed is None:
            return None
        data = {
            k: v
            for k, v in (
                ("mode", parsed.mode),
                ("lock", parsed.lock),
                ("timeout_s", parsed.timeout_s),
            )
            if v is not None
        }
        return Observation(LOCK, parsed.phase, parsed.key, data)

    def _binary(self, paths: RunnerPaths) -> str:
        return f"{paths.uv_root}/{self.version}/bin/uv"
