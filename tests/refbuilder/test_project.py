"""pyproject.toml as the builder reads it: every structure is either used or refused in one
line naming the file and the field; what it adds to the revision is the env vars it names."""

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


def test_declared_env_vars_are_read_and_every_other_cache_key_is_the_tree() -> None:
    """uv's ``[tool.uv] cache-keys``: its files, dirs and git are in the tree already; only
    its environment variables lie outside it and join the revision."""
    keys = ["VERSION", {"file": "x.cfg"}, {"dir": "src"}, {"git": {"commit": True}}]
    keys += [{"env": "FLAVOUR"}, {"env": "MODE"}, {"env": "FLAVOUR"}]
    read = _project.from_data({"tool": {"uv": {"cache-keys": keys}}}, PATH)
    assert read.env == ("FLAVOUR", "MODE")
    assert _project.from_data({"project": {"name": "x"}}, PATH).env == ()


@pytest.mark.parametrize("keys", [{"env": "X"}, [5], [{"glob": "x"}]])
def test_a_cache_key_of_none_of_uvs_forms_is_refused(keys: Any) -> None:
    with pytest.raises(ProjectError, match=r"\[tool.uv\] cache-keys"):
        _project.from_data({"tool": {"uv": {"cache-keys": keys}}}, PATH)


def test_no_pyproject_is_pep_517s_fallback(tmp_path: Path) -> None:
    read = _project.read(tmp_path)
    assert read.system.backend == "setuptools.build_meta:__legacy__"
    assert read.system.requires == ("setuptools>=40.8.0",)
