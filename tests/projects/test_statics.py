"""What a project says of itself is read with every field checked for its kind: a table, a
string, a list, a requirement of the wrong kind is one line naming its field and what it
takes (exit 2), never a traceback nor a wrong reading."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lab.cli import main
from lab.errors import ExitCode
from lab.projects.project import ProjectError, open_project
from tests.projects.test_project import PLAIN

NAMED = '[project]\nname = "x"\nversion = "1"\n'


@pytest.mark.parametrize(
    ("pyproject", "says"),
    [
        ('project = "x"\n', 'project = "x": expected a table'),
        ("[tool]\npoetry = 3\n", "tool.poetry = 3: expected a table"),
        (
            '[build-system]\nrequires = "setuptools"\n',
            'build-system.requires = "setuptools": expected a list of requirements (PEP 508',
        ),
        (
            '[build-system]\nrequires = ["setuptools", "flit_core >="]\n',
            'build-system.requires holds "flit_core >=": expected a list of requirements',
        ),
        ('[build-system]\nrequires = []\nbuild-backend = ["x"]\n', "build-backend = "),
        ('[build-system]\nrequires = []\nbackend-path = "."\n', "expected a list of strings"),
        ("[project]\nname = 3\n", "project.name = 3: expected a string"),
        ('[project]\nname = "x"\ndynamic = "version"\n', 'project.dynamic = "version"'),
        ('[project]\nname = "x"\nversion = 1.0\n', "project.version = 1.0: expected a string"),
        (NAMED + 'dependencies = ["ok", "no t ok"]\n', 'project.dependencies holds "no t ok"'),
        (NAMED + "optional-dependencies = []\n", "project.optional-dependencies = []"),
        ("[tool.flit.module]\nname = 1\n", "tool.flit.module.name = 1: expected a string"),
        ("[tool.maturin]\npython-source = 1\n", "tool.maturin.python-source = 1"),
        ('[tool.poetry]\nname = "x"\nversion = 2\n', "tool.poetry.version = 2"),
    ],
)
def test_a_field_of_the_wrong_kind_is_one_line_naming_it(
    tmp_path: Path, pyproject: str, says: str
) -> None:
    tree = tmp_path / "mine"
    shutil.copytree(PLAIN, tree)
    (tree / "pyproject.toml").write_text(pyproject)
    with pytest.raises(ProjectError) as caught:
        open_project(tree)
    message = str(caught.value)
    assert message.startswith(f"--project {tree}: pyproject.toml: ") and says in message
    assert "\n" not in message


def test_the_cli_says_it_in_one_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = tmp_path / "mine"
    shutil.copytree(PLAIN, tree)
    (tree / "pyproject.toml").write_text('[build-system]\nrequires = "setuptools"\n')
    for command in (["run", "issue-15380"], ["setup"]):
        code = main([*command, "--project", str(tree)])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == ExitCode.USAGE
        assert len(err) == 1 and 'build-system.requires = "setuptools"' in err[0]


def test_fields_of_their_kind_read_as_before(tmp_path: Path) -> None:
    tree = tmp_path / "mine"
    shutil.copytree(PLAIN, tree)
    (tree / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "flit_core.buildapi"\n'
        '[project]\nname = "plain-demo"\nversion = "1.2"\n'
        "dependencies = [\"attrs>=22; python_version>'3'\"]\n"
        '[tool.flit.module]\nname = "plain_demo"\n'
    )
    s = open_project(tree).statics
    assert (s.name, s.version, s.module, s.build_requires) == (
        "plain-demo",
        "1.2",
        "plain_demo",
        (),
    )
    assert s.requires == ("attrs>=22; python_version>'3'",)
