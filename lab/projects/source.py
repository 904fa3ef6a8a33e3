"""Where a run's checkouts come from: a template the lab renders (``template``), or a project
of the user's that each checkout is a copy of (``project``). A run needs the same of both:
what its build needs in a runner, each checkout made, what each must give, what the probe
looks at."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from lab.projects import project as projects
from lab.projects import template
from lab.projects.identity import Identity
from lab.runners.view import Needs, RunnerView


class Source(Protocol):
    @property
    def name(self) -> str:
        """For people: the template's name, or the project's and where it is."""

    @property
    def key(self) -> str:
        """A plain name for it: a template's; a project's ``Project.key``."""

    @property
    def module(self) -> str | None:
        """The import name a subject may check in the venv; None: none to check."""

    @property
    def needs(self) -> Needs: ...

    def runner_env(self, view: RunnerView) -> dict[str, str]: ...

    def home_files(self, view: RunnerView) -> dict[str, str]: ...

    def render(self, dest: Path, params: Mapping[str, Any]) -> None:
        """A fresh checkout at ``dest``, which must not exist yet."""

    def marked(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` with the marker of what they render (a template's), or as they are."""

    def identity(self, params: Mapping[str, Any], checkout: str, checkout_name: str) -> Identity:
        """What a runner that sees the checkout rendered with ``params`` at ``checkout`` must
        find installed."""

    def probe_spec(self, checkout: str) -> str:
        """What the probe looks at in a runner's venv (never what it should find), as JSON;
        ``checkout``: where the runner sees its checkout."""


def of(project: str | None, template_name: str) -> Source:
    """A scenario's source: its project where it names one, else its template."""
    return projects.open_project(Path(project)) if project else template.get(template_name)
