"""Bundles hold exactly the files runners get, and work with nothing else importable: the
builder and the probe run inside runners from them (``python -I -S DIR``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lab.toolchain import Toolchain, bundle
from tests.refbuilder.conftest import BASE_PYTHON

# What each bundle may import besides the standard library.
ALLOWED = {
    bundle.REFBUILDER: {"lab", "filelock", "pyproject_hooks", "installer", "packaging"},
    bundle.PROBE: {"lab"},
}
ENTRY = {bundle.REFBUILDER: "lab.refbuilder._cli", bundle.PROBE: "lab.probe"}


@pytest.fixture(scope="module", params=list(ALLOWED), ids=lambda b: b.name)
def built(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    lab_toolchain: Toolchain,
) -> tuple[bundle.Bundle, Path]:
    spec: bundle.Bundle = request.param
    dest = tmp_path_factory.mktemp("bundle") / spec.name
    bundle.build(spec, dest, bundle.wheels(lab_toolchain.wheelhouse, spec.requirements))
    return spec, dest


def test_a_bundle_holds_its_modules_the_contract_and_nothing_else_of_the_lab(
    built: tuple[bundle.Bundle, Path],
) -> None:
    spec, dest = built
    lab_files = sorted(p.relative_to(dest).as_posix() for p in (dest / "lab").rglob("*.py"))
    expected = sorted(p.relative_to(bundle.LAB_DIR.parent).as_posix() for p in spec.sources())
    assert lab_files == expected
    assert "lab/contract.py" in lab_files and "lab/rundir.py" not in lab_files


def test_it_imports_only_what_it_declares(built: tuple[bundle.Bundle, Path]) -> None:
    spec, dest = built
    # -I -S: no site-packages, no user site, no PYTHONPATH: only the bundle and the stdlib
    code = (
        f"import json, sys; sys.path.insert(0, {str(dest)!r}); before = set(sys.modules); "
        f"import {ENTRY[spec]}; "
        "print(json.dumps(sorted({m.split('.')[0] for m in set(sys.modules) - before})))"
    )
    out = subprocess.run(
        [str(BASE_PYTHON), "-I", "-S", "-c", code], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    third_party = set(json.loads(out.stdout)) - set(sys.stdlib_module_names)
    assert third_party <= ALLOWED[spec], third_party - ALLOWED[spec]
    assert "lab" in third_party


def test_it_runs_as_a_runner_runs_it(built: tuple[bundle.Bundle, Path]) -> None:
    spec, dest = built
    args = ["editable", "--help"] if spec is bundle.REFBUILDER else []
    proc = subprocess.run(
        [str(BASE_PYTHON), "-I", "-S", str(dest), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if spec is bundle.REFBUILDER:
        assert proc.returncode == 0, proc.stderr
        assert "--policy" in proc.stdout
    else:  # the probe says how to call it
        assert proc.returncode == 2 and "usage: python -I -S <probe>" in proc.stderr


def test_its_main_ends_with_what_was_said_and_its_exit_code(
    tmp_path: Path, lab_toolchain: Toolchain
) -> None:
    """The main skips the interpreter's teardown: what it wrote to a pipe (block-buffered)
    arrives all the same, and so does its code."""
    spec = bundle.REFBUILDER
    dest = tmp_path / spec.name
    bundle.build(spec, dest, bundle.wheels(lab_toolchain.wheelhouse, spec.requirements))
    cache = tmp_path / "cache"
    argv = [str(BASE_PYTHON), "-I", "-S", str(dest), "sweep", "--cache"]
    proc = subprocess.run([*argv, str(cache)], capture_output=True, text=True, check=False)
    assert (proc.returncode, json.loads(proc.stdout)) == (0, {"swept": []}), proc.stderr
    (tmp_path / "file").write_text("")
    proc = subprocess.run([*argv, str(tmp_path / "file")], capture_output=True, text=True)
    assert proc.returncode == 2 and "is not a directory" in proc.stderr
