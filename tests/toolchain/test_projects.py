"""`cachelab setup --project`: what a project's backend asks for an editable build, asked
offline in an environment of its static build requirements made from the wheelhouse."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lab.projects import template
from lab.projects.project import open_project
from lab.toolchain import Toolchain
from lab.toolchain.projects import editable_requires
from tests.projects.test_project import PLAIN

pytestmark = pytest.mark.integration


def test_the_backend_is_asked_what_an_editable_build_needs_beyond_its_static_requirements(
    lab_toolchain: Toolchain, tmp_path: Path
) -> None:
    flit = tmp_path / "flit"
    shutil.copytree(PLAIN, flit)
    asked = editable_requires(lab_toolchain.root, flit, open_project(flit), tmp_path / "env-1")
    assert asked == []  # flit-core needs nothing more
    hatch = tmp_path / "hatch"
    template.get("hatchling").render(hatch, {"build_delay": 0})
    project = open_project(hatch)
    asked = editable_requires(lab_toolchain.root, hatch, project, tmp_path / "env-2")
    assert [r.split("~")[0] for r in asked] == ["editables"]  # hatchling's editable wheels
