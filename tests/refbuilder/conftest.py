from __future__ import annotations

import base64
import hashlib
import io
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from lab.contract import Event, Op, Phase, parse_event_line
from lab.projects import template
from lab.refbuilder._events import Events
from lab.toolchain import Toolchain

if TYPE_CHECKING:
    from lab.refbuilder._env import BuildEnv

# Git without the host's configuration, at a fixed time: one commit has one hash in every
# clone, hence one VCS version.
GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "cachelab",
    "GIT_AUTHOR_EMAIL": "cachelab@example.invalid",
    "GIT_COMMITTER_NAME": "cachelab",
    "GIT_COMMITTER_EMAIL": "cachelab@example.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00+00:00",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00+00:00",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


# The interpreter build envs and venvs are made from, as runners pass it.
BASE_PYTHON = Path(getattr(sys, "_base_executable", sys.executable)).resolve()


class RecordedEvents(Events):
    """The builder's events, kept in memory and read back through the contract."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        super().__init__("test", stream=self.buffer)

    @property
    def records(self) -> list[Event]:
        events = [parse_event_line(line) for line in self.buffer.getvalue().splitlines()]
        assert None not in events, "every line the builder writes is an event"
        return [e for e in events if e is not None]

    def phases(self, op: Op) -> list[Phase]:
        return [e.phase for e in self.records if e.op is op]


@pytest.fixture
def events() -> RecordedEvents:
    return RecordedEvents()


@pytest.fixture
def render(tmp_path: Path) -> Callable[..., Path]:
    """Render a template into tmp_path/<name>."""

    def _render(name: str, template_name: str = "hatchling", build_delay: float = 0) -> Path:
        dest = tmp_path / name
        template.get(template_name).render(dest, {"build_delay": build_delay})
        return dest

    return _render


@pytest.fixture
def wheelhouse(lab_toolchain: Toolchain) -> Path:
    return lab_toolchain.wheelhouse


WHEEL = "demo-1.0-py3-none-any.whl"


def wheel_bytes(
    payload: bytes, metadata: bytes = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
) -> bytes:
    """A small wheel whose one module holds ``payload``: sound, unless ``metadata`` says
    otherwise than its file name."""
    members = {
        "demo.py": payload,
        "demo-1.0.dist-info/METADATA": metadata,
        "demo-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nTag: py3-none-any\n",
    }
    record = [
        f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}"
        for name, data in members.items()
    ]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as whl:
        for name, data in members.items():
            whl.writestr(name, data)
        whl.writestr(
            "demo-1.0.dist-info/RECORD", "\n".join([*record, "demo-1.0.dist-info/RECORD,,"])
        )
    return out.getvalue()


def write_entry(path: Path, payload: bytes) -> Path:
    """An entry as the builder publishes one: a sound wheel and its manifest."""
    from lab.refbuilder._cache import write_manifest
    from lab.refbuilder._tree import file_digest

    path.mkdir(parents=True)
    (path / WHEEL).write_bytes(wheel_bytes(payload))
    size = (path / WHEEL).stat().st_size
    write_manifest(path, {"wheel": WHEEL, "size": size, "sha256": file_digest(path / WHEEL)})
    return path


def write_wheel(
    wheelhouse: Path,
    name: str,
    version: str = "1.0",
    requires: tuple[str, ...] = (),
    *,
    tag: str = "py3-none-any",
    files: dict[str, bytes] | None = None,
    extra_metadata: str = "",
) -> Path:
    """A sound wheel ``name``-``version`` in ``wheelhouse`` with ``Requires-Dist``
    ``requires`` and ``files`` (default: a module ``<name>.py`` saying its version);
    ``console_scripts`` go in ``entry_points.txt`` among ``files``."""
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{extra_metadata}"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    members = dict(files or {f"{module}.py": f"VERSION = {version!r}\n".encode()})
    members[f"{dist_info}/METADATA"] = metadata.encode()
    members[f"{dist_info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: {tag}\n".encode()
    )
    record = [
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}"
        for path, data in members.items()
    ]
    wheelhouse.mkdir(parents=True, exist_ok=True)
    wheel = wheelhouse / f"{module}-{version}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w") as whl:
        for path, data in members.items():
            whl.writestr(path, data)
        whl.writestr(f"{dist_info}/RECORD", "\n".join([*record, f"{dist_info}/RECORD,,"]))
    return wheel


def run_in(env: BuildEnv, code: str) -> str:
    """What ``code`` prints, run by the build env's interpreter."""
    proc = subprocess.run([str(env.python), "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()
