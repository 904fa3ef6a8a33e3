"""What each checkout must give: the identity the lab renders into it, and what its checker
then expects to find installed in every runner that uses it.

Each checkout gets a marker in its code, a digest of what it is rendered with (checkouts
rendered alike share one, and are alike), and, where the scenario asks, a version and a
dependency list of its own. The run keeps what each runner must find in its directory
(``RunDir.identities``); the probe reports what it did find (``lab.probe``); ``lab.check``
compares the two. Standard library only: the checker reads it.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class NativeCall:
    """A call into a template's compiled code and what it must return: where a stale or
    missing extension would show."""

    module: str
    function: str
    args: tuple[Any, ...]
    result: Any


def normalized(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Identity:
    """What one runner's venv must hold after its subject ran: its own checkout's."""

    checkout: str  # the checkout as the runner sees it; the module must import from inside
    checkout_name: str  # its directory under checkouts/: whose code a marker is (with others')
    marker: str
    distribution: str
    version: str
    requires: tuple[str, ...]
    module: str
    native: NativeCall | None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Identity:
        native = data.get("native")
        return cls(
            **{k: v for k, v in data.items() if k not in ("requires", "native")},
            requires=tuple(data["requires"]),
            native=NativeCall(**{**native, "args": tuple(native["args"])}) if native else None,
        )


def save(path: Path, by_runner: dict[str, Identity]) -> None:
    payload = {runner: e.to_dict() for runner, e in by_runner.items()}
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")


def load(path: Path) -> dict[str, Identity]:
    data = json.loads(path.read_text())
    return {runner: Identity.from_dict(e) for runner, e in data.items()}
