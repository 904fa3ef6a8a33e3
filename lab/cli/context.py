"""What every command shares: the lab directory and its toolchain, the choice of a runner
backend (said once, in one line), the runs directory, the consoles, and running scenarios
with live progress, each run's table and page."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from lab.errors import UsageError
from lab.log import log
from lab.report import html, terminal
from lab.result import RunResult
from lab.run import Lab, Run
from lab.rundir import CampaignDir, CampaignKind
from lab.runners import select
from lab.runners.base import Backend
from lab.runners.swarm import CacheVolume
from lab.scenario import Scenario
from lab.toolchain import Toolchain
from lab.vocabulary import runner_names


@dataclass
class Context:
    lab_dir: Path  # the offline toolchain's root
    base_image: str | None  # the runner image's base, where the user names one
    json: bool = False  # stdout carries JSON: what is for people goes to stderr
    console: Console = field(init=False)
    err: Console = field(init=False)

    def __post_init__(self) -> None:
        # what goes through them is text as it is: no markup, no emoji codes made pictures
        self.console = Console(stderr=self.json, soft_wrap=True, highlight=False, emoji=False)
        self.err = Console(stderr=True, soft_wrap=True, highlight=False, emoji=False)

    @classmethod
    def of(cls, args: argparse.Namespace) -> Context:
        return cls(args.lab_dir, args.base_image, json=bool(getattr(args, "json", False)))

    def say(self, message: str) -> None:
        """One line of progress, for people, on stderr (``lab.log`` sends here)."""
        self.err.print(message, markup=False)

    @property
    def toolchain(self) -> Toolchain:
        if not self.lab_dir.is_dir():
            raise UsageError(
                f"--lab-dir {self.lab_dir}: no such directory; `cachelab setup` makes the "
                "toolchain there"
            )
        return Toolchain(self.lab_dir.resolve())

    def backend(self, name: str, cache_volume: CacheVolume | None = None) -> Backend:
        """The runner backend ``--backend`` names, and why it was chosen, said."""
        backend, why = select.choose(name, self.base_image, cache_volume)
        log(f"backend {backend.name} ({why})")
        return backend

    def lab(self, args: argparse.Namespace, cache_volume: CacheVolume | None = None) -> Lab:
        """Where this command's runs happen: ``--backend`` and ``--runs-dir``."""
        runs_dir = runs_directory(args.runs_dir)
        backend = self.backend(args.backend, cache_volume)
        return Lab(self.toolchain, backend, runs_dir)


def runs_directory(path: Path) -> Path:
    """``--runs-dir``, resolved: a directory, or one that can be made there."""
    for above in (path, *path.parents):
        if above.exists() and not above.is_dir():
            raise UsageError(f"--runs-dir {path}: {above} is a file, not a directory")
        if above.exists():
            break
    return path.resolve()


@dataclass(frozen=True)
class Command:
    """One command of the table: its name, what it does, its own options, and its handler,
    which returns an exit code (``errors.ExitCode``). A command with ``actions`` takes
    one of them (``swarm up``)."""

    name: str
    help: str
    handler: Callable[[argparse.Namespace, Context], int] | None = None
    options: Callable[[argparse.ArgumentParser], None] | None = None
    actions: tuple[Command, ...] = ()


def run_each(
    lab: Lab, scenarios: Sequence[Scenario], console: Console, cache: Path | None = None
) -> list[RunResult]:
    """Run each scenario in turn with live progress; print each run's table and verdict, and
    draw its page, however the run ended."""
    results = []
    for resolved in scenarios:
        one = Run(lab, resolved, cache=cache)
        with terminal.Progress(Console(stderr=True), runner_names(resolved.runners)) as progress:
            one.subscribe(progress.on_event)
            try:
                result = one.execute()
            finally:
                if one.run_dir is not None and one.run_dir.history.is_file():
                    html.render_run(one.run_dir.path)
        terminal.print_result(console, result, shown(lab.runs_dir / result.run_id))
        results.append(result)
    return results


def compare_page(lab: Lab, name: str, results: Sequence[RunResult]) -> Path:
    """A page that draws ``results`` on one time axis, beside them."""
    compared = CampaignDir.create(lab.runs_dir, CampaignKind.COMPARE, name)
    return html.write_compare(compared, [lab.runs_dir / r.run_id for r in results])


def shown(path: Path) -> str:
    """A path as people typed it: relative to here where it is below."""
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)
