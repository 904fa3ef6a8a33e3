"""The cold-build oracle with real builds: it says what uv and pip install, it catches a stale
install planted by hand, it tells what no tree determines, it fails with its context, and its
cache makes a tree seen before free."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from lab.check.findings import Kind
from lab.check.oracle import compare, differences
from lab.oracle import Oracle, OracleError, tree_digest
from lab.projects import installed, template
from lab.resources import DEFAULT_UV_VERSION
from lab.toolchain import Toolchain
from tests.conftest import REPO

pytestmark = pytest.mark.integration
PACKAGES = REPO / "tests" / "packages"


@pytest.fixture(scope="module")
def oracle(lab_toolchain: Toolchain) -> Oracle:
    """The lab's own oracle: its cache under .lab/oracle, as runs use it."""
    return Oracle(lab_toolchain.root / "oracle", lab_toolchain.wheelhouse)


def _render(name: str, dest: Path) -> Path:
    t = template.get(name)
    t.render(dest, t.marked({"build_delay": 0}))
    return dest


def _venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return path / "bin" / "python"


def _pip_install(tc: Toolchain, venv: Path, project: Path) -> None:
    pip = next(tc.wheelhouse.glob("pip-*.whl")) / "pip"
    offline = ["--no-index", "--find-links", str(tc.wheelhouse), "--no-cache-dir", "-q"]
    python = str(_venv(venv))
    cmd = [sys.executable, str(pip), "--python", python, "install", *offline, "-e", str(project)]
    subprocess.run(cmd, check=True, capture_output=True)


def _uv_install(tc: Toolchain, venv: Path, project: Path, cache: Path) -> None:
    uv = str(tc.uv_binary(DEFAULT_UV_VERSION))
    env = {"PATH": "/usr/bin:/bin", "UV_CACHE_DIR": str(cache), "VIRTUAL_ENV": str(venv)}
    subprocess.run([uv, "venv", "-q", str(venv)], check=True, env=env, capture_output=True)
    offline = ["--offline", "--no-index", "--find-links", str(tc.wheelhouse), "-q"]
    cmd = [uv, "pip", "install", *offline, "-e", str(project)]
    subprocess.run(cmd, check=True, env=env, capture_output=True)


def _described(venv: Path, name: str, checkout: Path) -> dict[str, Any]:
    sites = list((venv / "lib").glob("python*/site-packages"))
    return installed.describe(sites, venv / "bin", name, str(checkout))


@pytest.mark.parametrize("name", ["hatchling", "setuptools"])
def test_uv_and_pip_install_what_a_cold_build_gives(
    tmp_path: Path, lab_toolchain: Toolchain, oracle: Oracle, name: str
) -> None:
    """Their editable installs of a template, described in place, are the oracle's: nothing
    either installer writes besides the build's is left in (uv's uv_cache.json, say)."""
    project = _render(name, tmp_path / "src")
    expected = oracle.expected(project)
    assert expected.installed is not None and expected.tree == tree_digest(project)
    distribution = str(template.get(name).parameters["project_name"])
    _pip_install(lab_toolchain, tmp_path / "pip-venv", project)
    _uv_install(lab_toolchain, tmp_path / "uv-venv", project, tmp_path / "uv-cache")
    for venv in ("pip-venv", "uv-venv"):
        got = _described(tmp_path / venv, distribution, project)
        assert differences(expected.installed, got) == [], venv
    assert expected.installed["pth"]  # an editable install points into its checkout
    assert all("{checkout}" in line for p in expected.installed["pth"].values() for line in p)


def test_what_a_readme_says_of_the_runners_path_is_the_runners_checkout_on_both_sides(
    tmp_path: Path, lab_toolchain: Toolchain, oracle: Oracle
) -> None:
    """A readme that names the path where the runner sees its checkout, as a path and as a
    ``file://`` URL: the runner's probe writes it ``{checkout}``, and so does the oracle,
    told where the runner sees the tree, though it built a copy elsewhere."""
    project = tmp_path / "checkout"
    shutil.copytree(PACKAGES / "static-readme", project)
    (project / "README.md").write_text(
        f"# readme-demo\n\nMount it at {project}; docs at file://{project}/docs/index.html.\n"
    )
    _pip_install(lab_toolchain, tmp_path / "venv", project)
    got = _described(tmp_path / "venv", "readme-demo", project)
    assert got["description"] == (
        "# readme-demo\n\nMount it at {checkout}; docs at file://{checkout}/docs/index.html.\n"
    )
    expected = oracle.expected(project, str(project))
    assert expected.installed is not None and expected.checkout == str(project)
    assert differences(expected.installed, got) == []


def test_a_stale_install_planted_by_hand_is_caught(
    tmp_path: Path, lab_toolchain: Toolchain, oracle: Oracle
) -> None:
    """Install a checkout, then change its README under the install: what the checkout now
    gives differs in the description, named with both values; installing again agrees."""
    project = tmp_path / "checkout"
    shutil.copytree(PACKAGES / "static-readme", project)
    venv = tmp_path / "venv"
    _pip_install(lab_toolchain, venv, project)
    (project / "README.md").write_text("# readme-demo\n\nThe second README.\n")
    expected = oracle.expected(project)
    assert expected.installed is not None
    assert expected.installed["scripts"] == ["readme-demo"]
    facts = {"installed": _described(venv, "readme-demo", project)}
    (found,) = compare("runner-1", expected, facts).violations
    assert found.kind is Kind.METADATA_DIFFERS
    assert found.message == (
        "runner-1: METADATA description differs: installed '# readme-demo\\n\\nThe first "
        "README.\\n', its checkout gives '# readme-demo\\n\\nThe second README.\\n'"
    )
    _pip_install(lab_toolchain, tmp_path / "again", project)
    facts = {"installed": _described(tmp_path / "again", "readme-demo", project)}
    assert compare("runner-1", expected, facts).violations == []


def test_what_no_tree_determines_is_unstable(oracle: Oracle, tmp_path: Path) -> None:
    """The inplace template's editable wheel carries a fresh build id each time: the two cold
    builds disagree on it, so a runner's is compared by its presence only."""
    expected = oracle.expected(_render("inplace", tmp_path / "src"))
    assert expected.unstable == {"file {dist-info}/BUILD_ID"}
    assert expected.installed is not None and "{dist-info}/BUILD_ID" in expected.installed["files"]


def test_a_failing_build_names_the_tree_the_hook_and_the_backends_last_lines(
    oracle: Oracle, tmp_path: Path
) -> None:
    """One line names the tree, the hook and the backend; the backend's last lines are its
    detail (``oracle.json`` keeps them), never the line a person reads."""
    project = tmp_path / "failing-backend"
    shutil.copytree(PACKAGES / "failing-backend", project)
    with pytest.raises(OracleError) as raised:
        oracle.expected(project)
    text = str(raised.value)
    assert f"cold build of {project} failed in build_editable (backend failing)" in text
    assert "\n" not in text
    assert "RuntimeError: the compiler said no" in raised.value.detail  # the backend's words


def test_a_tree_it_cannot_copy_is_one_line_naming_the_file(oracle: Oracle, tmp_path: Path) -> None:
    project = tmp_path / "failing-backend"
    shutil.copytree(PACKAGES / "failing-backend", project)
    os.mkfifo(project / "pipe")
    with pytest.raises(OracleError, match=f"^the oracle cannot copy {project}: {project}/pipe"):
        oracle.expected(project)


@pytest.mark.parametrize(
    ("kind", "failure"),
    [("own-scripts", None), ("not-a-zip", "failed in install (pypa/installer)")],
)
def test_a_backend_finds_its_envs_scripts_and_a_bad_wheel_is_named(
    oracle: Oracle, tmp_path: Path, kind: str, failure: str | None
) -> None:
    project = tmp_path / "wheel-kinds"
    shutil.copytree(PACKAGES / "wheel-kinds", project)
    (project / "WHEEL_KIND").write_text(kind)
    if failure is None:
        assert oracle.expected(project).installed is not None
        return
    with pytest.raises(OracleError, match=re.escape(f"{project} {failure} (backend kinds)")):
        oracle.expected(project)


def test_a_tree_seen_before_costs_no_build_and_racers_build_once(
    tmp_path: Path, lab_toolchain: Toolchain
) -> None:
    """A fresh oracle: two threads ask for one tree at once, one builds; then, with its
    envs gone, the tree is still answered (from its result, never built again)."""
    fresh = Oracle(Path(os.path.relpath(tmp_path / "oracle")), lab_toolchain.wheelhouse)
    project = _render("inplace", tmp_path / "src")
    said: list[object] = []
    racers = [threading.Thread(target=lambda: said.append(fresh.expected(project))) for _ in "ab"]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert len(said) == 2 and said[0] == said[1]
    results = tmp_path / "oracle" / "results"
    assert len([p for p in results.iterdir() if p.is_dir()]) == 1  # its two installs, kept
    assert list((tmp_path / "oracle" / "scratch").iterdir()) == []  # no copy left behind
    shutil.rmtree(tmp_path / "oracle" / "envs")
    assert fresh.expected(project) == said[0]
    elsewhere = fresh.expected(project, "/src-runner-2")  # another view: described, not built
    assert elsewhere.installed == said[0].installed
    assert elsewhere.checkout == "/src-runner-2"
    assert not (tmp_path / "oracle" / "envs").exists()


def _environment(oracle: Oracle, project: Path) -> dict[str, str]:
    """The environment ``env-backend``'s hook saw in the oracle's build of ``project``."""
    said = oracle.expected(project).installed
    assert said is not None
    return dict(line.split("=", 1) for line in said["description"].splitlines())


HOST = {  # what a host may hold that steers a backend, and no runner gets
    "SETUPTOOLS_SCM_PRETEND_VERSION": "9.9",
    "HATCH_BUILD_HOOKS_ENABLE": "true",
    "CC": "no-such-cc",
    "SOURCE_DATE_EPOCH": "0",
    "PYTHONPATH": "/nowhere",
}


def test_the_hooks_see_the_oracles_environment_and_nothing_of_the_hosts(
    tmp_path: Path, lab_toolchain: Toolchain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hook's environment is an allow-list: PATH (its env's scripts first), a UTF-8
    locale, a TMPDIR of the build's, the oracle's own HOME, and what the source's runners get
    for its build; the host's variables never reach it, its HOME neither."""
    for name, value in HOST.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOME", str(tmp_path / "host-home"))
    project = tmp_path / "env-backend"
    shutil.copytree(PACKAGES / "env-backend", project)
    fresh = Oracle(tmp_path / "oracle", lab_toolchain.wheelhouse, environ={"CARGO_HOME": "/cargo"})
    seen = _environment(fresh, project)
    allowed = {"PATH", "LANG", "LC_ALL", "TMPDIR", "HOME", "PIP_CONFIG_FILE", "CARGO_HOME"}
    assert {n for n in seen if not n.startswith("_PYPROJECT_HOOKS_")} == allowed
    assert seen["HOME"] == str(tmp_path / "oracle" / "home")
    assert Path(seen["PATH"].split(":")[0]).parent.parent == tmp_path / "oracle" / "envs"
    assert (seen["LANG"], seen["LC_ALL"], seen["CARGO_HOME"]) == ("C.UTF-8", "C.UTF-8", "/cargo")


def test_the_environment_is_in_the_key(tmp_path: Path, lab_toolchain: Toolchain) -> None:
    """An oracle whose hooks get another environment never takes another's result."""
    project = tmp_path / "env-backend"
    shutil.copytree(PACKAGES / "env-backend", project)
    said = [
        _environment(
            Oracle(tmp_path / "oracle", lab_toolchain.wheelhouse, environ=environ), project
        )
        for environ in ({"CARGO_HOME": "/a"}, {"CARGO_HOME": "/b"}, {})
    ]
    assert [s.get("CARGO_HOME") for s in said] == ["/a", "/b", None]
