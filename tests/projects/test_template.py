from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from lab.errors import TemplateError
from lab.projects import template


def test_hatchling_renders_the_seed_project(tmp_path: Path) -> None:
    dest = tmp_path / "checkout"
    template.get("hatchling").render(dest, {"build_delay": 2.5})
    files = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert files == [
        "build.py",
        "pyproject.toml",
        "src/uv_demo/__about__.py",
        "src/uv_demo/__init__.py",
    ]
    meta = tomllib.loads((dest / "pyproject.toml").read_text())
    assert meta["build-system"] == {"requires": ["hatchling"], "build-backend": "hatchling.build"}
    assert meta["tool"]["hatch"]["build"]["targets"]["wheel"]["hooks"]["custom"] == {
        "path": "build.py"
    }
    hook = (dest / "build.py").read_text()
    assert "else 2.5)" in hook
    compile(hook, "build.py", "exec")


def test_defaults_apply(tmp_path: Path) -> None:
    template.get("hatchling").render(tmp_path / "c", {})
    assert "else 10.0)" in (tmp_path / "c" / "build.py").read_text()


def test_unknown_parameter_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"unknown parameter\(s\) \['colour'\]"):
        template.get("hatchling").render(tmp_path / "c", {"colour": "red"})
    assert not (tmp_path / "c").exists()


def test_unknown_template() -> None:
    with pytest.raises(TemplateError, match="no such template; there are"):
        template.get("nope")


def test_every_template_renders_a_project_with_a_build_system(tmp_path: Path) -> None:
    assert set(template.available()) >= {"hatchling", "inplace"}
    for t in template.available().values():
        dest = tmp_path / t.name
        t.render(dest, {"build_delay": 0})
        system = tomllib.loads((dest / "pyproject.toml").read_text())["build-system"]
        assert system["build-backend"] == t.build_backend
        assert all(isinstance(req, str) for req in t.wheelhouse)


def test_inplace_writes_nothing_into_the_tree_until_it_builds(tmp_path: Path) -> None:
    dest = tmp_path / "c"
    template.get("inplace").render(dest, {"build_delay": 0.5})
    backend = (dest / "_backend" / "inplace_backend.py").read_text()
    assert "else 0.5)" in backend and 'NAME, VERSION, PACKAGE = "inplace_demo"' in backend
    assert not (dest / "src" / "inplace_demo" / "_generated.py").exists()


def test_every_template_renders_each_checkouts_identity(tmp_path: Path) -> None:
    """A version, dependencies and a marker of its own, in metadata the backend reads and in
    the code the package imports."""
    for t in template.available().values():
        dest = tmp_path / t.name
        t.render(
            dest,
            {
                "build_delay": 0,
                "version": "2.5",
                "dependencies": ["packaging>=20"],
                "marker": "run/checkout/abc",
            },
        )
        rendered = "\n".join(p.read_text() for p in dest.rglob("*") if p.suffix in (".py", ".toml"))
        assert 'CACHELAB_MARKER = "run/checkout/abc"' in rendered, t.name
        project = tomllib.loads((dest / "pyproject.toml").read_text()).get("project", {})
        if t.name != "inplace":  # its backend writes its metadata itself
            assert project["version"] == "2.5" and project["dependencies"] == ["packaging>=20"]
    backend = (tmp_path / "inplace" / "_backend" / "inplace_backend.py").read_text()
    assert '"2.5"' in backend and "packaging" in backend


def test_hatchling_can_read_its_version_from_a_source_file(tmp_path: Path) -> None:
    template.get("hatchling").render(tmp_path / "c", {"version": "3.0", "version_from_file": True})
    meta = tomllib.loads((tmp_path / "c" / "pyproject.toml").read_text())
    assert meta["project"]["dynamic"] == ["version"] and "version" not in meta["project"]
    assert meta["tool"]["hatch"]["version"] == {"path": "src/uv_demo/__about__.py"}
    about = (tmp_path / "c" / "src" / "uv_demo" / "__about__.py").read_text()
    assert about == '__version__ = "3.0"\n'


def test_native_templates_name_their_call() -> None:
    natives = {t.name: t.native for t in template.available().values() if t.native}
    assert sorted(natives) == ["maturin", "scikit-build-core", "setuptools-c"]
    assert all(n.function == "add" and n.result == 5 for n in natives.values())
