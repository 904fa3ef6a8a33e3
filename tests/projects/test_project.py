"""A project of the user's as a run's source: a directory, a git checkout or an sdist, each
checkout a copy of it, its identity read from its own files; and whatever is none of these
is one line naming it (exit 2), with nothing written."""

from __future__ import annotations

import dataclasses
import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from lab.cli import main
from lab.errors import ExitCode
from lab.projects.project import Kind, ProjectError, open_project, slug
from lab.projects.statics import read

PLAIN = Path(__file__).resolve().parent.parent / "packages" / "plain-project"
PKG_INFO = "Metadata-Version: 2.4\nName: plain-demo\nVersion: 1.2.0\n"


def _sdist(tmp_path: Path, top: str = "plain_demo-1.2.0") -> Path:
    """An sdist of the plain project, as a backend makes one: one top directory, PKG-INFO."""
    sdist = tmp_path / f"{top}.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        archive.add(PLAIN, arcname=top)
        info = tarfile.TarInfo(f"{top}/PKG-INFO")
        info.size = len(PKG_INFO)
        archive.addfile(info, io.BytesIO(PKG_INFO.encode()))
    return sdist


def _evil_sdist(tmp_path: Path, *members: tarfile.TarInfo, data: bytes = b"x") -> Path:
    sdist = tmp_path / "evil-1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        archive.add(PLAIN, arcname="evil-1.0")
        for member in members:
            member.size = len(data) if member.isreg() else 0
            archive.addfile(member, io.BytesIO(data) if member.isreg() else None)
    return sdist


def test_a_directory_is_copied_whole_but_its_venv_and_byte_code(tmp_path: Path) -> None:
    tree = tmp_path / "mine"
    shutil.copytree(PLAIN, tree)
    (tree / ".venv" / "bin").mkdir(parents=True)
    (tree / "plain_demo" / "__pycache__").mkdir()
    project = open_project(tree)
    assert project.kind is Kind.DIRECTORY and project.path == tree.resolve()
    s = project.statics
    assert (s.name, s.version, s.requires, s.module) == ("plain-demo", "1.2.0", (), "plain_demo")
    assert s.build_requires == ("flit_core>=3.4",)
    dest = tmp_path / "checkout"
    project.render(dest, {"marker": "ignored"})
    assert (dest / "uv.lock").read_text() == (PLAIN / "uv.lock").read_text()
    assert not (dest / ".venv").exists() and not (dest / "plain_demo" / "__pycache__").exists()
    identity = project.identity({}, "/src", "runner-1")
    assert identity.marker == "" and identity.version == "1.2.0" and identity.module == "plain_demo"


def test_a_git_checkout_keeps_its_history_so_vcs_versions_work(tmp_path: Path) -> None:
    tree = tmp_path / "repo"
    shutil.copytree(PLAIN, tree)
    git = ["git", "-C", str(tree), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    subprocess.run([*git, "tag", "v1.2.0"], check=True)
    project = open_project(tree)
    assert project.kind is Kind.GIT
    dest = tmp_path / "checkout"
    project.render(dest, {})
    described = subprocess.run(
        ["git", "-C", str(dest), "describe", "--tags"], capture_output=True, text=True, check=True
    )
    assert described.stdout.strip() == "v1.2.0"


def test_an_sdist_is_unpacked_without_its_top_directory(tmp_path: Path) -> None:
    project = open_project(_sdist(tmp_path))
    assert project.kind is Kind.SDIST and project.statics.version == "1.2.0"
    dest = tmp_path / "checkouts" / "runner-1"
    project.render(dest, {})
    assert (dest / "pyproject.toml").is_file() and (dest / "PKG-INFO").is_file()
    assert sorted(p.name for p in dest.parent.iterdir()) == ["runner-1"]  # no scratch left


def test_links_that_stay_inside_the_top_directory_are_unpacked(tmp_path: Path) -> None:
    inside = (_link("evil-1.0/alias", "plain_demo"), _link("evil-1.0/plain_demo/top", ".."))
    dest = tmp_path / "checkout"
    open_project(_evil_sdist(tmp_path, *inside)).render(dest, {})
    assert (dest / "alias" / "__init__.py").is_file()
    assert (dest / "plain_demo" / "top" / "pyproject.toml").is_file()


def test_a_version_left_to_the_build_is_none_unless_an_sdist_froze_it(tmp_path: Path) -> None:
    tree = tmp_path / "vcs"
    shutil.copytree(PLAIN, tree)
    text = (
        (tree / "pyproject.toml").read_text().replace('version = "1.2.0"', 'dynamic = ["version"]')
    )
    (tree / "pyproject.toml").write_text(text)
    assert read(tree).version is None
    (tree / "PKG-INFO").write_text("Metadata-Version: 2.2\nName: plain-demo\nVersion: 3.0.0-rc1\n")
    assert read(tree).version == "3.0.0rc1"  # normalized, as a backend writes it


def test_a_project_has_one_key_that_tells_apart_projects_only_a_build_names(
    tmp_path: Path,
) -> None:
    assert open_project(PLAIN).key == "plain-demo-1.2.0"  # its files name and version it
    assert open_project(_sdist(tmp_path)).key == "plain-demo-1.2.0"
    keys = []
    for where in ("one", "two"):
        tree = tmp_path / where / "legacy"
        tree.mkdir(parents=True)
        (tree / "setup.py").write_text("from setuptools import setup\nsetup()\n")
        project = open_project(tree)
        assert project.statics.name is None
        named = dataclasses.replace(project.statics, name="legacy")  # as the oracle names it
        assert dataclasses.replace(project, statics=named).key == project.key
        assert open_project(tree).key == project.key  # the same where it is the same
        keys.append(project.key)
    assert keys[0] != keys[1] and all(k.startswith("legacy-directory-") for k in keys)


def test_one_sanitiser_makes_plain_names() -> None:
    pattern = "[^A-Za-z0-9_.-]"
    lab = Path(__file__).resolve().parent.parent.parent / "lab"
    spelled = [p for p in lab.rglob("*.py") if pattern in p.read_text()]
    assert spelled == [lab / "projects" / "project.py"]
    assert slug("attrs 26.1.0+local/x") == "attrs-26.1.0-local-x"


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda tmp: tmp / "nowhere", "no such file or directory"),
        (lambda tmp: _write(tmp / "notes.txt", "x"), "a file that is not an sdist"),
        (lambda tmp: _write(tmp / "broken.tar.gz", "not gzip"), "not a readable sdist"),
        (lambda tmp: _dir(tmp / "empty"), "no pyproject.toml nor setup.py"),
        (lambda tmp: _two_tops(tmp), "one top directory"),
        (lambda tmp: _evil_sdist(tmp, tarfile.TarInfo("evil-1.0/../../escaped")), "sdist"),
        (lambda tmp: _evil_sdist(tmp, _link("evil-1.0/out", "/etc/passwd")), "sdist"),
        (lambda tmp: _evil_sdist(tmp, tarfile.TarInfo("/abs/escaped")), "one top directory"),
        (
            lambda tmp: _evil_sdist(
                tmp, _link("evil-1.0/up", ".."), tarfile.TarInfo("evil-1.0/up/escaped")
            ),
            "its member evil-1.0/up leaves its top directory",
        ),
        (
            lambda tmp: _evil_sdist(tmp, _link("evil-1.0/hard", "evil-1.0/../x", hard=True)),
            "its member evil-1.0/hard leaves its top directory",
        ),
    ],
    ids=[
        *("missing", "text-file", "not-gzip", "no-project", "two-tops", "dotdot", "link", "abs"),
        *("link-to-the-scratch", "hard-link-to-the-scratch"),
    ],
)
def test_what_is_no_project_is_one_line_naming_it(tmp_path: Path, make: object, says: str) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    path = make(inputs)  # type: ignore[operator]
    with pytest.raises(ProjectError) as caught:
        open_project(path)
    message = str(caught.value)
    assert message.startswith(f"--project {path}: ") and says in message
    assert "expected a directory with a pyproject.toml or setup.py" in message
    assert "\n" not in message
    assert not (tmp_path / "escaped").exists() and not (tmp_path.parent / "escaped").exists()


def test_the_cli_says_a_bad_project_in_one_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", "issue-15380", "--project", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == ExitCode.USAGE
    assert len(err) == 1 and f"--project {tmp_path / 'nowhere'}: no such file" in err[0]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _dir(path: Path) -> Path:
    path.mkdir()
    (path / "README.md").write_text("no project here")
    return path


def _two_tops(tmp: Path) -> Path:
    sdist = tmp / "two-1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        archive.add(PLAIN, arcname="two-1.0")
        archive.add(PLAIN / "README.md", arcname="other/README.md")
    return sdist


def _link(name: str, target: str, *, hard: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return info
