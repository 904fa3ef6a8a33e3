from __future__ import annotations

from pathlib import Path

import pytest

from lab import toolchain
from lab.errors import ToolchainError
from lab.toolchain import Toolchain


def test_check_says_what_is_missing_and_what_to_run(tmp_path: Path) -> None:
    tc = Toolchain(tmp_path)
    with pytest.raises(ToolchainError, match=r"no offline wheelhouse at .*: run `make setup`"):
        tc.check()
    (tmp_path / "wheelhouse").mkdir()
    (tmp_path / "wheelhouse" / ".inputs.json").write_text("{}")
    tc.check()
    with pytest.raises(ToolchainError, match=r"uv 0\.13\.9 is not installed at"):
        tc.check("0.13.9")
    with pytest.raises(ToolchainError, match=r"no vendored crates at .*with cargo on PATH"):
        tc.check(crates=True)


def test_the_repository_toolchain_is_complete(lab_toolchain: Toolchain) -> None:
    for version in toolchain.UV_VERSIONS:
        lab_toolchain.check(version, crates=True)
    wheels = {p.name.split("-")[0].lower() for p in lab_toolchain.wheelhouse.glob("*.whl")}
    assert {"hatchling", "editables", "maturin", "scikit_build_core", "uv"} <= wheels
    assert (lab_toolchain.vendor / "pyo3-0.22.6").is_dir()


def test_a_failed_stage_leaves_the_old_directory_alone(tmp_path: Path) -> None:
    target = tmp_path / "wheelhouse"
    target.mkdir()
    (target / "old.whl").write_text("")
    with pytest.raises(RuntimeError), toolchain._staged(target) as staging:
        staging.mkdir()
        (staging / "half.whl").write_text("")
        raise RuntimeError("the download broke")
    assert [p.name for p in tmp_path.iterdir()] == ["wheelhouse"]
    assert [p.name for p in target.iterdir()] == ["old.whl"]
