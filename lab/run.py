"""One run of a scenario, as an object that publishes events to its subscribers.

    run = Run(scenario, backend, toolchain, runs_dir)
    run.subscribe(progress.on_event)  # the history writer is always the first subscriber
    result = run.execute()

Everything a run produces stays in ``runs/<id>/``: the resolved scenario, the rendered
checkouts, the shared cache, one log per runner, ``history.jsonl``, ``result.json`` and the
page that draws them. A scenario's steps (run, delete, edit, prune, clean) are taken in turn
on the same cache and checkouts. Interrupts still leave a result and no runner behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from lab import archive, check, history, identity, nemesis, resources, steps, subjects, template
from lab.contract import (
    CLOCK_ERROR_KEY,
    FAILPOINTS_ENV,
    LAB_RUNNER,
    Clock,
    Event,
    Op,
    Phase,
    StepKind,
    parse_event_line,
)
from lab.errors import LabError, UsageError
from lab.nemesis import RunFaults, mounts
from lab.nemesis.process import ProcessNemesis
from lab.report import html
from lab.result import FILENAME as RESULT_FILE
from lab.result import RunResult, summarize
from lab.runners.base import (
    Backend,
    LineCallback,
    Mount,
    Needs,
    RunnerSpec,
    RunnerView,
    RunningRunner,
    Stamp,
)
from lab.scenario import Scenario, Step, Topology, runner_names
from lab.subjects import Observation
from lab.toolchain import Toolchain
from lab.vocabulary import RunStatus

Subscriber = Callable[[Event], None]


def now() -> tuple[float, float]:
    return time.monotonic(), time.time()


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def run_id(self) -> str:
        return self.path.name

    @classmethod
    def create(cls, runs_dir: Path, scenario: str) -> RunDir:
        """``<time>-<scenario>-<tag>``: the tag is random, because the run's id also names
        and labels its containers, and two labs (each with its own runs directory) may start
        a run of one scenario on one engine in the same second."""
        runs_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for _ in range(100):
            path = runs_dir / f"{stamp}-{scenario}-{secrets.token_hex(2)}"
            try:
                path.mkdir()
            except FileExistsError:
                continue
            return cls(path)
        raise LabError(f"cannot create a run directory in {runs_dir}: every name tried exists")

    def point_latest(self) -> None:
        """Make ``runs/latest`` name this run, replacing the link atomically."""
        link = self.path.parent / "latest"
        tmp = self.path.parent / f".latest.{os.getpid()}"
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(self.path.name)
        tmp.replace(link)


def _placed(obs: Observation, stamp: Stamp) -> Observation:
    """``obs`` from a line that ``stamp`` says its node produced: at the time its subject
    stamped it there (a node's wall clock), else the line's, on the lab's clocks; with how
    far off that can be."""
    clock = stamp.clock
    at = clock.place(obs.at[1] if obs.at else stamp.node_wall)
    data = {**obs.data, CLOCK_ERROR_KEY: round(clock.error_s, 6)}
    return dataclasses.replace(obs, at=at, data=data)


class _RunnerLog:
    """A runner's output with arrival times, fed by its stdout and stderr readers."""

    def __init__(self, path: Path) -> None:
        # appended to: a scenario's steps run a runner more than once
        self._file: TextIO = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()
        self._lines = 0

    def write(self, t_mono: float, stream: str, line: str) -> bool:
        """Append one line; True if it is the runner's first (in this step)."""
        with self._lock:
            if self._file.closed:  # a reader thread that outlived an interrupted run
                return False
            self._file.write(f"{t_mono:.6f} {stream} {line}\n")
            self._file.flush()
            self._lines += 1
            return self._lines == 1

    def close(self) -> None:
        with self._lock:
            self._file.close()


# Every runner runs the subject, then the lab's probe, whatever the subject did: the probe
# reports what the venv holds (lab.probe). The runner's exit code stays the subject's.
_THEN_PROBE = (
    "sh",
    "-c",
    'set +e; "$@"; rc=$?; "$CACHELAB_PYTHON" -I -S "$CACHELAB_PROBE" "$CACHELAB_VENV" '
    '"$CACHELAB_PROBE_SPEC" "$CACHELAB_RUNNER"; exit $rc',
    "sh",
)


class Run:
    def __init__(
        self,
        scenario: Scenario,
        backend: Backend,
        toolchain: Toolchain,
        runs_dir: Path,
        *,
        cache: Path | None = None,
        faults: RunFaults | None = None,
    ) -> None:
        """``cache``: an existing directory to share with other runs (a campaign's trial),
        else the run's own ``cache/``. ``faults``: what to strike, beyond the scenario's
        failpoints."""
        self.scenario = scenario
        self.shared_cache = cache
        self.faults = faults or RunFaults()
        self._nemesis = ProcessNemesis(self.faults.strikes) if self.faults.strikes else None
        self.backend = backend
        self.toolchain = toolchain
        self.runs_dir = runs_dir
        self.template = template.get(scenario.template)
        self.subject = subjects.make(scenario.subject, scenario, self.template)
        self._subscribers: list[Subscriber] = []
        self._events: list[Event] = []
        self._failed: dict[Subscriber, str] = {}
        self._lock = threading.Lock()
        self._executed = False
        # what _prepare laid out, for the steps that follow
        self._checkouts: dict[str, str] = {}  # runner -> its checkout's name
        self._params: dict[str, dict[str, Any]] = {}  # checkout -> its template parameters
        self._views: dict[str, RunnerView] = {}
        self._expected: dict[str, identity.Expected] = {}
        self._found: Mapping[str, Path] = {}
        self._binaries: frozenset[str] = frozenset()
        self._deadline = 0.0  # when the scenario's timeout ends the run
        if self._nemesis is not None:
            self.subscribe(self._nemesis)

    def subscribe(self, subscriber: Subscriber) -> None:
        """Call ``subscriber`` with every event, in the order the history records them.

        Subscribers are called on the runners' reader threads, one event at a time: they must
        be quick, and one that raises is dropped (the run reports it at the end) rather than
        stopping a runner's output."""
        self._subscribers.append(subscriber)

    def _publish(self, event: Event) -> None:
        with self._lock:
            self._events.append(event)
            for subscriber in self._subscribers:
                if subscriber in self._failed:
                    continue
                try:
                    subscriber(event)
                except Exception as exc:
                    self._failed[subscriber] = f"{subscriber!r} on {event.op}/{event.phase}: {exc}"

    def _record(
        self,
        runner: str,
        obs: Observation,
        arrived: tuple[float, float] | None = None,
        node: str | None = None,
    ) -> None:
        """Stamp what a runner's output said (or what the lab saw) and publish it. The
        runner is the one whose output it was, whatever the line claimed; ``node``: the
        host it ran on, where that is not the lab's."""
        if obs.at is not None:
            (t_mono, t_wall), clock = obs.at, Clock.SOURCE
        elif arrived is not None:
            (t_mono, t_wall), clock = arrived, Clock.ARRIVAL
        else:
            (t_mono, t_wall), clock = now(), Clock.ORCHESTRATOR
        self._publish(
            Event(t_mono, t_wall, runner, obs.op, obs.phase, obs.key, clock, node, dict(obs.data))
        )

    def execute(self) -> RunResult:
        """Run the scenario once (a Run is not reusable). LabError after the run where a
        subscriber failed: the result is saved all the same."""
        if self._executed:
            raise LabError("a Run executes once; make a new one")
        self._executed = True
        needs = self.subject.needs | self.template.needs | Needs(frozenset({resources.PROBE}))
        # Everything is checked before anything is written: a missing resource is a clear
        # error and leaves no run directory.
        found = {name: self.toolchain.resource(name) for name in sorted(needs.resources)}
        self.backend.check(needs.binaries)
        if self._nemesis is not None and not self.backend.live_output:
            raise UsageError(
                f"the {self.backend.name} backend hands on a runner's lines when it ends, so "
                "no fault can strike after an event of it: run faults on docker or local"
            )
        lying = self.scenario.locks == "lie" and not self.faults.cache_views
        if lying and (why := mounts.available()):
            raise LabError(f"scenario {self.scenario.name} has locks that lie: {why}")
        run_dir = RunDir.create(self.runs_dir, self.scenario.name)
        with contextlib.ExitStack() as stack:  # the fault mounts of locks that lie, if any
            try:
                if lying:
                    self._lie(stack, run_dir.path)
                specs = self._prepare(run_dir.path, found, needs.binaries)
            except BaseException:  # incl. Ctrl-C: leave no half-prepared run directory behind
                stack.close()
                shutil.rmtree(run_dir.path, ignore_errors=True)
                raise
            return self._execute(run_dir, specs)

    def _lie(self, stack: contextlib.ExitStack, root: Path) -> None:
        """Give each runner its own FUSE view of the cache, whose locks do not exclude the
        other views' (the scenario's ``locks = "lie"``); unmounted on every way out."""
        registry = self.runs_dir / mounts.REGISTRY_DIR
        mounts.reap(registry)  # what an orchestrator that was killed left mounted
        made = stack.enter_context(mounts.FaultMounts(registry))
        # over the campaign's shared cache where there is one (_prepare links it in as cache/)
        cache = self.shared_cache.resolve() if self.shared_cache else root / "cache"
        cache.mkdir(exist_ok=True)
        names = runner_names(self.scenario.runners)
        views = made.lying_views(cache, root / "views", names)
        self.faults = dataclasses.replace(
            self.faults, cache_views=views, locks_exclude=False, note="locks that lie"
        )

    def _execute(self, run_dir: RunDir, specs: list[RunnerSpec]) -> RunResult:
        run_dir.point_latest()
        with history.HistoryWriter(run_dir.path / history.FILENAME) as writer:
            self._subscribers.insert(0, writer)
            status = RunStatus.FAILED
            try:
                status = self._take_steps(run_dir.path, specs)
            except KeyboardInterrupt:
                status = RunStatus.INTERRUPTED
                raise
            finally:
                writer.close()  # complete on disk: the checker reads the directory alone
                with self._lock:
                    events = list(self._events)
                result = summarize(
                    events,
                    run_id=run_dir.run_id,
                    scenario=self.scenario,
                    status=status,
                    backend=self.backend.name,
                    subject=self.subject,
                    report=check.check(run_dir.path),
                )
                result.save(run_dir.path / RESULT_FILE)
                html.render_run(run_dir.path)
        if self._failed:
            raise LabError("a subscriber of the run failed: " + "; ".join(self._failed.values()))
        return result

    def _prepare(
        self, root: Path, found: Mapping[str, Path], binaries: frozenset[str]
    ) -> list[RunnerSpec]:
        """Render the checkouts, lay out the run directory and describe each runner."""
        scenario = self.scenario
        (root / "scenario.json").write_text(scenario.model_dump_json(indent=2) + "\n")
        nemesis.save(root / nemesis.FILENAME, self.faults)
        if self.shared_cache is None:
            (root / "cache").mkdir(exist_ok=True)  # made already where its views lie
        else:  # the checker reads cache/ in the run directory, whatever it is
            (root / "cache").symlink_to(self.shared_cache.resolve())
        (root / "logs").mkdir()
        told = archive.environment(
            root / "cache", subject=self.subject.label, backend=self.backend.name
        )
        (root / archive.ENVIRONMENT_FILE).write_text(json.dumps(told, indent=2) + "\n")
        names = runner_names(scenario.runners)
        shared = scenario.topology is Topology.SHARED_TREE
        # one physical tree mounted into every runner, or a checkout each
        checkouts = {name: "shared" if shared else name for name in names}
        params = {
            checkout: scenario.template_params(i, identity.new_marker(root.name, checkout))
            for i, checkout in enumerate(dict.fromkeys(checkouts.values()))
        }
        for checkout, values in params.items():
            self._checkout(root / "checkouts" / checkout, values)
        self._checkouts, self._params = checkouts, params
        specs, expected = [], {}
        for name in names:
            checkout_path = scenario.checkout_path
            if scenario.topology is Topology.DIFFERENT_PATHS:
                checkout_path += f"-{name}"
            private = root / "runners" / name
            for sub in ("tmp", "home"):
                (private / sub).mkdir(parents=True)
            view = self.backend.view(root, name, checkout_path, found, binaries)
            checkout = checkouts[name]
            specs.append(self._spec(name, view, root / "checkouts" / checkout, root))
            expected[name] = identity.expected(self.template, params[checkout], view.src, checkout)
            self._views[name] = view
        identity.save(root / identity.FILENAME, expected)
        self._expected = expected
        self._found, self._binaries = found, binaries
        return specs

    def _spec(self, name: str, view: RunnerView, checkout: Path, root: Path) -> RunnerSpec:
        private = root / "runners" / name
        cache = self.faults.cache_views.get(name, (root / "cache").resolve())
        mounts = [
            Mount(checkout, view.src),
            Mount(cache, view.cache, read_only=self.faults.cache_read_only),
            Mount(private / "tmp", view.tmp),
            Mount(private / "home", view.home),
            *view.mounts,
        ]
        env = {
            **self.subject.env(view),
            **self.template.runner_env(view, private / "home"),
            "CACHELAB_PYTHON": view.python,
            "CACHELAB_PROBE": view.resources[resources.PROBE],
            "CACHELAB_PROBE_SPEC": identity.probe_spec(self.template),
            "CACHELAB_VENV": f"{view.src}/.venv",
            "CACHELAB_RUNNER": name,
        }
        failpoints = ",".join(
            filter(None, (self.scenario.failpoints.get(name), self.faults.failpoints.get(name)))
        )
        if failpoints:
            env[FAILPOINTS_ENV] = failpoints
        return RunnerSpec(
            name=name,
            argv=[*_THEN_PROBE, *self.subject.argv(view, name)],
            env=env,
            workdir=view.src,
            mounts=mounts,
            tmpfs=(f"{view.src}/.venv",),
            log_path=root / "logs" / f"{name}.log",
            node=self._node(name),
        )

    def _node(self, name: str) -> int | None:
        """The node the scenario puts runner ``name`` on, where it says (``runners_per_node``)."""
        per_node = self.scenario.runners_per_node
        names = runner_names(self.scenario.runners)
        return names.index(name) // per_node if per_node and name in names else None

    def _checkout(self, dest: Path, params: dict[str, Any]) -> None:
        self.template.render(dest, params)
        # The mount point of each runner's private tmpfs .venv, made now and writable for any
        # uid: Docker copies an existing mount point's mode into the tmpfs it mounts there.
        venv = dest / ".venv"
        venv.mkdir()
        venv.chmod(0o1777)

    def _take_steps(self, root: Path, specs: list[RunnerSpec]) -> RunStatus:
        """Take the scenario's steps in turn; the run's status is its last run step's (a
        timeout or an interrupt ends it at once)."""
        status = RunStatus.OK
        beside: list[tuple[RunnerSpec, float]] = []  # a cache step to start within the next run
        plan = self.scenario.plan
        # one deadline for the whole run, however many steps it takes
        self._deadline = time.monotonic() + self.scenario.timeout
        for index, step in enumerate(plan, start=1):
            said: dict[str, Any] = {"kind": step.kind, "steps": len(plan)}
            if len(plan) > 1:
                self._record(LAB_RUNNER, Observation(Op.STEP, Phase.START, f"step-{index}", said))
            if step.kind is StepKind.RUN:
                chosen = [spec for spec in specs if not step.runners or spec.name in step.runners]
                status = self._run_all(root.name, chosen, beside)
                beside = []
                if status is RunStatus.TIMEOUT:
                    break
            elif step.kind in (StepKind.DELETE, StepKind.EDIT):
                try:
                    said.update(self._change_checkouts(root, step))
                except steps.StepError as e:
                    said["error"] = str(e)
                    self._record(LAB_RUNNER, Observation(Op.STEP, Phase.END, f"step-{index}", said))
                    raise steps.StepError(
                        f"scenario {self.scenario.name}, steps[{index}] ({step.kind}): {e}"
                    ) from None
            else:
                cleaner = self._cache_spec(root, step, index)
                if cleaner is None:
                    said["skipped"] = f"{self.subject.label} has no cache {step.kind}"
                elif step.during is not None:
                    said["runner"] = cleaner.name  # its lane shows when it ran
                    beside.append((cleaner, step.during))
                else:
                    said["runner"] = cleaner.name
                    if self._run_all(root.name, [cleaner]) is RunStatus.TIMEOUT:
                        status = RunStatus.TIMEOUT
                        break
            if len(plan) > 1:
                self._record(LAB_RUNNER, Observation(Op.STEP, Phase.END, f"step-{index}", said))
        return status

    def _change_checkouts(self, root: Path, step: Step) -> dict[str, Any]:
        """A delete or an edit, in every chosen checkout; what it removed or wrote."""
        if step.kind is StepKind.EDIT:
            return {"written": self._edit(root, step)}
        assert step.path is not None
        return {
            "removed": {
                checkout: steps.delete(root / "checkouts" / checkout, step.path)
                for checkout in self._chosen_checkouts(step)
            }
        }

    def _chosen_checkouts(self, step: Step) -> list[str]:
        return list(
            dict.fromkeys(
                c for r, c in self._checkouts.items() if not step.runners or r in step.runners
            )
        )

    def _edit(self, root: Path, step: Step) -> dict[str, list[str]]:
        """Render the chosen checkouts again with the step's parameters; what each runner must
        find from now on changes with them (``expected.json``)."""
        written = {}
        for checkout in self._chosen_checkouts(step):
            params = dict(self._params[checkout])
            for name, value in step.set.items():
                params[name] = list(value) if name == "dependencies" else value
            written[checkout] = steps.edit(self.template, root / "checkouts" / checkout, params)
            self._params[checkout] = params
        for runner, checkout in self._checkouts.items():
            view = self._views[runner]
            self._expected[runner] = identity.expected(
                self.template, self._params[checkout], view.src, checkout
            )
        identity.save(root / identity.FILENAME, self._expected)
        return written

    def _cache_spec(self, root: Path, step: Step, index: int) -> RunnerSpec | None:
        """A runner of its own that runs the subject's cache prune or clean on the shared
        cache, as another CI job would; None where the subject has no such command."""
        name = f"cache-{step.kind}-{index}"
        view = self.backend.view(
            root, name, self.scenario.checkout_path, self._found, self._binaries
        )
        argv = self.subject.cache_argv(step.kind, view)
        if argv is None:
            return None
        checkout = root / "checkouts" / f".{name}"  # it builds nothing: an empty checkout
        checkout.mkdir(parents=True)
        for sub in ("tmp", "home"):
            (root / "runners" / name / sub).mkdir(parents=True)
        spec = self._spec(name, view, checkout, root)
        return dataclasses.replace(spec, argv=argv)

    def _run_all(
        self,
        run_id: str,
        specs: list[RunnerSpec],
        beside: Sequence[tuple[RunnerSpec, float]] = (),
    ) -> RunStatus:
        """Run ``specs`` together (and ``beside``, each so many seconds after the start);
        the status counts ``specs`` only."""
        logs: list[_RunnerLog] = []
        starts = [
            (spec, i * self.scenario.stagger + self.faults.start_delays.get(spec.name, 0.0))
            for i, spec in enumerate(specs)
        ]
        starts = sorted([*starts, *beside], key=lambda item: item[1])
        try:
            with self.backend.session(run_id) as session:
                handles: dict[str, RunningRunner] = {}
                started = time.monotonic()
                for spec, delay in starts:
                    time.sleep(max(0.0, started + delay - time.monotonic()))
                    assert spec.log_path is not None
                    log = _RunnerLog(spec.log_path)
                    logs.append(log)
                    self._record(spec.name, Observation(Op.RUN, Phase.START))
                    handles[spec.name] = session.start(spec, self._reader(spec.name, log))
                    if self._nemesis is not None:
                        self._nemesis.start(spec.name, handles[spec.name], self._record)
                try:
                    codes = self._wait_all(handles)
                finally:
                    if self._nemesis is not None:
                        self._nemesis.stop()  # a paused runner goes on, so that it can stop
        finally:
            for log in logs:
                log.close()
        if codes is None:
            return RunStatus.TIMEOUT
        measured = [codes.get(spec.name) for spec in specs]
        return RunStatus.OK if all(rc == 0 for rc in measured) else RunStatus.FAILED

    def _reader(self, runner: str, log: _RunnerLog) -> LineCallback:
        """The line callback of one runner: log every line, publish what it tells. A line
        its backend stamped where it was produced (another host) is placed on the lab's
        clocks by that node's clock, and so is what the subject stamped itself there."""

        def on_line(stream: str, line: str, stamp: Stamp | None = None) -> None:
            arrived = stamp.clock.place(stamp.node_wall) if stamp else now()
            up = Observation(Op.RUN, Phase.OUTPUT)
            obs = self.subject.observe(line)
            if obs is None:
                event = parse_event_line(line)  # the probe's facts, whatever the subject
                if event is not None and event.op is Op.FACTS:
                    obs = Observation(
                        event.op, event.phase, None, event.data, at=(event.t_mono, event.t_wall)
                    )
            node = None
            if stamp is not None:
                up, obs = _placed(up, stamp), _placed(obs, stamp) if obs else None
                node = stamp.clock.node
            if log.write(arrived[0], stream, line):
                # the runner is up: start-up overhead ends here
                self._record(runner, up, arrived, node)
            if obs is not None:
                self._record(runner, obs, arrived, node)

        return on_line

    def _wait_all(self, handles: dict[str, RunningRunner]) -> dict[str, int | None] | None:
        """Wait for every runner; each exit is recorded by its own thread as it happens.
        Their exit codes, or None where the scenario's timeout ended them."""
        codes: dict[str, int | None] = {}

        def wait_one(name: str, handle: RunningRunner) -> None:
            rc = handle.wait()
            codes[name] = rc
            self._record(name, Observation(Op.RUN, Phase.END, data={"rc": rc, "pid": handle.pid}))

        waiters = [
            threading.Thread(target=wait_one, args=item, daemon=True) for item in handles.items()
        ]
        for waiter in waiters:
            waiter.start()
        while any(w.is_alive() for w in waiters):
            if time.monotonic() > self._deadline:
                for name, handle in handles.items():
                    if name not in codes:
                        handle.kill()
                for waiter in waiters:
                    waiter.join()
                return None
            for waiter in waiters:
                waiter.join(timeout=0.1)  # short joins keep Ctrl-C responsive
        return codes


def execute(
    scenario: Scenario,
    backend: Backend,
    toolchain: Toolchain,
    runs_dir: Path,
    *subscribers: Subscriber,
    cache: Path | None = None,
) -> RunResult:
    """Run ``scenario`` once, with these subscribers besides the history; ``cache``: a
    directory it shares with other runs, else its own."""
    one = Run(scenario, backend, toolchain, runs_dir, cache=cache)
    for subscriber in subscribers:
        one.subscribe(subscriber)
    return one.execute()
