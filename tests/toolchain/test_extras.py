"""What the wheelhouse holds beyond the lab's own needs, and what it lacks for a project,
said before a run starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.errors import ToolchainError
from lab.projects.project import open_project
from lab.toolchain.extras import Extras, missing, offline_check
from lab.toolchain.projects import _join
from tests.projects.test_project import PLAIN


def test_missing_names_what_no_file_of_the_wheelhouse_satisfies(tmp_path: Path) -> None:
    for name in (
        "hatchling-1.33.0-py3-none-any.whl",
        "hatch_vcs-0.5.0-py3-none-any.whl",
        "editables-0.6.tar.gz",
        "README.txt",
    ):
        (tmp_path / name).write_text("")
    wanted = [
        "hatchling>=1.27,<2",
        "Hatch-VCS",  # names compare as PEP 503 normalizes them
        "editables~=0.3",
        "hatch-fancy-pypi-readme>=23",
        "setuptools-scm>=8,<11",
        "ruff>=0.16; extra == 'all'",  # never asked of a build without the extra
        "pywin32; sys_platform == 'win32'",
        "not a requirement",
    ]
    assert missing(tmp_path, wanted) == [
        "hatch-fancy-pypi-readme>=23",
        "setuptools-scm>=8,<11",
        "not a requirement",
    ]
    assert missing(tmp_path / "none", ["hatchling"]) == ["hatchling"]


def test_extras_are_kept_per_project_and_say_which_are_new(tmp_path: Path) -> None:
    extras = Extras.load(tmp_path)
    assert extras.add("attrs 26.1.0", ["hatchling", "hatch-vcs"]) == ["hatch-vcs", "hatchling"]
    extras.save(tmp_path)
    again = Extras.load(tmp_path)
    assert again.add("urllib3 2.8.0", ["hatchling", "setuptools-scm>=8"]) == ["setuptools-scm>=8"]
    assert again.requirements == ["hatch-vcs", "hatchling", "setuptools-scm>=8"]
    assert sorted(again.projects) == ["attrs 26.1.0", "urllib3 2.8.0"]


def test_what_is_no_requirement_is_one_line_naming_it_and_nothing_is_recorded() -> None:
    extras = Extras()
    extras.add("attrs-26.1.0", ["hatchling"])
    for said in ("hatch-vcs >=", 3):
        with pytest.raises(ToolchainError) as caught:
            extras.add("attrs-26.1.0", ["editables", said])  # type: ignore[list-item]
        message = str(caught.value)
        assert message.startswith(f"attrs-26.1.0: {said!r} is not a requirement (PEP 508)")
        assert "\n" not in message
    assert extras.requirements == ["hatchling"]


def test_a_build_requirement_the_wheelhouse_lacks_is_one_line_before_a_run(
    tmp_path: Path,
) -> None:
    project = open_project(PLAIN)
    (tmp_path / "wheelhouse").mkdir()
    with pytest.raises(ToolchainError) as caught:
        offline_check(project, tmp_path)
    message = str(caught.value)
    assert "its build requirement 'flit_core>=3.4' is not in the offline wheelhouse" in message
    assert f"`cachelab setup --project {PLAIN}`" in message and "\n" not in message
    (tmp_path / "wheelhouse" / "flit_core-3.12.0-py3-none-any.whl").write_text("")
    offline_check(project, tmp_path)  # nothing lacking: nothing said
    extras = Extras()  # what its backend asked for at setup counts too
    extras.add(project.key, ["flit_core>=3.4", "editables~=0.3"])
    extras.save(tmp_path)
    with pytest.raises(ToolchainError, match=r"'editables~=0\.3' is not in the offline"):
        offline_check(project, tmp_path)


def test_a_project_is_recorded_even_where_the_wheelhouse_has_all_it_needs(
    tmp_path: Path,
) -> None:
    extras = Extras()
    extras.add("plain-demo-1.2.0", ["flit_core>=3.4"])
    extras.save(tmp_path)
    _join(tmp_path, {"other-2.0": ["flit_core>=3.4"]})  # nothing new: the wheelhouse stays
    assert Extras.load(tmp_path).projects == {
        "plain-demo-1.2.0": ["flit_core>=3.4"],
        "other-2.0": ["flit_core>=3.4"],
    }
