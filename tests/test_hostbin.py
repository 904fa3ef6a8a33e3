from __future__ import annotations

import pytest

from lab import hostbin
from lab.errors import ToolchainError


def test_host_binaries_resolve_past_rustup_proxies() -> None:
    rust = hostbin.host_bin_dir("rustc")
    assert (rust / "rustc").is_file() and (rust / "cargo").is_file()
    assert (rust / "rustc").resolve().name != "rustup"  # works without the user's HOME
    with pytest.raises(ToolchainError, match="`no-such-tool` is not on PATH"):
        hostbin.host_bin_dir("no-such-tool")
