from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from lab import template
from lab.errors import TemplateError


def test_hatchling_renders_the_seed_project(tmp_path: Path) -> None:
    dest = tmp_path / "checkout"
    template.get("hatchling").render(dest, {"build_delay": 2.5})
    files = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert files == ["build.py", "pyproject.toml", "src/uv_demo/__init__.py"]
    meta = tomllib.loads((dest / "pyproject.toml").read_text())
    assert meta["build-system"] == {"requires": ["hatchling"], "build-backend": "hatchling.build"}
    assert meta["tool"]["hatch"]["build"]["targets"]["wheel"]["hooks"]["custom"] == {
        "path": "build.py"
    }
    hook = (dest / "build.py").read_text()
    assert "time.sleep(2.5)" in hook
    compile(hook, "build.py", "exec")


def test_defaults_apply(tmp_path: Path) -> None:
    template.get("hatchling").render(tmp_path / "c", {})
    assert "time.sleep(10.0)" in (tmp_path / "c" / "build.py").read_text()


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
    assert "time.sleep(0.5)" in backend and 'NAME, VERSION, PACKAGE = "inplace_demo"' in backend
    assert not (dest / "src" / "inplace_demo" / "_generated.py").exists()
