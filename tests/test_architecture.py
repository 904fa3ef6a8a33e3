"""The house stays easy to live in: the rooms of docs/architecture.md keep to themselves, no
module imports itself back (TYPE_CHECKING imports included), chains of imports stay short,
and no module or function grows too long to read."""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import REPO
from tests.imports import imports

LAB = REPO / "lab"
MOST_MODULE_LINES = 300
MOST_FUNCTION_LINES = 80
# The longest chain of imports between the lab's modules, in links (a package's own
# __init__ is a module of the chain, as Python runs it); 20 before the rooms were drawn.
MOST_LINKS = 15
# Modules at the top of lab/, beside the rooms: 25 before the rooms were drawn.
MOST_TOP_LEVEL = 12


def _modules() -> dict[str, Path]:
    found = {}
    for path in LAB.rglob("*.py"):
        if path.is_relative_to(LAB / "projects" / "templates"):
            continue
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imported(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The lab's modules ``module`` imports, and the packages Python runs on the way."""
    found: set[str] = set()
    for _line, name in imports(path):
        parts = name.split(".")  # what is not a module of the lab is left out
        found |= {".".join(parts[:i]) for i in range(2, len(parts) + 1)} & set(known)
    # a module's own package runs before it: not an import of it
    return {m for m in found if m != module and not module.startswith(f"{m}.")}


@functools.cache
def _graph() -> dict[str, frozenset[str]]:
    known = _modules()
    return {m: frozenset(_imported(m, p, known)) for m, p in known.items()}


def _longest(graph: dict[str, frozenset[str]]) -> list[str]:
    @functools.cache
    def down(module: str) -> tuple[str, ...]:
        below: tuple[str, ...] = ()
        for chain in (down(m) for m in sorted(graph[module])):
            below = chain if len(chain) > len(below) else below
        return (module, *below)

    chains: list[tuple[str, ...]] = [down(m) for m in sorted(graph)]
    return list(sorted(chains, key=len)[-1])


def _cycles(graph: dict[str, frozenset[str]]) -> Iterator[list[str]]:
    """Each import cycle once, as the modules on it."""
    state: dict[str, int] = {}  # 1: on the path being walked, 2: done
    path: list[str] = []

    def walk(module: str) -> Iterator[list[str]]:
        state[module] = 1
        path.append(module)
        for m in sorted(graph[module]):
            if state.get(m) == 1:
                yield path[path.index(m) :]
            elif m not in state:
                yield from walk(m)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            yield from walk(module)


def test_no_module_imports_itself_back() -> None:
    assert list(_cycles(_graph())) == []


def test_chains_of_imports_stay_short() -> None:
    assert list(_cycles(_graph())) == []  # else no chain is the longest
    chain = _longest(_graph())
    assert len(chain) - 1 <= MOST_LINKS, " -> ".join(chain)


def test_the_rooms_keep_the_top_of_lab_small() -> None:
    top = sorted(p.name for p in LAB.glob("*.py"))
    assert len(top) <= MOST_TOP_LEVEL, top


def test_a_run_renders_nothing_and_archives_nothing() -> None:
    graph = _graph()
    run = [m for m in graph if m == "lab.run" or m.startswith("lab.run.")]
    assert {(m, i) for m in run for i in graph[m] if i.startswith("lab.report")} == set()


def test_the_checker_and_the_pages_import_nothing_that_runs() -> None:
    """They read a run's directory: neither starts runners nor uses the builder's code."""
    graph = _graph()
    forbidden = ("lab.run", "lab.runners", "lab.refbuilder", "lab.campaigns", "lab.cli")
    for room in ("lab.check", "lab.report"):
        mine = [m for m in graph if m == room or m.startswith(f"{room}.")]
        wrong = {
            (m, i)
            for m in mine
            for i in graph[m]
            if any(i == f or i.startswith(f"{f}.") for f in forbidden)
        }
        assert wrong == set(), room


def test_no_module_or_function_is_too_long_to_read() -> None:
    found = []
    for path in _modules().values():
        text = path.read_text()
        shown = path.relative_to(REPO)
        if len(text.splitlines()) > MOST_MODULE_LINES:
            found.append(f"{shown}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MOST_FUNCTION_LINES:
                    found.append(f"{shown}:{node.lineno} {node.name}: {lines} lines")
    assert found == []


def test_the_graph_sees_what_is_for() -> None:
    """The cycle finder and the chain measure on a made-up graph."""
    graph = {
        "a": frozenset({"b"}),
        "b": frozenset({"c"}),
        "c": frozenset({"a"}),
        "d": frozenset({"e"}),
        "e": frozenset(),
    }
    assert list(_cycles(graph)) == [["a", "b", "c"]]
    assert _longest({k: v for k, v in graph.items() if k in "de"}) == ["d", "e"]


def test_the_rooms_name_every_module_of_the_builder() -> None:
    """The refbuilder row of docs/architecture.md names each of its private modules."""
    text = (REPO / "docs" / "architecture.md").read_text()
    (row,) = [line for line in text.splitlines() if line.startswith("| `refbuilder/` |")]
    modules = sorted(p.stem for p in (LAB / "refbuilder").glob("_*.py") if p.stem[1] != "_")
    assert [m for m in modules if f"`{m}`" not in row] == []
