from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from lab import resources
from lab.cli import main
from lab.errors import ToolchainError
from lab.toolchain import Toolchain, fetch
from lab.toolchain.extras import Extras


def test_a_missing_resource_says_what_is_missing_and_what_to_run(tmp_path: Path) -> None:
    toolchain = Toolchain(tmp_path)
    with pytest.raises(ToolchainError, match=r"no offline wheelhouse at .*: run `make setup`"):
        toolchain.resource(resources.WHEELHOUSE)
    (tmp_path / "wheelhouse").mkdir()
    (tmp_path / "wheelhouse" / ".inputs.json").write_text("{}")
    assert toolchain.resource(resources.WHEELHOUSE) == tmp_path / "wheelhouse"
    with pytest.raises(ToolchainError, match=r"uv 0\.13\.9 is not installed at"):
        toolchain.resource(resources.uv("0.13.9"))
    with pytest.raises(ToolchainError, match=r"no vendored crates at .*with cargo on PATH"):
        toolchain.resource(resources.CRATES)
    with pytest.raises(ToolchainError, match=r"lacks \['filelock'"):
        toolchain.resource(resources.REFBUILDER)
    with pytest.raises(ToolchainError, match=r"no resource named 'nope'"):
        toolchain.resource("nope")


def test_the_repository_toolchain_is_complete(lab_toolchain: Toolchain) -> None:
    for name in (resources.WHEELHOUSE, resources.CRATES, resources.REFBUILDER):
        assert lab_toolchain.resource(name).is_dir()
    for version in resources.UV_VERSIONS:
        assert (lab_toolchain.resource(resources.uv(version)) / "bin" / "uv").is_file()
    wheels = {p.name.split("-")[0].lower() for p in lab_toolchain.wheelhouse.glob("*.whl")}
    assert {"hatchling", "editables", "maturin", "scikit_build_core", "uv", "pip"} <= wheels
    assert (lab_toolchain.vendor / "pyo3-0.22.6").is_dir()


def test_the_builder_bundle_follows_its_sources(lab_toolchain: Toolchain) -> None:
    """Made once per content: the same sources give the same directory, never rebuilt."""
    first = lab_toolchain.resource(resources.REFBUILDER)
    assert lab_toolchain.resource(resources.REFBUILDER) == first
    assert (first / "__main__.py").is_file() and (first / "lab" / "contract.py").is_file()


def test_what_projects_added_joins_the_wheelhouse_inputs_and_stays(tmp_path: Path) -> None:
    """`setup --project` records what a project needs; every later `setup` keeps it, and
    a wheelhouse made again starts from the wheels it had."""
    plain = fetch.wheelhouse_requirements(tmp_path)
    assert plain == fetch.wheelhouse_requirements()
    extras = Extras()
    extras.add("mkdocs 1.6.1", ["hatchling", "babel"])
    extras.save(tmp_path)
    added = fetch.wheelhouse_requirements(tmp_path)
    assert set(added) - set(plain) == {"babel"}
    assert fetch._digest(added) != fetch._digest(plain)
    old = tmp_path / "wheelhouse"
    old.mkdir()
    (old / "hatchling-1.33.0-py3-none-any.whl").write_text("w")
    fetch._seed(tmp_path / "staging", old)
    assert [p.name for p in (tmp_path / "staging").iterdir()] == [
        "hatchling-1.33.0-py3-none-any.whl"
    ]


def test_a_failed_stage_leaves_the_old_directory_alone(tmp_path: Path) -> None:
    target = tmp_path / "wheelhouse"
    target.mkdir()
    (target / "old.whl").write_text("")
    with pytest.raises(RuntimeError), fetch._staged(target) as staging:
        staging.mkdir()
        (staging / "half.whl").write_text("")
        raise RuntimeError("the download broke")
    assert [p.name for p in tmp_path.iterdir()] == ["wheelhouse"]
    assert [p.name for p in target.iterdir()] == ["old.whl"]


def test_a_release_that_is_not_pinned_says_how_to_add_it(tmp_path: Path) -> None:
    (tmp_path / "wheelhouse").mkdir()
    (tmp_path / "wheelhouse" / ".inputs.json").write_text("{}")
    with pytest.raises(ToolchainError, match=r"run `cachelab setup --uv-version 0\.1\.2`"):
        Toolchain(tmp_path).resource(resources.uv("0.1.2"))


@pytest.mark.integration
def test_any_uv_release_joins_the_toolchain_and_reproduces_the_wait(
    tmp_path: Path, lab_toolchain: Toolchain, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cachelab setup --uv-version 0.12.24` (from the package registry, as `make` may reach
    it), then uv@0.12.24 is a subject like the pinned ones."""
    assert main(["--lab-dir", str(lab_toolchain.root), "setup", "--uv-version", "0.12.24"]) == 0
    binary = lab_toolchain.uv_binary("0.12.24")
    said = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True)
    assert said.stdout.startswith("uv 0.12.24")
    capsys.readouterr()
    argv = ["run", "issue-15380", "--subjects", "uv@0.12.24", "--set", "build_delay=2"]
    assert main([*argv, "--backend", "local", "--runs-dir", str(tmp_path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["subject"] == "uv@0.12.24" and result["serialized"] is True
    assert result["longest_wait"]["wait_s"] >= 1.5
