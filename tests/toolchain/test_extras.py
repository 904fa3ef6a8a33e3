"""What the wheelhouse holds beyond the lab's own needs, and what it lacks for a project,
said before a run starts."""

from __future__ import annotations

from pathlib import Path

from lab.toolchain.extras import Extras, missing


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
