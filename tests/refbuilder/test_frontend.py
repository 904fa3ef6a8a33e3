"""editable_install end to end: real backends, real venvs, offline."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lab.contract import (
    EDITABLE_BUCKET,
    SCRATCH_DIR,
    SCRATCH_GRACE_S,
    Event,
    LockKind,
    Op,
    Phase,
    parse_event_line,
)
from lab.refbuilder import Installed, Policy, Request, editable_argv
from lab.refbuilder._errors import BuildError
from lab.refbuilder._frontend import editable_install
from lab.refbuilder._tree import path_key
from lab.toolchain import Toolchain
from tests.conftest import FIXTURES
from tests.refbuilder.conftest import BASE_PYTHON, RecordedEvents

pytestmark = pytest.mark.integration  # real backends build real wheels

PACKAGES = FIXTURES.parent / "packages"


def _request(
    src: Path,
    tmp_path: Path,
    wheelhouse: Path,
    module: str | None,
    policy: Policy = Policy.NARROW,
    venv: str = "venv",
) -> Request:
    return Request(
        src, tmp_path / "cache", tmp_path / venv, wheelhouse, BASE_PYTHON, policy, module
    )


def _builder_command(request: Request, runner: str = "builder") -> list[str]:
    """How a runner starts the builder, as the reference subject does (its interpreter)."""
    return [sys.executable, "-m", "lab.refbuilder", *editable_argv(request, runner)]


def test_a_fresh_checkout_with_identical_content_reuses_the_entry(
    tmp_path: Path, render: Callable[..., Path], wheelhouse: Path, events: RecordedEvents
) -> None:
    src = render("src")
    first = editable_install(_request(src, tmp_path, wheelhouse, "uv_demo"), events)
    assert (first.hit, first.publish) == (False, "published")
    assert first.imported_from == str(src / "src" / "uv_demo" / "__init__.py")
    shutil.rmtree(src)  # a new checkout at the same path: new inodes, new ctimes
    render("src")
    again = RecordedEvents()
    second = editable_install(_request(src, tmp_path, wheelhouse, "uv_demo", venv="venv2"), again)
    assert (second.hit, second.revision) == (True, first.revision)
    assert again.phases(Op.BUILD) == []  # no build at all
    assert second.imported_from == first.imported_from


def test_in_tree_side_effects_force_a_rebuild_in_a_fresh_checkout(
    tmp_path: Path, render: Callable[..., Path], wheelhouse: Path, events: RecordedEvents
) -> None:
    """uv #11390: a cached editable wheel whose generated module the new checkout lacks."""
    src = render("src", "inplace")
    first = editable_install(_request(src, tmp_path, wheelhouse, "inplace_demo"), events)
    assert list(first.side_effects) == ["src/inplace_demo/_generated.py"]
    shutil.rmtree(src)
    render("src", "inplace")
    assert not (src / "src" / "inplace_demo" / "_generated.py").exists()
    again = RecordedEvents()
    second = editable_install(
        _request(src, tmp_path, wheelhouse, "inplace_demo", venv="venv2"), again
    )
    lookup = [e for e in again.records if e.op is Op.LOOKUP and e.phase is Phase.MISS]
    assert "lacks the build's side effects: src/inplace_demo/_generated.py" in str(
        lookup[0].data["reason"]
    )
    # it built its own and installed that; the published entry stays the first checkout's
    assert not second.hit and second.publish is Phase.DROPPED
    assert second.imported_from is not None  # rebuilt, so it imports: never a broken install
    # the same checkout again: now its tree has what the kept entry needs, or its own
    third = editable_install(
        _request(src, tmp_path, wheelhouse, "inplace_demo", venv="v3"), RecordedEvents()
    )
    assert third.imported_from is not None


@pytest.mark.parametrize(
    ("package", "fragment"),
    [
        ("bad-backend", "backend 'no_such_backend_module', hook 'get_requires_for_build_editable'"),
        ("no-editable", "no PEP 660 support"),
        ("failing-backend", "hook 'build_editable'"),
    ],
)
def test_backend_failures_name_backend_hook_and_source(
    tmp_path: Path, wheelhouse: Path, events: RecordedEvents, package: str, fragment: str
) -> None:
    src = tmp_path / package
    shutil.copytree(PACKAGES / package, src)
    with pytest.raises(BuildError) as info:
        editable_install(_request(src, tmp_path, wheelhouse, None), events)
    assert fragment in str(info.value)
    assert str(src) in str(info.value)
    assert not list((tmp_path / "cache" / EDITABLE_BUCKET).glob("*/*"))  # nothing published
    assert list((tmp_path / "cache" / SCRATCH_DIR).iterdir()) == []  # and no scratch left


def _lock_order(events: RecordedEvents) -> list[str]:
    return [
        f"{e.op}:{e.phase}:{e.data.get('kind', '')}"
        for e in events.records
        if e.op is Op.BUILD or e.data.get("kind") in (LockKind.TREE, LockKind.ENTRY)
    ]


def test_policies_differ_only_in_what_they_lock(
    tmp_path: Path, render: Callable[..., Path], wheelhouse: Path
) -> None:
    orders = {}
    for policy in Policy:
        src = render(f"src-{policy.value}", "inplace")
        events = RecordedEvents()
        request = Request(
            src,
            tmp_path / f"cache-{policy.value}",
            tmp_path / f"venv-{policy.value}",
            wheelhouse,
            BASE_PYTHON,
            policy,
            "inplace_demo",
        )
        assert editable_install(request, events).imported_from is not None
        orders[policy] = _lock_order(events)
    # narrow: the tree lock around build and publish, the entry lock only to publish
    assert orders[Policy.NARROW] == [
        "lock:request:tree",
        "lock:acquired:tree",
        "build:start:",
        "build:end:",
        "lock:request:entry",
        "lock:acquired:entry",
        "lock:released:entry",
        "lock:released:tree",
    ]
    # wide: the entry lock around everything
    assert orders[Policy.WIDE] == [
        "lock:request:entry",
        "lock:acquired:entry",
        "build:start:",
        "build:end:",
        "lock:released:entry",
    ]
    assert orders[Policy.NONE] == ["build:start:", "build:end:"]
    # coalesce: an in-tree backend's build serves no other tree, so none waits for it
    assert orders[Policy.COALESCE] == orders[Policy.NARROW]


def test_sigkill_mid_build_leaves_no_entry_and_the_next_run_sweeps(
    tmp_path: Path, render: Callable[..., Path], wheelhouse: Path, events: RecordedEvents
) -> None:
    src = render("slow", "inplace", build_delay=60)
    cache = tmp_path / "cache"
    proc = subprocess.Popen(
        _builder_command(_request(src, tmp_path, wheelhouse, None)),
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        event = parse_event_line(line.rstrip("\n"))
        if event is not None and event.op is Op.BUILD and event.phase is Phase.START:
            break
    time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    entry_dir = cache / EDITABLE_BUCKET / path_key(src)
    assert not [p for p in entry_dir.glob("*") if p.is_dir()]  # no entry, not even a partial one
    leftovers = [p for p in (cache / SCRATCH_DIR).iterdir() if p.is_dir()]
    assert len(leftovers) == 1
    # any next run on this cache, once the dead builder's heartbeat is old, sweeps its scratch
    old = time.time() - SCRATCH_GRACE_S - 1
    for path in (cache / SCRATCH_DIR).iterdir():
        os.utime(path, (old, old))
    quick = render("quick", "inplace")
    editable_install(
        Request(
            quick, cache, tmp_path / "v2", wheelhouse, BASE_PYTHON, Policy.NARROW, "inplace_demo"
        ),
        events,
    )
    assert events.phases(Op.SWEEP) == [Phase.REMOVED]
    assert list((cache / SCRATCH_DIR).iterdir()) == []


def test_the_command_line(tmp_path: Path, render: Callable[..., Path], wheelhouse: Path) -> None:
    src = render("src", "inplace")
    history = tmp_path / "h.jsonl"
    request = _request(src, tmp_path, wheelhouse, "inplace_demo")
    proc = subprocess.run(
        [*_builder_command(request, "r1"), "--history", str(history)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    outcome = json.loads(proc.stdout)
    assert outcome["publish"] == Phase.PUBLISHED and outcome["imported_from"]
    records = [Event.from_json(line) for line in history.read_text().splitlines()]
    assert {r.runner for r in records} == {"r1"}
    ops = [(r.op, r.phase) for r in records]
    # installed and imported before it was published; its scratch dir went with it
    assert ops.index((Op.INSTALL, Phase.END)) < ops.index((Op.PUBLISH, Phase.PUBLISHED))
    assert ops[-1] == (Op.SCRATCH, Phase.END)
    assert ops.count((Op.SCRATCH, Phase.START)) == ops.count((Op.SCRATCH, Phase.END))
    # every event on stderr is a contract line, the same as in the history
    on_stderr = [parse_event_line(line) for line in proc.stderr.splitlines()]
    assert [e for e in on_stderr if e is not None] == records
    no_project = dataclasses.replace(request, source=tmp_path)
    bad = subprocess.run(_builder_command(no_project), capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "neither pyproject.toml nor setup.py" in bad.stderr
    # a bad interpreter or an unwritable history: one line naming it, exit 1, no traceback
    elsewhere = _request(src, tmp_path, wheelhouse, None, venv="v2")
    for option, value in (("--python", "/nope"), ("--history", "/nonexistent/h.jsonl")):
        command = [*_builder_command(elsewhere), option, value]  # the later option wins
        failed = subprocess.run(command, capture_output=True, text=True, check=False)
        assert failed.returncode == 1, failed.stderr
        assert value in failed.stderr and "Traceback" not in failed.stderr


def test_a_fresh_maturin_checkout_never_gets_a_stale_or_missing_module(
    tmp_path: Path,
    render: Callable[..., Path],
    wheelhouse: Path,
    lab_toolchain: Toolchain,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """uv #11390 with the seed's real backend: maturin puts the compiled module in the tree."""
    cargo_home = tmp_path / "cargo-home"
    cargo_home.mkdir()
    (cargo_home / "config.toml").write_text(
        '[source.crates-io]\nreplace-with = "v"\n'
        f'[source.v]\ndirectory = "{lab_toolchain.vendor}"\n'
        "[net]\noffline = true\n"
    )
    monkeypatch.setenv("CARGO_HOME", str(cargo_home))
    src = render("src", "maturin")
    module = "from mat_demo import _native; print(_native.__file__, _native.add(2, 3))"

    def install(venv: str) -> tuple[Installed, str]:
        events = RecordedEvents()
        outcome = editable_install(
            _request(src, tmp_path, wheelhouse, "mat_demo", venv=venv), events
        )
        run = subprocess.run(
            [str(tmp_path / venv / "bin" / "python"), "-c", module],
            capture_output=True,
            text=True,
            check=True,
        )
        return outcome, run.stdout.strip()

    first, printed = install("v1")
    (so,) = [p for p in first.side_effects if p.endswith(".so")]
    assert so.startswith("python/mat_demo/_native.")
    assert printed == f"{src / so} 5"
    shutil.rmtree(src)  # a fresh checkout at the same path: no compiled module in it
    render("src", "maturin")
    second, printed = install("v2")
    # rebuilt here (never a hit without the module); the build is reproducible, so the
    # published entry fits this tree again and ours is dropped, else ours is installed
    assert not second.hit and second.publish is Phase.DROPPED
    assert printed == f"{src / so} 5"  # it imports and calls into Rust
