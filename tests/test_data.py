"""The lab installed as an ordinary wheel (not editable) finds its scenarios and image inputs."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lab import data
from lab.toolchain import Toolchain
from tests.conftest import REPO


def test_a_source_checkout_uses_its_top_level_directories() -> None:
    assert data.scenarios_dir() == REPO / "scenarios"
    assert data.images_dir() == REPO / "images"


@pytest.mark.integration
def test_a_wheel_carries_them_inside_the_package(tmp_path: Path, lab_toolchain: Toolchain) -> None:
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--find-links",
            str(lab_toolchain.wheelhouse),
            "--wheel-dir",
            str(tmp_path),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("cachelab-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        zf.extractall(site)
    assert "lab/_data/scenarios/issue-15380.toml" in names
    assert "lab/_data/images/runner/Dockerfile" in names
    # Imported from the unpacked wheel, away from the checkout: what a pip install gives.
    code = (
        f"import sys; sys.path.insert(0, {str(site)!r}); import json, lab; "
        "from lab import data, scenario; from lab.runners import images; "
        "print(json.dumps([lab.__file__, str(data.scenarios_dir()), str(data.images_dir()), "
        "scenario.load_named('issue-15380').name, images.tags().runner]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    module, scenarios, images_dir, name, runner = json.loads(proc.stdout)
    assert module == str(site / "lab" / "__init__.py")
    assert (scenarios, images_dir) == (
        str(site / "lab/_data/scenarios"),
        str(site / "lab/_data/images"),
    )
    assert name == "issue-15380" and runner.startswith("cachelab-runner:")
