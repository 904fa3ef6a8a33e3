"""The real pip, pinned and offline, as a subject: ``pip install -e`` into a fresh venv.

pip takes no lock on anything shared and never reuses an editable build (it builds each one
into an ephemeral wheel cache), so it never waits and never serves a stale build: it pays
with a full build on every runner. It runs from its own wheel in the wheelhouse, under the
venv's interpreter (as get-pip does), so no pip of the runner's is involved.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from lab import resources
from lab.contract import Op, Phase
from lab.runners.view import Needs, RunnerView
from lab.subjects.base import Observation, plain_env
from lab.vocabulary import StepKind

# pip's progress, as it logs it where its output is not a terminal.
_LINES = (
    (re.compile(r"Building editable for (?P<name>\S+) .*: started$"), Op.BUILD, Phase.START),
    (re.compile(r"Building editable for (?P<name>\S+) .*: finished"), Op.BUILD, Phase.END),
    (re.compile(r"^Installing collected packages: (?P<name>.+)$"), Op.INSTALL, Phase.START),
    (re.compile(r"^Successfully installed (?P<name>.+)$"), Op.INSTALL, Phase.END),
)


@dataclass(frozen=True)
class Pip:
    version: str
    deps: bool = True  # False: the project alone (a project of the user's, as uv installs it)
    failpoints = False

    @property
    def name(self) -> str:
        return "pip"

    @property
    def label(self) -> str:
        return f"pip {self.version}"

    @property
    def needs(self) -> Needs:
        return Needs(resources=frozenset({resources.WHEELHOUSE}))

    def argv(self, view: RunnerView) -> list[str]:
        wheelhouse = view.resources[resources.WHEELHOUSE]
        venv = f"{view.src}/.venv"
        install = [
            f"{venv}/bin/python",
            self._pip(view),
            "install",
            "--no-index",
            "--find-links",
            wheelhouse,
            "--cache-dir",
            f"{view.cache}/pip",
            "--disable-pip-version-check",
            "--progress-bar",
            "off",
            *([] if self.deps else ["--no-deps"]),
            "-e",
            view.src,
        ]
        make_venv = [view.python, "-m", "venv", "--without-pip", venv]
        return ["sh", "-ec", f"{shlex.join(make_venv)}\n{shlex.join(install)}"]

    def _pip(self, view: RunnerView) -> str:
        return f"{view.resources[resources.WHEELHOUSE]}/pip-{self.version}-py3-none-any.whl/pip"

    def cache_argv(self, kind: StepKind, view: RunnerView) -> list[str] | None:
        if kind is not StepKind.CLEAN:
            return None  # pip's cache has no prune
        return [view.python, self._pip(view), "cache", "purge", "--cache-dir", f"{view.cache}/pip"]

    def env(self, view: RunnerView) -> dict[str, str]:
        return plain_env(view) | {"PIP_NO_INPUT": "1", "PYTHONDONTWRITEBYTECODE": "1"}

    def observe(self, line: str) -> Observation | None:
        text = line.strip()
        for pattern, op, phase in _LINES:
            match = pattern.search(text)
            if match is not None:
                return Observation(op, phase, None, {"what": match["name"]})
        return None
