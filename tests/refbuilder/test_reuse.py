"""The coalesce policy's guess: does a build serve other checkouts?"""

from __future__ import annotations

import json
from pathlib import Path

from lab.contract import ENTRY_MANIFEST
from lab.refbuilder._project import BuildSystem
from lab.refbuilder._reuse import expected

HATCHLING = BuildSystem(("hatchling",), "hatchling.build")


def _entry(key_dir: Path, revision: str, created: float, side_effects: dict[str, str]) -> None:
    (key_dir / revision).mkdir(parents=True)
    manifest = {"created_wall": created, "side_effects": side_effects}
    (key_dir / revision / ENTRY_MANIFEST).write_text(json.dumps(manifest))


def test_with_no_build_yet_the_backend_decides(tmp_path: Path) -> None:
    assert expected(tmp_path, HATCHLING) == (True, "hatchling.build leaves the source tree alone")
    setuptools = BuildSystem(("setuptools",), "setuptools.build_meta:__legacy__")
    assert expected(tmp_path, setuptools)[0] is False
    in_tree = BuildSystem((), "inplace_backend", ("backend",))
    assert expected(tmp_path, in_tree) == (
        False,
        "an in-tree backend (inplace_backend), not known to leave the tree alone",
    )


def test_the_last_build_of_the_key_outweighs_the_backend(tmp_path: Path) -> None:
    _entry(tmp_path, "old", 1.0, {})
    _entry(tmp_path, "new", 2.0, {"src/pkg/_native.so": "abc"})
    assert expected(tmp_path, HATCHLING) == (
        False,
        "its last build left files in its tree: src/pkg/_native.so",
    )
    _entry(tmp_path, "newer", 3.0, {})
    setuptools = BuildSystem(("setuptools",), "setuptools.build_meta")
    assert expected(tmp_path, setuptools) == (True, "its last build left nothing in its tree")


def test_a_manifest_that_cannot_be_read_is_no_evidence(tmp_path: Path) -> None:
    (tmp_path / "torn").mkdir()
    (tmp_path / "torn" / ENTRY_MANIFEST).write_text("{not json")
    _entry(tmp_path, "odd", 5.0, {})
    (tmp_path / "odd" / ENTRY_MANIFEST).write_text(json.dumps({"created_wall": "soon"}))
    assert expected(tmp_path, HATCHLING)[1] == "hatchling.build leaves the source tree alone"
