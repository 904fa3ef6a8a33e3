"""Files the lab ships beside its code: the scenarios and the runner images' inputs.

In a source checkout they are the top-level ``scenarios/`` and ``images/``; a wheel carries
them inside the package as ``lab/_data/`` (pyproject.toml's force-include), so an ordinary
``pip install`` finds them too.
"""

from __future__ import annotations

from pathlib import Path

from lab.errors import LabError

_PACKAGE = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    candidates = (_PACKAGE / "_data" / name, _PACKAGE.parent / name)
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise LabError(f"the lab's {name}/ is missing: looked in {', '.join(map(str, candidates))}")


def scenarios_dir() -> Path:
    return _find("scenarios")


def images_dir() -> Path:
    return _find("images")
