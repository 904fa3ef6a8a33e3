"""A scenario's steps on the host: what they change in a checkout, and nothing outside it."""

from __future__ import annotations

import os
import py_compile
import shutil
from pathlib import Path

import pytest

from lab.projects import checkouts, template


def _checkout(tmp_path: Path, **params: object) -> Path:
    dest = tmp_path / "checkout"
    template.get("hatchling").render(dest, {"build_delay": 0, "version_from_file": True, **params})
    return dest


def test_delete_removes_what_the_glob_matches_inside(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path)
    built = checkout / "src" / "uv_demo" / "_native.cpython-311-x86_64-linux-gnu.so"
    built.write_bytes(b"\x7fELF")
    (checkout / "build" / "lib").mkdir(parents=True)
    assert checkouts.delete(checkout, "src/**/*.so") == [built.relative_to(checkout).as_posix()]
    assert not built.exists() and (checkout / "pyproject.toml").is_file()
    assert checkouts.delete(checkout, "build") == ["build"] and not (checkout / "build").exists()
    assert checkouts.delete(checkout, "nothing-here/*") == []


def test_delete_never_follows_a_link_out_of_the_checkout(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path)
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep.txt").write_text("x")
    (checkout / "link").symlink_to(outside)
    with pytest.raises(checkouts.StepError, match="outside"):
        checkouts.delete(checkout, "link/*")
    assert (outside / "keep.txt").is_file()
    assert checkouts.delete(checkout, "link") == ["link"]  # the link goes, not what it names
    assert (outside / "keep.txt").is_file()


def test_edit_writes_only_what_changes_and_keeps_build_outputs(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path, version="1.0")
    pyproject = checkout / "pyproject.toml"
    os.utime(pyproject, (1, 1))
    (checkout / "src" / "uv_demo" / "_generated.py").write_text("kept")
    params = {"build_delay": 0, "version_from_file": True, "version": "2.0"}
    written = checkouts.edit(template.get("hatchling"), checkout, params)
    assert written == ["src/uv_demo/__about__.py"]
    assert pyproject.stat().st_mtime == 1  # untouched, as an edit in place leaves it
    assert "2.0" in (checkout / "src" / "uv_demo" / "__about__.py").read_text()
    assert (checkout / "src" / "uv_demo" / "_generated.py").read_text() == "kept"
    assert [p.name for p in tmp_path.iterdir()] == ["checkout"]  # no scratch left


def test_an_edit_leaves_no_byte_code_that_would_pass_for_the_new_source(tmp_path: Path) -> None:
    """Byte code is taken for current where the source's size and mtime (whole seconds)
    match: an edit to a module of the same size within the second of its last import (the
    demo's quick edit of a marker) would import the old code."""
    checkout = _checkout(tmp_path, version="1.0")
    about = checkout / "src" / "uv_demo" / "__about__.py"
    compiled = py_compile.compile(str(about), doraise=True)
    assert compiled is not None
    cached = Path(compiled)
    params = {"build_delay": 0, "version_from_file": True, "version": "2.0"}
    assert checkouts.edit(template.get("hatchling"), checkout, params) == [
        "src/uv_demo/__about__.py"
    ]
    assert not cached.exists()


def test_a_delete_that_reaches_outside_removes_nothing(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path)
    for i in range(8):
        (checkout / f"d{i}").mkdir()
        (checkout / f"d{i}" / "x.so").write_bytes(b"")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.so").write_bytes(b"")
    (checkout / "link").symlink_to(outside)
    with pytest.raises(checkouts.StepError, match="outside"):
        checkouts.delete(checkout, "*/*.so")
    assert len(list(checkout.glob("d*/x.so"))) == 8 and (outside / "x.so").is_file()


def test_an_edit_never_writes_through_a_link_a_runner_left(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path, version="1.0")
    victim = tmp_path / "victim.txt"
    victim.write_text("mine")
    about = checkout / "src" / "uv_demo" / "__about__.py"
    about.unlink()
    about.symlink_to(victim)
    params = {"build_delay": 0, "version_from_file": True, "version": "2.0"}
    assert "src/uv_demo/__about__.py" in checkouts.edit(template.get("hatchling"), checkout, params)
    assert victim.read_text() == "mine"
    assert not about.is_symlink() and "2.0" in about.read_text()
    # a directory of the checkout that leads outside is refused: nothing lands outside
    shutil.rmtree(checkout / "src")
    (checkout / "src").symlink_to(tmp_path)
    with pytest.raises(checkouts.StepError, match="outside"):
        checkouts.edit(template.get("hatchling"), checkout, params)
    assert not (tmp_path / "uv_demo").exists()


def test_a_delete_that_matches_the_checkout_itself_removes_nothing(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    (checkout / "src").mkdir(parents=True)
    with pytest.raises(checkouts.StepError, match="itself"):
        checkouts.delete(checkout, "**")
    assert (checkout / "src").is_dir()
