"""The run directory's contract (``lab/rundir.py``): nothing else spells a name in it or a
runner log's, and nothing in the lab joins one of its directories by name, so that what is
written where, and a runner's log line, has one writer and one reader."""

from __future__ import annotations

import ast
from pathlib import Path

from lab import rundir
from lab.rundir import CampaignKind, RunDir
from tests.conftest import REPO

_OWNER = REPO / "lab" / "rundir.py"
_SAMPLE = RunDir(Path("r"))
# What only the contract may spell: every file of a run and of a campaign's record...
_NAMES = {
    p.name
    for p in (
        _SAMPLE.scenario,
        _SAMPLE.identities,
        _SAMPLE.history,
        _SAMPLE.result,
        _SAMPLE.faults,
        _SAMPLE.environment,
        _SAMPLE.page,
    )
} | {f"{kind}.{suffix}" for kind in CampaignKind for suffix in ("json", "md")}
_NAMES |= {rundir.LATEST, rundir.MOUNT_POINTS, rundir.MOUNT_REGISTRY}
# ... and the directories of a run (or of a campaign's trial), joined by name
_DIRECTORIES = {
    p.relative_to(_SAMPLE.path).parts[0]
    for p in (
        _SAMPLE.logs,
        _SAMPLE.cache,
        _SAMPLE.checkout("c"),
        _SAMPLE.tmp("r"),
        _SAMPLE.view("r"),
        _SAMPLE.clock,
    )
} | {"runs"}


def _python_files(root: Path) -> list[Path]:
    skip = (REPO / "lab" / "projects" / "templates", REPO / "tests" / "packages")
    return [
        p
        for p in root.rglob("*.py")
        if p not in (_OWNER, Path(__file__)) and not any(p.is_relative_to(s) for s in skip)
    ]


def _violations(path: Path, *, strict: bool = True) -> list[str]:
    """What ``path`` spells of the layout. Tests (not ``strict``) may join a "cache" or a
    "runs" of their own; they may not name a run's files."""
    tree = ast.parse(path.read_text(), str(path))
    docs = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
    found = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}:"
        where += str(getattr(node, "lineno", "?"))
        if id(node) in docs:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if text in _NAMES or (strict and text in (".log", "*.log")):
                found.append(f"{where}: {text!r} is the run directory's: use lab.rundir")
        elif strict and isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            right = node.right
            if isinstance(right, ast.Constant) and right.value in _DIRECTORIES:
                found.append(f"{where}: a path joined with {right.value!r}: use lab.rundir")
    return found


def test_nothing_outside_rundir_spells_the_run_directory() -> None:
    found = [v for path in _python_files(REPO / "lab") for v in _violations(path)]
    found += [v for path in _python_files(REPO / "tests") for v in _violations(path, strict=False)]
    assert found == []


def test_the_check_catches_what_it_is_for(tmp_path: Path) -> None:
    bad = tmp_path / "probe.py"
    bad.write_text(
        '"""A docstring may name result.json and logs/."""\n'
        "def f(run, name):\n"
        '    result = run / "result.json"\n'
        '    log = run / "logs" / f"{name}.log"\n'
        '    return run / "cache", "*.log", run.parent / "latest"\n'
    )
    assert len(_violations(bad)) == 6
    assert len(_violations(bad, strict=False)) == 2  # result.json, latest
