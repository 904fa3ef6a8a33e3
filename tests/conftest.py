from __future__ import annotations

from pathlib import Path

import pytest

from lab import toolchain
from lab.runners.local import LocalBackend

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def lab_toolchain() -> toolchain.Toolchain:
    """The repository's own offline toolchain (``make test`` builds it first)."""
    return toolchain.ensure(REPO / ".lab", log=lambda _msg: None)


@pytest.fixture(scope="session")
def local_backend(lab_toolchain: toolchain.Toolchain) -> LocalBackend:
    backend = LocalBackend(lab_toolchain)
    backend.check()  # fails (never skips) where namespaces are unavailable
    return backend
