"""The runner <-> orchestrator contract, and that nothing else spells it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from lab import contract
from lab.contract import Clock, Event, Op, Phase, event_line, parse_event_line
from tests.conftest import REPO

EVENT = Event(
    12.5,
    1700000000.25,
    "runner-1",
    Op.LOCK,
    Phase.ACQUIRED,
    "editable-v1/k",
    Clock.SOURCE,
    data={"kind": "entry", "lock": "/cache/editable-v1/k/.lock"},
)


def test_an_event_survives_its_line() -> None:
    line = event_line(EVENT)
    assert line.startswith(f"@cachelab/{contract.SCHEMA_VERSION} ")
    assert parse_event_line(line) == EVENT
    assert Event.from_json(EVENT.to_json()) == EVENT


def test_reserved_fields_stay_reserved() -> None:
    remote = Event(
        1.0,
        2.0,
        "r",
        Op.RUN,
        Phase.START,
        node="host-b",
        clock=Clock.ARRIVAL,
        data={"runner": "forged", "op": "forged", "rc": 0},
    )
    back = Event.from_json(remote.to_json())
    assert (back.runner, back.op, back.node, back.clock) == ("r", Op.RUN, "host-b", Clock.ARRIVAL)
    assert back.data == {"rc": 0}


@pytest.mark.parametrize(
    "line",
    [
        "@cachelab/1 {not json",
        '@cachelab/1 {"t_mono": 1, "t_wall": 2, "runner": "r", "op": "teleport", "phase": "start"}',
        '@cachelab/1 {"t_mono": 1, "t_wall": 2, "runner": "r", "op": "run"}',
        "@cachelab/1 [1, 2]",
        '@cachelab/99 {"t_mono": 1, "t_wall": 2, "runner": "r", "op": "run", "phase": "start"}',
        "INFO Waiting to acquire lock for `/c/sdists-v9/editable/k`",
    ],
)
def test_anything_else_is_not_an_event(line: str) -> None:
    assert parse_event_line(line) is None


# What only the contract may spell: the line prefix and the versioned cache layout names.
_CONTRACT_LITERALS = re.compile(r"@cachelab|\b(?:editable|envs)-v\d+\b")
_EVENT_FIELDS = {"op", "phase"}
_CONTRACT = REPO / "lab" / "contract.py"


def _python_files() -> list[Path]:
    files = [*(REPO / "lab").rglob("*.py"), *(REPO / "tests").rglob("*.py")]
    skip = (REPO / "lab" / "templates", REPO / "tests" / "packages")
    return [p for p in files if p != _CONTRACT and not any(p.is_relative_to(s) for s in skip)]


def _is_event_field(node: ast.expr) -> bool:
    if isinstance(node, ast.Attribute):
        return node.attr in _EVENT_FIELDS
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return node.slice.value in _EVENT_FIELDS
    return False


def _string_literals(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_string_literals(e) for e in node.elts)
    return False


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    # docstrings may describe the layout; code may not spell it
    docs = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
    found = []
    for node in ast.walk(tree):
        if id(node) in docs:
            continue
        shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
        where = f"{shown}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if path.name != Path(__file__).name and _CONTRACT_LITERALS.search(node.value):
                found.append(f"{where}: the literal {node.value!r} belongs in lab/contract.py")
        elif isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(map(_is_event_field, operands)) and any(map(_string_literals, operands)):
                found.append(f"{where}: an op or phase compared with a string; use Op or Phase")
    return found


def test_nothing_outside_the_contract_spells_it() -> None:
    found = [v for path in _python_files() for v in _violations(path)]
    assert found == []


def test_the_check_catches_what_it_is_for(tmp_path: Path) -> None:
    bad = tmp_path / "probe.py"
    bad.write_text(
        '"""A docstring may name editable-v1."""\n'
        'PREFIX = "@cachelab/1 "\n'
        'ROOT = "cache/envs-v1"\n'
        "def f(e, r):\n"
        '    return e.op == "lock" or r["phase"] in ("start", "end")\n'
    )
    assert len(_violations(bad)) == 4
