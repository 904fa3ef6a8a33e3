"""The builder's public face: what a caller needs to start it, light to import, and a command
line that carries a request whole."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import lab
from lab.refbuilder import Freshness, Policy, Request, editable_argv, parser, request_of

# What importing lab.refbuilder may load of the lab: the package, the contract, and the
# modules it exports from. None of the builder's dependencies.
_LIGHT = {
    "lab",
    "lab.contract",
    "lab.refbuilder",
}
_HEAVY = {"filelock", "installer", "packaging", "pyproject_hooks"}


def test_importing_the_package_loads_nothing_of_the_builder_itself() -> None:
    """The orchestrator imports the package to start the builder, in a process of its own."""
    root = Path(lab.__file__).resolve().parent.parent
    code = (
        f"import json, sys; sys.path.insert(0, {str(root)!r}); import lab.refbuilder; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    proc = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    loaded = set(json.loads(proc.stdout))
    assert {m for m in loaded if m == "lab" or m.startswith("lab.")} == _LIGHT
    assert {m.split(".")[0] for m in loaded} & _HEAVY == set()


@pytest.mark.parametrize(
    "request_",
    [
        Request(Path("/src"), Path("/cache"), Path("/venv"), Path("/wh"), Path("/py")),
        Request(
            Path("/src"),
            Path("/cache"),
            Path("/venv"),
            Path("/wh"),
            Path("/py"),
            policy=Policy.NONE,
            module="pkg.sub",
            freshness=Freshness.CTIME,
            tree_lock=False,
            lock_timeout=2.5,
        ),
    ],
    ids=["defaults", "every-flag"],
)
def test_the_command_line_carries_a_request_whole(request_: Request) -> None:
    args = parser().parse_args(editable_argv(request_, "r1", Path("/history.jsonl")))
    assert request_of(args) == request_
    assert (args.runner, args.history) == ("r1", Path("/history.jsonl"))
