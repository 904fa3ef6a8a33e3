"""Scenarios: declarative setups (how many runners, which template, topology and subject,
which steps and faults, what the catalog expects), loaded from TOML and validated before
anything starts (``model``, ``step``, ``expectation``).

Every problem is reported as one ScenarioError naming the file (or ``--set`` option), the
field and what is allowed; the CLI turns it into exit code 2.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from lab import data
from lab.errors import ScenarioError
from lab.scenario.expectation import Expectation
from lab.scenario.model import ISSUE_SCENARIO, MAX_RUNNERS, RESERVED_TOP_DIRS, Scenario
from lab.scenario.step import Step

__all__ = [
    "FIELDS",
    "ISSUE_SCENARIO",
    "MAX_RUNNERS",
    "RESERVED_TOP_DIRS",
    "Expectation",
    "Scenario",
    "Step",
    "from_mapping",
    "load",
    "load_named",
    "parse_override",
    "resolve_path",
    "with_changes",
]

FIELDS = tuple(Scenario.model_fields)


def _error(source: str | Path, exc: ValidationError) -> ScenarioError:
    err = exc.errors()[0]
    # steps[1].path, as people count: list positions from one
    where = "".join(f"[{p + 1}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
    field = where.removeprefix(".") or None
    if err["type"] == "extra_forbidden":
        message = f"unknown field; the fields are {list(FIELDS)}"
    elif err["type"] == "missing":
        message = "is required"
    elif not err["loc"]:  # a check across fields: the message names them
        message = err["msg"].removeprefix("Value error, ")
    else:
        message = f"{err['msg'].removeprefix('Value error, ')} (got {err['input']!r})"
    return ScenarioError(source, field, message)


def parse_override(text: str) -> tuple[str, Any]:
    """Parse one ``--set key=value``; the value is read as a TOML value, else as a string."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ScenarioError(f"--set {text}", None, "expected KEY=VALUE, e.g. --set runners=4")
    if key not in FIELDS:
        raise ScenarioError(f"--set {text}", key, f"unknown field; the fields are {list(FIELDS)}")
    try:
        value: Any = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def from_mapping(data: Mapping[str, Any], source: str | Path) -> Scenario:
    try:
        return Scenario.model_validate(dict(data))
    except ValidationError as exc:
        raise _error(source, exc) from None


def with_changes(scenario: Scenario, source: str | Path, **changes: Any) -> Scenario:
    """``scenario`` with ``changes`` (``subject="narrow"``), validated again; ``source`` says
    where the changes came from."""
    return from_mapping({**scenario.model_dump(), **changes}, source)


def load(path: Path, overrides: Iterable[str] = ()) -> Scenario:
    """Load and validate a scenario file, then apply ``--set`` overrides (validated again)."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ScenarioError(path, None, "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(path, None, f"cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(path, None, f"not valid TOML: {exc}") from None
    scenario = from_mapping(data, path)
    for text in overrides:
        key, value = parse_override(text)
        try:
            scenario = Scenario.model_validate({**scenario.model_dump(), key: value})
        except ValidationError as exc:
            raise _error(f"--set {text}", exc) from None
    return scenario


def resolve_path(name_or_path: str, scenarios_dir: Path | None = None) -> Path:
    """``issue-15380`` means ``<scenarios dir>/issue-15380.toml`` (the lab's own by default);
    anything else is a path."""
    candidate = Path(name_or_path)
    if candidate.suffix != ".toml" and "/" not in name_or_path:
        candidate = (scenarios_dir or data.scenarios_dir()) / f"{name_or_path}.toml"
    return candidate


def load_named(name_or_path: str, overrides: Iterable[str] = ()) -> Scenario:
    """``load`` of a scenario named as on the command line."""
    return load(resolve_path(name_or_path), overrides)
