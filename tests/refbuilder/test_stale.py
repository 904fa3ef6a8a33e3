"""Issue 22's five stale cases: two checkouts at one path, one shared cache, and an input of
the built wheel that an enumeration of metadata sources does not list. Each was a stale hit
while the revision was such an enumeration; the whole tree's content covers them all. The
second install must be the second checkout's, as a cold build of it gives (fixtures:
tests/packages/)."""

from __future__ import annotations

import email.parser
import importlib.metadata
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lab.refbuilder import Installed, Policy, Request
from lab.refbuilder._frontend import editable_install
from tests.conftest import FIXTURES
from tests.refbuilder.conftest import BASE_PYTHON, GIT_ENV, RecordedEvents

pytestmark = pytest.mark.integration  # real backends build real wheels

PACKAGES = FIXTURES.parent / "packages"


@dataclass(frozen=True)
class Case:
    """A fixture project and its two checkouts: the fixture with ``first``'s files
    rewritten, then with ``second``'s; ``git``: each checkout is a clone of the fixture
    committed and tagged ``v1.0``, with the rewrites left uncommitted; ``in_place``: the
    second updates the first in place, keeping what its build left in the tree (as a CI
    workspace's ``git pull`` keeps ignored files), where a fresh copy would miss anyway."""

    package: str
    module: str
    second: dict[str, str]
    first: dict[str, str] = field(default_factory=dict)
    git: bool = False
    in_place: bool = False


_README = "The second checkout's description.\n"
_HOOK = "build.py"
_BACKEND = "_backend/scripts_backend.py"
CASES = [
    pytest.param(
        Case("readme-flit", "readme_flit", {"README.md": f"# readme-flit\n\n{_README}"}),
        id="readme.md-flit-core",
    ),
    pytest.param(
        Case("readme-poetry", "readme_poetry", {"README.rst": f"readme-poetry\n\n{_README}"}),
        id="readme.rst-poetry-core",
    ),
    pytest.param(
        # pdm-backend leaves .pdm-build/ in the tree, which a fresh copy lacks
        Case(
            "readme-pdm", "readme_pdm", {"README.md": f"# readme-pdm\n\n{_README}"}, in_place=True
        ),
        id="readme.md-pdm-backend",
    ),
    pytest.param(
        Case(
            "fancy-readme", "fancy_readme", {"docs/intro.md": "The second checkout's fragment.\n"}
        ),
        id="fancy-pypi-readme-fragment",
    ),
    pytest.param(
        Case(
            "vcs-readme",
            "vcs_readme",
            first={"README.md": "# vcs-readme\n\nA first uncommitted edit.\n"},
            second={"README.md": "# vcs-readme\n\nA second uncommitted edit.\n"},
            git=True,
        ),
        id="hatch-vcs-dirty-readme",
    ),
    pytest.param(
        Case(
            "hook-deps",
            "hook_deps",
            {_HOOK: (PACKAGES / "hook-deps" / _HOOK).read_text().replace("[]", '["filelock"]')},
        ),
        id="hatch-build-hook-dependency",
    ),
    pytest.param(
        Case(
            "backend-scripts",
            "backend_scripts",
            {
                _BACKEND: (PACKAGES / "backend-scripts" / _BACKEND)
                .read_text()
                .replace("= {}", '= {"backend-scripts": "backend_scripts:main"}')
            },
        ),
        id="in-tree-backend-script",
    ),
]


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True)


def _checkout(case: Case, files: dict[str, str], dest: Path, origin: Path) -> Path:
    """A checkout of ``case`` at ``dest``: a copy of the fixture (a clone of ``origin`` where
    the case is in git) with ``files`` rewritten."""
    if case.git:
        if not origin.exists():
            shutil.copytree(PACKAGES / case.package, origin)
            _git("init", "-q", "-b", "main", cwd=origin)
            _git("add", "-A", cwd=origin)
            _git("commit", "-q", "-m", "one", cwd=origin)
            _git("tag", "v1.0", cwd=origin)
        _git("clone", "-q", str(origin), str(dest), cwd=origin.parent)
    else:
        shutil.copytree(PACKAGES / case.package, dest)
    for rel, text in files.items():
        (dest / rel).write_text(text)
    return dest


def _installed(venv: Path, case: Case) -> dict[str, object]:
    """What the venv holds of the project: its metadata, its requirements, its entry points."""
    site = next(venv.glob("lib/python*/site-packages"))
    (dist,) = importlib.metadata.distributions(path=[str(site)])
    metadata = email.parser.Parser().parsestr(dist.read_text("METADATA") or "")
    assert str(metadata["Name"]).replace("_", "-") == case.package
    return {
        "version": metadata["Version"],
        "description": metadata.get_payload() or metadata["Description"],
        "requires": sorted(dist.requires or []),
        "entry_points": sorted((e.group, e.name, e.value) for e in dist.entry_points),
    }


def _install(
    src: Path, cache: Path, venv: Path, wheelhouse: Path, policy: Policy, case: Case
) -> Installed:
    request = Request(src, cache, venv, wheelhouse, BASE_PYTHON, policy, case.module)
    return editable_install(request, RecordedEvents())


@pytest.mark.parametrize("policy", [Policy.NARROW, Policy.COALESCE])
@pytest.mark.parametrize("case", CASES)
def test_a_second_checkout_at_the_same_path_installs_its_own_build(
    tmp_path: Path, wheelhouse: Path, case: Case, policy: Policy
) -> None:
    src, cache, origin = tmp_path / "src", tmp_path / "cache", tmp_path / "origin"
    _checkout(case, case.first, src, origin)
    first = _install(src, cache, tmp_path / "venv1", wheelhouse, policy, case)
    assert not first.hit
    # the second checkout, at the same path, on the same cache
    if case.in_place:
        for rel, text in case.second.items():
            (src / rel).write_text(text)
    else:
        shutil.rmtree(src)
        _checkout(case, case.second, src, origin)
    _install(src, cache, tmp_path / "venv2", wheelhouse, policy, case)
    # what the second checkout gives built cold: elsewhere, with a cache of its own
    cold = _checkout(case, case.second, tmp_path / "cold", origin)
    _install(cold, tmp_path / "cold-cache", tmp_path / "venv-cold", wheelhouse, policy, case)
    expected = _installed(tmp_path / "venv-cold", case)
    assert _installed(tmp_path / "venv1", case) != expected, "else the case shows nothing"
    assert _installed(tmp_path / "venv2", case) == expected


@pytest.mark.parametrize("policy", [Policy.NARROW, Policy.COALESCE])
def test_a_monorepo_project_sees_a_tag_in_the_repository_above_it(
    tmp_path: Path, wheelhouse: Path, policy: Policy
) -> None:
    """hatch-vcs with ``root = ".."``: the version is the monorepo's, whose ``.git`` lies
    above the project's tree. A commit and a tag there make another version of this tree."""
    case = Case("vcs-readme", "vcs_readme", {})
    mono = tmp_path / "mono"
    src = mono / "vcs-readme"
    shutil.copytree(PACKAGES / case.package, src)
    pyproject = src / "pyproject.toml"
    vcs = 'source = "vcs"\n'
    pyproject.write_text(
        pyproject.read_text().replace(vcs, f'{vcs}raw-options = {{ root = ".." }}\n')
    )
    (mono / "NEWS").write_text("one\n")
    _git("init", "-q", "-b", "main", cwd=mono)
    _git("add", "-A", cwd=mono)
    _git("commit", "-q", "-m", "one", cwd=mono)
    _git("tag", "v1.0", cwd=mono)
    cache = tmp_path / "cache"
    first = _install(src, cache, tmp_path / "venv1", wheelhouse, policy, case)
    assert not first.hit and _installed(tmp_path / "venv1", case)["version"] == "1.0"
    (mono / "NEWS").write_text("two\n")  # outside the project's tree
    _git("commit", "-q", "-am", "two", cwd=mono)
    _git("tag", "v2.0", cwd=mono)
    second = _install(src, cache, tmp_path / "venv2", wheelhouse, policy, case)
    assert not second.hit
    assert _installed(tmp_path / "venv2", case)["version"] == "2.0"
