"""pyproject.toml as the builder reads it: every structure is either used or refused in one
line naming the file and the field, and the cache key covers where metadata comes from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lab.refbuilder import _project
from lab.refbuilder._errors import ProjectError

PATH = Path("/checkout/pyproject.toml")

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12)
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
_keys = st.sampled_from(
    [
        "requires",
        "build-backend",
        "backend-path",
        "dynamic",
        "version",
        "path",
        "source",
        "cache-keys",
        "file",
        "attr",
        "name",
        "module",
    ]
)
_tables = st.dictionaries(_keys, _values, max_size=4)


@settings(max_examples=300, deadline=None)
@given(
    build_system=st.one_of(_values, _tables),
    project=st.one_of(_values, _tables),
    tool=st.dictionaries(
        st.sampled_from(["uv", "hatch", "setuptools", "pdm", "flit"]),
        st.one_of(_values, st.dictionaries(_keys, _values)),
        max_size=3,
    ),
)
def test_any_structure_is_used_or_refused_in_one_line(
    build_system: Any, project: Any, tool: Any
) -> None:
    data = {"build-system": build_system, "project": project, "tool": tool}
    try:
        read = _project.from_data(data, PATH)
    except ProjectError as exc:
        message = str(exc)
        assert message.startswith(f"{PATH}: ") and "\n" not in message
    else:
        assert all(isinstance(r, str) for r in read.system.requires)
        assert isinstance(read.system.backend, str)


def _keys_of(data: dict[str, Any]) -> _project.KeyInputs:
    return _project.from_data(data, PATH).keys


def test_static_metadata_needs_no_more_than_the_build_files() -> None:
    keys = _keys_of({"project": {"name": "x", "version": "1"}, "build-system": {"requires": []}})
    assert keys == _project.KeyInputs()


@pytest.mark.parametrize(
    ("data", "globs"),
    [
        (
            {
                "project": {"name": "x", "dynamic": ["version"]},
                "tool": {"hatch": {"version": {"path": "src/x/__about__.py"}}},
            },
            ("src/x/__about__.py",),
        ),
        (
            {
                "project": {"name": "x", "dynamic": ["dependencies"]},
                "tool": {
                    "setuptools": {"dynamic": {"dependencies": {"file": ["requirements.txt"]}}}
                },
            },
            ("requirements.txt",),
        ),
        (
            {
                "project": {"name": "x", "dynamic": ["version"]},
                "tool": {"pdm": {"version": {"source": "file", "path": "x.py"}}},
            },
            ("x.py",),
        ),
        (
            {
                "project": {"name": "x", "dynamic": ["version"]},
                "tool": {"uv": {"cache-keys": ["VERSION", {"file": "x.cfg"}]}},
                "build-system": {"requires": ["hatchling"], "build-backend": "hatchling.build"},
            },
            ("VERSION", "x.cfg"),
        ),
    ],
)
def test_where_metadata_is_read_from_joins_the_key(
    data: dict[str, Any], globs: tuple[str, ...]
) -> None:
    keys = _keys_of(data)
    assert keys.globs == globs and not keys.metadata


def test_a_setuptools_attr_names_the_modules_it_may_be_in() -> None:
    keys = _keys_of(
        {
            "project": {"name": "x", "dynamic": ["version"]},
            "tool": {"setuptools": {"dynamic": {"version": {"attr": "pkg.about.VERSION"}}}},
        }
    )
    assert "src/pkg/about.py" in keys.globs and "pkg/about/__init__.py" in keys.globs


def test_unknown_or_vcs_metadata_is_asked_of_the_backend() -> None:
    unknown = {"project": {"name": "x", "dynamic": ["version"]}}
    assert _keys_of(unknown).metadata
    vcs = {
        "project": {"name": "x", "dynamic": ["version"]},
        "build-system": {
            "requires": ["hatchling", "hatch-vcs"],
            "build-backend": "hatchling.build",
        },
    }
    assert _keys_of(vcs).git and _keys_of(vcs).metadata
    assert _keys_of({"build-system": {"requires": []}}).metadata  # no [project]: setup.py's


def test_no_pyproject_is_pep_517s_fallback_and_setup_py_decides_the_metadata(
    tmp_path: Path,
) -> None:
    read = _project.read(tmp_path)
    assert read.system.backend == "setuptools.build_meta:__legacy__" and read.keys.metadata
