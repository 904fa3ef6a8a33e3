"""Programs of the host that a runner on the local backend needs on PATH (a compiler)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from lab.errors import ToolchainError


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
