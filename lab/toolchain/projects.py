"""``cachelab setup --project PATH``: what a project's editable build needs offline, fetched
into the toolchain once, while the package registry is reachable.

Its ``[build-system] requires`` join the wheelhouse first (``extras``); then its backend is
asked, in an environment of exactly those made from the wheelhouse offline, what else an
editable build of it needs (``get_requires_for_build_editable``: ``editables`` for some
hatchling settings, CMake and Ninja for scikit-build-core where the host has none), and
those join too. A project that cargo builds gets its locked crates vendored beside the
templates'. Afterwards every requirement must be found in the wheelhouse, or setup fails
naming it. A step that fails is one line (its last line of output); the lines before it
are logged.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from pyproject_hooks import BuildBackendHookCaller, quiet_subprocess_runner

from lab.errors import ToolchainError
from lab.log import log
from lab.projects.project import Project
from lab.toolchain import fetch
from lab.toolchain.extras import CRATES_DIR, Extras, missing

_TAIL = 15  # lines of a failing step's output logged before its one-line error


def _failed(what: str, output: str | bytes | None) -> str:
    """The last line of a failing step's ``output``, for its error; the lines before it logged."""
    text = output.decode(errors="replace") if isinstance(output, bytes) else output or ""
    lines = [line for line in text.strip().splitlines() if line.strip()] or ["no output"]
    for line in lines[-_TAIL:-1]:
        log(f"  {what}: {line}")
    return lines[-1].strip()


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        said = _failed(what, proc.stderr or proc.stdout)
        raise ToolchainError(f"{what}: `{' '.join(cmd)}` failed (exit {proc.returncode}): {said}")


def _join(root: Path, wanted: dict[str, list[str]]) -> None:
    """Each project's requirements recorded as its own, and joined to the wheelhouse, made
    again once, and only where one is new; the record as it was where one cannot be had."""
    before = Extras.load(root)
    extras = Extras.load(root)
    new = sorted({r for key, reqs in wanted.items() for r in extras.add(key, reqs)})
    if extras != before:  # a project's own record, even where the wheelhouse has them all
        extras.save(root)
    if not new:
        return
    log(f"adding {', '.join(new)} to the wheelhouse")
    try:
        fetch.ensure(root)
    except BaseException:  # one that cannot be had must not break every later setup
        before.save(root)
        raise


def editable_requires(root: Path, tree: Path, project: Project, env: Path) -> list[str]:
    """What ``project``'s backend asks for an editable build of ``tree``, beyond its static
    requirements, asked in an environment of those made offline from the wheelhouse at
    ``env``."""
    statics = project.statics
    _run([sys.executable, "-m", "venv", "--without-pip", str(env)], f"{project.name}: a build env")
    python = env / "bin" / "python"
    if statics.build_requires:  # pip asks for one at least (an in-tree backend may need none)
        pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--python", str(python)]
        offline = ["--no-index", "--find-links", str(root / "wheelhouse")]
        _run(
            [*pip, "install", *offline, *statics.build_requires],
            f"{project.name}: its build requirements from the wheelhouse",
        )
    caller = BuildBackendHookCaller(
        str(tree),
        statics.build_backend,
        backend_path=list(statics.backend_path) or None,
        python_executable=str(python),
        runner=quiet_subprocess_runner,
    )
    try:
        return list(caller.get_requires_for_build_editable({}))
    except Exception as exc:  # the backend's own failure, whatever its kind
        output = exc.output if isinstance(exc, subprocess.CalledProcessError) else str(exc)
        said = _failed(f"{project.name}'s backend", output)
        raise ToolchainError(
            f"{project.name}: {statics.build_backend}'s get_requires_for_build_editable "
            f"failed: {said}"
        ) from exc


def _vendor(root: Path, tree: Path, project: Project) -> None:
    """The project's locked crates, vendored where ``fetch`` merges them into the crates."""
    manifest = tree / (project.statics.cargo_manifest or "Cargo.toml")
    dest = root / CRATES_DIR / project.key
    if dest.is_dir():
        return
    staging = dest.with_name(f"{dest.name}.tmp")
    log(f"{project.key}: vendoring its crates into {dest}")
    cmd = ["cargo", "vendor", "--locked", "--versioned-dirs", "--manifest-path", str(manifest)]
    _run([*cmd, str(staging)], f"{project.name}: its crates")
    staging.rename(dest)


def set_up(root: Path, chosen: list[Project]) -> dict[str, list[str]]:
    """Fetch what each project's editable build needs into the toolchain at ``root``; each
    one's requirements. ToolchainError names what could not be had."""
    fetch.ensure(root)
    wanted = {p.key: list(p.statics.build_requires) for p in chosen}
    _join(root, wanted)
    with tempfile.TemporaryDirectory(prefix="cachelab-setup-") as scratch:
        for i, project in enumerate(chosen):
            tree = Path(scratch) / f"project-{i}"
            project.render(tree, {})
            wanted[project.key] += editable_requires(root, tree, project, tree.with_suffix(".env"))
            if project.rust:
                _vendor(root, tree, project)
        _join(root, wanted)
        fetch.ensure(root)  # the crates vendored beside the templates'
    for project in chosen:
        lacking = missing(root / "wheelhouse", wanted[project.key])
        if lacking:
            raise ToolchainError(f"{project.name}: {lacking[0]!r} is not in the wheelhouse")
        log(f"{project.key}: its editable build needs {', '.join(wanted[project.key])}")
    return wanted
