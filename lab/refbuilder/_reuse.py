"""Whether a build will serve other checkouts, guessed before it runs (the coalesce policy).

A build whose backend writes into the source tree (an ``.egg-info``, an extension built in
place) serves only the tree it ran in: a fresh checkout lacks those files, so its lookup
misses, and waiting for that build would be uv's serialization over again. The guess comes
from the last build of the same key, whose manifest says what it left in its tree, and with
none, from the backend. It decides only who waits for whom: every lookup still checks the
entry against its own tree, so a wrong guess costs time, never safety.
"""

from __future__ import annotations

import json
from pathlib import Path

from lab.contract import ENTRY_MANIFEST
from lab.refbuilder._project import BuildSystem

# Backends whose editable builds write into the source tree as a rule: setuptools (its
# .egg-info, and extensions built in place), pdm-backend (.pdm-build/), maturin (a mixed
# project's extension), meson-python (its build directory).
_TREE_WRITING = ("setuptools.build_meta", "pdm.backend", "maturin", "mesonpy")


def _left_by_last_build(key_dir: Path) -> list[str] | None:
    """What the newest entry published under ``key_dir`` left in its tree (None: no entry)."""
    newest_at, newest = float("-inf"), None
    for manifest in key_dir.glob(f"*/{ENTRY_MANIFEST}"):
        try:
            said = json.loads(manifest.read_text())
            created = float(said["created_wall"])
            left = sorted(str(path) for path in said["side_effects"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if created > newest_at:
            newest_at, newest = created, left
    return newest


def expected(key_dir: Path, system: BuildSystem) -> tuple[bool, str]:
    """Whether a build of this key is expected to serve other checkouts, and why."""
    left = _left_by_last_build(key_dir)
    if left:
        return False, f"its last build left files in its tree: {', '.join(left)}"
    if left is not None:
        return True, "its last build left nothing in its tree"
    if system.backend_path is not None:
        return False, f"an in-tree backend ({system.backend}), not known to leave the tree alone"
    if system.backend.split(":")[0] in _TREE_WRITING:
        return False, f"{system.backend} writes into the source tree"
    return True, f"{system.backend} leaves the source tree alone"
