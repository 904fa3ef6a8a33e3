"""What each checkout must give: the identity the lab renders into it, and what its checker
then expects to find installed in every runner that uses it.

Each checkout gets a unique marker in its code and, where the scenario asks, a version and a
dependency list of its own. The run keeps what each runner must find in ``expected.json``;
the probe reports what it did find (``lab.probe``); ``lab.check`` compares the two.
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.template import NativeCall, Template

FILENAME = "expected.json"


def normalized(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Expected:
    """What one runner's venv must hold after its subject ran."""

    checkout: str  # the checkout as the runner sees it; the module must import from inside
    checkout_name: str  # its directory under checkouts/: whose checkout a marker names
    marker: str
    distribution: str
    version: str
    requires: tuple[str, ...]
    module: str
    native: NativeCall | None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Expected:
        native = data.get("native")
        return cls(
            **{k: v for k, v in data.items() if k not in ("requires", "native")},
            requires=tuple(data["requires"]),
            native=NativeCall(**{**native, "args": tuple(native["args"])}) if native else None,
        )


def new_marker(run_id: str, checkout_name: str) -> str:
    return f"{run_id}/{checkout_name}/{uuid.uuid4().hex[:12]}"


def expected(tmpl: Template, params: dict[str, Any], checkout: str, checkout_name: str) -> Expected:
    """What a runner that sees the checkout rendered with ``params`` at ``checkout`` must find."""
    values = {**tmpl.parameters, **params}
    return Expected(
        checkout=checkout,
        checkout_name=checkout_name,
        marker=str(values["marker"]),
        distribution=normalized(str(values["project_name"])),
        version=str(values["version"]),
        requires=tuple(values["dependencies"]),
        module=tmpl.import_name,
        native=tmpl.native,
    )


def probe_spec(tmpl: Template) -> str:
    """What the probe looks at in a runner's venv (never what it should find), as JSON."""
    native = dataclasses.asdict(tmpl.native) if tmpl.native else None
    distribution = normalized(str(tmpl.parameters["project_name"]))
    return json.dumps(
        {
            "distribution": distribution,
            "module": tmpl.import_name,
            "native": native,
            "check": tmpl.check,
        }
    )


def save(path: Path, by_runner: dict[str, Expected]) -> None:
    payload = {runner: e.to_dict() for runner, e in by_runner.items()}
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")


def load(path: Path) -> dict[str, Expected]:
    data = json.loads(path.read_text())
    return {runner: Expected.from_dict(e) for runner, e in data.items()}
