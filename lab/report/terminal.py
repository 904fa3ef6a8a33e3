"""The terminal: live progress while runners run, then a table and a verdict line."""

from __future__ import annotations

import threading
import time
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.table import Table

from lab.contract import Event, Op, Phase
from lab.metrics import is_tree_lock
from lab.result import RunResult
from lab.rundir import PAGE
from lab.vocabulary import Outcome, RunStatus, Verdict

# What a runner is doing after each event; lock events are told apart by their kind below.
_STATES = {
    (Op.LOCK, Phase.WAIT): "waiting for the {kind} lock",
    (Op.LOCK, Phase.ACQUIRED): "holding the {kind} lock",
    (Op.LOCK, Phase.RELEASED): "released the {kind} lock",
    (Op.LOCK, Phase.TIMEOUT): "timed out waiting for the {kind} lock",
    (Op.ENV, Phase.MISS): "creating a build environment",
    (Op.BUILD, Phase.START): "building",
    (Op.BUILD, Phase.END): "built",
    (Op.PUBLISH, Phase.PUBLISHED): "published",
    (Op.PUBLISH, Phase.DROPPED): "kept the entry already published",
    (Op.PUBLISH, Phase.UNPUBLISHED): "installed, not published (lock timeout)",
    (Op.BUILDER, Phase.WARNED): "warned",
    (Op.INSTALL, Phase.START): "installing",
    (Op.FACTS, Phase.REPORTED): "probed its venv",
    (Op.STEP, Phase.START): "taking a step: {kind}",
    (Op.STEP, Phase.END): "took a step: {kind}",
}


class Progress:
    """A live table of runners, fed with history events from the runner threads."""

    def __init__(self, console: Console, runners: list[str]) -> None:
        self._lock = threading.Lock()
        self._state = {name: "starting" for name in runners}
        self._start: dict[str, float] = {}
        self._live = Live(
            console=console, get_renderable=self._render, refresh_per_second=4, transient=True
        )

    def on_event(self, event: Event) -> None:
        with self._lock:
            if event.op is Op.RUN and event.phase is Phase.START:
                self._start[event.runner] = event.t_mono
                self._state[event.runner] = "running"
            elif event.op is Op.RUN and event.phase is Phase.END:
                self._state[event.runner] = f"done (exit {event.data.get('rc')})"
            elif (event.op, event.phase) in _STATES:
                kind = str(event.data.get("kind", "cache"))
                self._state[event.runner] = _STATES[(event.op, event.phase)].format(kind=kind)

    def _render(self) -> Table:
        now = time.monotonic()
        table = Table(title="runners", title_justify="left", box=None)
        table.add_column("runner")
        table.add_column("state")
        table.add_column("elapsed", justify="right")
        with self._lock:
            for name, state in self._state.items():
                started = self._start.get(name)
                elapsed = (
                    f"{now - started:5.1f} s" if started and not state.startswith("done") else ""
                )
                table.add_row(name, state, elapsed)
        return table

    def __enter__(self) -> Progress:
        self._live.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._live.stop()


def duration(seconds: float) -> str:
    """Seconds for builds and waits, milliseconds for the short holds of a narrow lock."""
    if seconds == 0:
        return "0 s"
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1000:.0f} ms"


def verdict(result: RunResult) -> str:
    one = f"{result.single_build_s:.1f} s" if result.single_build_s else "n/a"
    span = (
        f"makespan {result.makespan_s:.1f} s = {result.ratio:.2f} × one build ({one})"
        if result.makespan_s is not None and result.ratio is not None
        else "no makespan"
    )
    if result.status is not RunStatus.OK:
        failed = [r.name for r in result.runners if r.rc != 0]
        names = ", ".join(failed) or "none"
        return f"run {result.status}: runner(s) {names} did not finish cleanly; {span}"
    wait = result.longest_wait
    if result.coalesced and wait is not None and is_tree_lock(wait.key):
        return (
            f"coalesced on the shared tree: {wait.runner} waited {wait.wait_s:.1f} s for the "
            f"tree lock (held by {wait.holder}, building the same tree), then used that build; "
            f"{span}"
        )
    if result.coalesced and wait is not None:
        return (
            f"coalesced: {wait.runner} waited {wait.wait_s:.1f} s for the lock on {wait.key} "
            f"(held by {wait.holder}), then reused what it built; {span}"
        )
    if result.serialized and wait is not None and is_tree_lock(wait.key):
        return (
            f"serialized on the shared tree: {wait.runner} waited {wait.wait_s:.1f} s for the "
            f"tree lock (held by {wait.holder}), then built the same tree again; {span}"
        )
    if result.serialized and wait is not None:
        return (
            f"reproduced: {wait.runner} waited {wait.wait_s:.1f} s for the editable lock on "
            f"{wait.key} (held by {wait.holder}); {span}"
        )
    keys = ", ".join(result.keys) or "none seen"
    longest = f"longest lock wait {wait.wait_s:.2f} s" if wait else "no lock wait"
    hold = f"longest lock hold {result.longest_hold_s * 1000:.0f} ms"
    return f"not serialized: {longest}, {hold} (lock keys: {keys}); {span}"


def side_by_side(results: list[RunResult]) -> str:
    """One line for several runs of one scenario, e.g. uv against the narrow builder."""
    parts = []
    for r in results:
        span = (
            f"makespan {r.makespan_s:.1f} s ({r.ratio:.2f}×)"
            if r.makespan_s is not None and r.ratio is not None
            else f"run {r.status}"
        )
        if (r.serialized or r.coalesced) and r.longest_wait is not None:
            lock = f"longest lock wait {r.longest_wait.wait_s:.1f} s"
        else:
            lock = f"longest lock hold {r.longest_hold_s * 1000:.0f} ms"
        parts.append(f"{r.subject_label}: {span}, {lock}")
    return " · ".join(parts)


def table(result: RunResult) -> Table:
    t = Table(
        title=f"{result.scenario} · {result.subject_label} · "
        f"{result.backend} backend · {result.topology}",
        title_justify="left",
    )
    t.add_column("runner")
    t.add_column("exit", justify="right")
    t.add_column("wall", justify="right")
    t.add_column("lock wait", justify="right")
    t.add_column("lock hold", justify="right")
    t.add_column("outcome")
    for r in result.runners:
        t.add_row(
            r.name,
            "killed" if r.rc is None else str(r.rc),
            f"{r.wall_s:.2f} s" if r.wall_s is not None else "-",
            duration(r.lock_wait_s),
            duration(r.lock_hold_s),
            str(r.outcome),
        )
    return t


_SHOWN_VIOLATIONS = 5


def _what_was_checked(result: RunResult) -> str:
    """Whose installs a valid verdict vouches for: a runner that failed cleanly installed
    nothing, so nothing of it was judged."""
    installed = [r.name for r in result.runners if r.outcome is Outcome.VALID]
    failed = [
        f"{r.name} (exit {r.rc})" for r in result.runners if r.outcome is Outcome.FAILED_CLEAN
    ]
    if not failed:
        return "every runner has its own checkout's install"
    said = f"failed cleanly, nothing installed to judge: {', '.join(failed)}"
    if not installed:
        return f"no runner installed anything; {said}"
    have = "has its" if len(installed) == 1 else "have their"
    return f"{', '.join(installed)} {have} own checkout's install; {said}"


def checked(result: RunResult) -> list[str]:
    """The checker's verdict, and why where it is not valid."""
    if result.verdict is Verdict.VALID:
        return [f"checked: valid ({_what_was_checked(result)}; cache intact)"]
    lines = [f"checked: {result.verdict.upper()}"]
    lines += [f"  {v.kind}: {v.message}" for v in result.violations[:_SHOWN_VIOLATIONS]]
    if len(result.violations) > _SHOWN_VIOLATIONS:
        lines.append(f"  ... and {len(result.violations) - _SHOWN_VIOLATIONS} more in result.json")
    lines += [f"  unknown: {u.reason}" for u in result.unknowns[:_SHOWN_VIOLATIONS]]
    return lines


def print_result(console: Console, result: RunResult, run_path: str) -> None:
    console.print(table(result))
    style = "bold green" if result.serialized else "bold"
    if result.status is not RunStatus.OK:
        style = "bold red"
    console.print(verdict(result), style=style, highlight=False)
    verdict_style = {Verdict.VALID: "green", Verdict.INVALID: "bold red"}.get(
        result.verdict, "yellow"
    )
    for line in checked(result):
        console.print(line, style=verdict_style, highlight=False, markup=False)
    console.print(
        f"run directory: {run_path} (timeline: {run_path}/{PAGE})",
        style="dim",
        highlight=False,
    )
