"""The checker and the cold-build oracle share no code with the reference builder they judge:
a bug in the builder's own checks, or a gap in its revision, must not let the checker accept
what the builder published."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from tests.conftest import REPO
from tests.imports import imports

BUILDER = "lab.refbuilder"
JUDGES = ("check", "oracle")  # lab/check, lab/oracle


def _builders(modules: Iterable[str]) -> list[str]:
    return [m for m in modules if m == BUILDER or m.startswith(f"{BUILDER}.")]


def _offending(root: Path) -> list[str]:
    return [
        f"{path.relative_to(root)}:{line} imports {module}"
        for judge in JUDGES
        for path in sorted((root / "lab" / judge).rglob("*.py"))
        for line, module in imports(path, root)
        if _builders([module])
    ]


def test_no_module_of_the_checker_or_the_oracle_imports_the_builder() -> None:
    assert _offending(REPO) == []


def test_every_way_to_import_the_builder_is_seen(tmp_path: Path) -> None:
    """The test above is not vacuous: a checker's or the oracle's module that imports the
    builder, in any spelling, is named at each line."""
    module = tmp_path / "lab" / "check" / "borrowed.py"
    module.parent.mkdir(parents=True)
    (tmp_path / "lab" / "oracle").mkdir()
    (tmp_path / "lab" / "oracle" / "_tree.py").write_text("from lab.refbuilder import _tree\n")
    module.write_text(
        "import lab.refbuilder\n"
        "from lab import refbuilder\n"
        "from lab.refbuilder._wheel import problem\n"
        "from ..refbuilder import wheel_problem\n"
        "from .. import refbuilder as builder\n"
        "from lab import refbuilding, contract\n"
    )
    found = _offending(tmp_path)
    assert {int(f.split(":")[1].split()[0]) for f in found if "check" in f} == {1, 2, 3, 4, 5}
    assert "lab/oracle/_tree.py:1 imports lab.refbuilder" in found


def test_importing_the_checker_or_the_oracle_loads_no_part_of_the_builder() -> None:
    """Nor indirectly, through a module they import."""
    code = "import sys, lab.check, lab.oracle; print('\\n'.join(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    loaded = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert {"lab.check.cache", "lab.oracle._build"} <= set(loaded)
    assert _builders(loaded) == []
