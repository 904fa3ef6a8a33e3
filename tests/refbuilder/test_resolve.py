"""Build requirements resolved against a wheelhouse's wheel files alone, for the env's
interpreter (not the builder's): markers, extras, tags, Requires-Python, and one line for a
requirement nothing meets or two that conflict."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.tags import sys_tags

from lab.refbuilder._errors import CacheError
from lab.refbuilder._resolve import ResolveError, Target, resolve
from tests.refbuilder.conftest import write_wheel

HERE = Target(
    {name: str(value) for name, value in default_environment().items()},
    tuple(str(tag) for tag in sys_tags()),
)


def _target(**markers: str) -> Target:
    return Target({**HERE.markers, **markers}, HERE.tags)


def _chosen(requirements: list[str], wheelhouse: Path, target: Target = HERE) -> list[str]:
    return [w.path.name for w in resolve(requirements, wheelhouse, target)]


def test_the_newest_fitting_version_and_its_dependencies(tmp_path: Path) -> None:
    write_wheel(tmp_path, "backend", "1.0")
    write_wheel(tmp_path, "backend", "2.0", ("helper>=1",))
    write_wheel(tmp_path, "helper", "1.5")
    write_wheel(tmp_path, "unrelated", "1.0")
    (tmp_path / "not-a-wheel.txt").write_text("ignored")
    assert _chosen(["Backend"], tmp_path) == [
        "backend-2.0-py3-none-any.whl",
        "helper-1.5-py3-none-any.whl",
    ]
    assert _chosen(["backend<2"], tmp_path) == ["backend-1.0-py3-none-any.whl"]
    assert _chosen([], tmp_path) == []


def test_a_cycle_of_requirements_ends(tmp_path: Path) -> None:
    write_wheel(tmp_path, "egg", requires=("hen",))
    write_wheel(tmp_path, "hen", requires=("egg[shell]",), extra_metadata="Provides-Extra: x\n")
    assert _chosen(["egg"], tmp_path) == ["egg-1.0-py3-none-any.whl", "hen-1.0-py3-none-any.whl"]


def test_top_level_requirements_on_one_name_are_met_together(tmp_path: Path) -> None:
    write_wheel(tmp_path, "backend", "1.0", ("helper",))
    write_wheel(tmp_path, "helper", "1.0")
    write_wheel(tmp_path, "helper", "2.0")
    # a dependency on helper, met by the version the env's own pin allows
    assert _chosen(["backend", "helper<2"], tmp_path)[1] == "helper-1.0-py3-none-any.whl"
    assert _chosen(["helper", "helper!=2.0"], tmp_path) == ["helper-1.0-py3-none-any.whl"]


def test_markers_are_the_env_interpreters(tmp_path: Path) -> None:
    write_wheel(
        tmp_path,
        "backend",
        requires=('winonly; sys_platform == "win32"', 'old; python_version < "3"', "common"),
    )
    for name in ("winonly", "old", "common"):
        write_wheel(tmp_path, name)
    linux = _target(sys_platform="linux")
    assert _chosen(["backend"], tmp_path, linux) == [
        "backend-1.0-py3-none-any.whl",
        "common-1.0-py3-none-any.whl",
    ]
    assert "winonly-1.0-py3-none-any.whl" in _chosen(
        ["backend"], tmp_path, _target(sys_platform="win32")
    )
    # a top-level requirement's marker counts too
    assert _chosen(['common; python_version < "3"'], tmp_path) == []


def test_extras_pull_in_their_dependencies_when_asked_for_at_any_point(tmp_path: Path) -> None:
    write_wheel(
        tmp_path,
        "backend",
        requires=('speedup; extra == "fast"', 'docs-tool; extra == "docs"'),
        extra_metadata="Provides-Extra: fast\nProvides-Extra: docs\n",
    )
    write_wheel(tmp_path, "plugin", requires=("backend[fast]",))
    write_wheel(tmp_path, "speedup")
    write_wheel(tmp_path, "docs-tool")
    assert _chosen(["backend"], tmp_path) == ["backend-1.0-py3-none-any.whl"]
    assert "speedup-1.0-py3-none-any.whl" in _chosen(["backend[fast]"], tmp_path)
    # backend is chosen first without extras; plugin then asks for backend[fast]
    chosen = _chosen(["backend", "plugin"], tmp_path)
    assert "speedup-1.0-py3-none-any.whl" in chosen
    assert "docs_tool-1.0-py3-none-any.whl" not in chosen


def test_only_wheels_the_interpreter_takes_and_its_python_allows(tmp_path: Path) -> None:
    write_wheel(tmp_path, "native", "2.0", tag="cp27-cp27mu-manylinux1_x86_64")
    write_wheel(tmp_path, "native", "1.0")
    write_wheel(tmp_path, "modern", "2.0", extra_metadata="Requires-Python: >=99\n")
    write_wheel(tmp_path, "modern", "1.0", extra_metadata="Requires-Python: >=3.8\n")
    assert _chosen(["native", "modern"], tmp_path) == [
        "modern-1.0-py3-none-any.whl",
        "native-1.0-py3-none-any.whl",
    ]


def test_pre_releases_only_where_asked_for(tmp_path: Path) -> None:
    write_wheel(tmp_path, "backend", "1.0")
    write_wheel(tmp_path, "backend", "2.0b1")
    assert _chosen(["backend"], tmp_path) == ["backend-1.0-py3-none-any.whl"]
    assert _chosen(["backend>=2.0b1"], tmp_path) == ["backend-2.0b1-py3-none-any.whl"]


def test_a_missing_requirement_names_it_who_wants_it_and_the_wheelhouse(tmp_path: Path) -> None:
    write_wheel(tmp_path, "backend", requires=("helper>=2",))
    write_wheel(tmp_path, "helper", "1.0")
    write_wheel(tmp_path, "native", tag="cp27-cp27mu-manylinux1_x86_64")
    with pytest.raises(ResolveError) as missing:
        resolve(["no-such-backend"], tmp_path, HERE)
    assert str(missing.value) == (
        f"no wheel in the wheelhouse {tmp_path} satisfies no-such-backend (requested): "
        "it has no no-such-backend"
    )
    with pytest.raises(
        ResolveError, match=r"helper>=2 \(required by backend 1.0\): it has helper 1.0"
    ):
        resolve(["backend"], tmp_path, HERE)
    with pytest.raises(
        ResolveError, match=re.escape("none of native-1.0-cp27-cp27mu-manylinux1_x86_64.whl fits")
    ):
        resolve(["native"], tmp_path, HERE)
    assert issubclass(ResolveError, CacheError)  # the builder's one-line cache error


def test_a_conflict_names_both_requirements_and_the_wheelhouse(tmp_path: Path) -> None:
    write_wheel(tmp_path, "left", requires=("shared>=2",))
    write_wheel(tmp_path, "right", requires=("shared<2",))
    write_wheel(tmp_path, "shared", "1.0")
    write_wheel(tmp_path, "shared", "2.0")
    with pytest.raises(ResolveError) as conflict:
        resolve(["left", "right"], tmp_path, HERE)
    assert str(conflict.value) == (
        "shared<2 (required by right 1.0) conflicts with shared 2.0, chosen for shared>=2 "
        f"(required by left 1.0), in the wheelhouse {tmp_path}"
    )
    assert "\n" not in str(conflict.value)


def test_requirements_that_cannot_come_from_a_wheelhouse_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ResolveError, match="cannot read a build requirement"):
        resolve(["backend >>> 1"], tmp_path, HERE)
    with pytest.raises(ResolveError, match="a direct reference"):
        resolve(["backend @ https://example.org/backend-1.0.tar.gz"], tmp_path, HERE)


def test_a_pre_release_python_meets_its_own_release(tmp_path: Path) -> None:
    write_wheel(tmp_path, "modern", extra_metadata="Requires-Python: >=3.14\n")
    rc = _target(python_full_version="3.14.0rc1", python_version="3.14")
    assert _chosen(["modern"], tmp_path, rc) == ["modern-1.0-py3-none-any.whl"]


def test_a_wheelhouse_that_cannot_serve_says_why_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(ResolveError, match=r"cannot read the wheelhouse .*missing"):
        resolve(["anything"], tmp_path / "missing", HERE)
    (tmp_path / "thing-1.0.tar.gz").write_bytes(b"")
    with pytest.raises(ResolveError, match=r"only the sdist thing-1\.0\.tar\.gz, and build"):
        resolve(["thing"], tmp_path, HERE)
    wheel = write_wheel(tmp_path, "damaged")
    data = bytearray(wheel.read_bytes())
    start = data.index(b"Metadata-Version")  # stored, not deflated: damage its header instead
    data[start - 30 : start] = b"\0" * 30
    wheel.write_bytes(bytes(data))
    with pytest.raises(ResolveError) as failed:
        resolve(["damaged"], tmp_path, HERE)
    assert str(failed.value).startswith(f"cannot read the metadata of {wheel}: ")
    assert "\n" not in str(failed.value)
