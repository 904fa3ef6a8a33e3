"""lab.refbuilder runs inside runners from a bundle holding exactly the files runners get (the
builder, the contract, the package marker and the declared dependencies): it must work with
nothing else importable."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lab import bundle
from lab.toolchain import BUILDER_REQUIREMENTS, Toolchain
from tests.refbuilder.conftest import BASE_PYTHON

ALLOWED = {"lab", "filelock", "pyproject_hooks", "installer", "packaging", "pip"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, lab_toolchain: Toolchain) -> Path:
    dest = tmp_path_factory.mktemp("bundle") / "refbuilder"
    bundle.build(dest, bundle.wheels(lab_toolchain.wheelhouse, BUILDER_REQUIREMENTS))
    return dest


def test_the_bundle_holds_the_builder_the_contract_and_nothing_else_of_the_lab(
    built: Path,
) -> None:
    lab_files = sorted(p.relative_to(built).as_posix() for p in (built / "lab").rglob("*.py"))
    assert lab_files == sorted(
        p.relative_to(bundle.LAB_DIR.parent).as_posix() for p in bundle.sources()
    )
    assert "lab/contract.py" in lab_files and "lab/history.py" not in lab_files


def test_the_builder_imports_only_its_declared_dependencies(built: Path) -> None:
    # -I -S: no site-packages, no user site, no PYTHONPATH: only the bundle and the stdlib
    code = (
        f"import json, sys; sys.path.insert(0, {str(built)!r}); before = set(sys.modules); "
        "import lab.refbuilder, lab.refbuilder._cli; "
        "print(json.dumps(sorted({m.split('.')[0] for m in set(sys.modules) - before})))"
    )
    out = subprocess.run(
        [str(BASE_PYTHON), "-I", "-S", "-c", code], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    third_party = set(json.loads(out.stdout)) - set(sys.stdlib_module_names)
    assert third_party <= ALLOWED, third_party - ALLOWED
    assert "lab" in third_party


def test_the_bundle_runs_as_a_runner_runs_it(built: Path) -> None:
    proc = subprocess.run(
        [str(BASE_PYTHON), "-S", str(built), "editable", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "--policy" in proc.stdout
