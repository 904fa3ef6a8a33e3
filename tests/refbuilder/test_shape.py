"""The builder stays small enough to read: no function takes more than six parameters (the
lengths of its modules and functions are held with the rest of the lab's, in
tests/test_architecture.py)."""

from __future__ import annotations

import ast

from lab.toolchain import bundle

MOST_PARAMETERS = 6


def test_no_builder_function_takes_more_than_six_parameters() -> None:
    found = []
    for path in bundle.REFBUILDER.sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                args = node.args
                names = [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]
                names = [n for n in names if n not in ("self", "cls")]
                if len(names) > MOST_PARAMETERS:
                    found.append(f"{path.name}:{node.lineno} {node.name}({', '.join(names)})")
    assert found == []
