"""lab.builder runs inside runner images: it may import only its own few dependencies."""

from __future__ import annotations

import json
import subprocess
import sys

ALLOWED = {"lab", "filelock", "pyproject_hooks", "installer", "packaging"}


def test_the_builder_imports_only_its_dependencies() -> None:
    # only what importing the builder adds: .pth files may load things at start-up
    code = (
        "import json, sys; before = set(sys.modules); import lab.builder, lab.builder.__main__; "
        "print(json.dumps(sorted({m.split('.')[0] for m in set(sys.modules) - before})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    third_party = set(json.loads(out.stdout)) - set(sys.stdlib_module_names)
    assert third_party <= ALLOWED, third_party - ALLOWED
    assert "lab" in third_party
