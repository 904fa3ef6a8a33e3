"""What a module imports, read from its source, for the tests that keep the rooms apart
(``tests/test_architecture.py``, ``tests/check/test_independence.py``)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import REPO


def imports(path: Path, root: Path = REPO) -> Iterator[tuple[int, str]]:
    """Each module the file at ``path`` (under ``root``) imports, with its line. ``from a
    import b`` imports ``a`` and maybe the module ``a.b``; relative imports are resolved."""
    package = ".".join(path.relative_to(root).parts[:-1])
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module) if part)
            yield node.lineno, module
            yield from ((node.lineno, f"{module}.{alias.name}") for alias in node.names)
