"""`cachelab setup --project`: what a project's backend asks for an editable build, asked
offline in an environment of its static build requirements made from the wheelhouse."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lab.errors import ToolchainError
from lab.log import logging_to
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


def test_a_failing_step_is_one_line_and_the_lines_before_it_are_logged(
    lab_toolchain: Toolchain, tmp_path: Path
) -> None:
    """A backend that fails when asked: the error is its last line; what it said before is
    in the log, not in the error."""
    project = tmp_path / "failing-requires"
    shutil.copytree(PLAIN.parent / "failing-requires", project)
    logged: list[str] = []
    with logging_to(logged.append), pytest.raises(ToolchainError) as raised:
        editable_requires(lab_toolchain.root, project, open_project(project), tmp_path / "e1")
    assert "\n" not in str(raised.value)
    assert str(raised.value).endswith(
        "asking's get_requires_for_build_editable failed: RuntimeError: no idea what an "
        "editable build needs"
    )
    assert any("step 19" in line for line in logged)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "1"\n'
        '[build-system]\nrequires = ["no-such-dist-anywhere"]\nbuild-backend = "asking"\n'
    )
    with logging_to(logged.append), pytest.raises(ToolchainError) as raised:
        editable_requires(lab_toolchain.root, project, open_project(project), tmp_path / "e2")
    assert "\n" not in str(raised.value)
    assert "its build requirements from the wheelhouse" in str(raised.value)
    assert "no-such-dist-anywhere" in str(raised.value)
