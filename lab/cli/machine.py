"""Commands that set up this machine: the offline toolchain (``setup``), the runner images
(``images``), the demo projects (``templates``), and a local test swarm (``swarm up``,
``swarm down``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from lab.cli import options
from lab.cli.context import Command, Context
from lab.errors import BackendUnavailable, ExitCode
from lab.log import log
from lab.projects import template
from lab.projects.project import open_project
from lab.runners import images
from lab.runners.docker import DockerBackend
from lab.runners.swarm import engines, testswarm
from lab.toolchain import corpus, fetch, projects


def _setup(args: argparse.Namespace, ctx: Context) -> int:
    versions = [options.uv_release(v) for v in args.uv_versions]  # before anything is made
    chosen = [open_project(path) for path in args.projects]
    root = ctx.lab_dir.resolve()
    toolchain = fetch.ensure(root)
    for version in versions:
        fetch.add_uv(toolchain, version)
    if args.real:
        chosen += [open_project(path) for path in corpus.fetch_all(root)]
    if chosen:
        projects.set_up(root, chosen)
    return ExitCode.OK


def _images(args: argparse.Namespace, ctx: Context) -> int:
    fetch.ensure(ctx.lab_dir.resolve())
    try:
        client = DockerBackend().client()
    except BackendUnavailable as exc:
        if not args.if_engine:
            raise
        log(f"no runner images built: {exc.reason}")
        return ExitCode.OK
    built = images.ensure(client, ctx.base_image, native=not args.no_native)
    log(f"runner image {built.runner} on {built.base}")
    if not args.no_native:
        native = images.tags(ctx.base_image, native=True)
        log(f"native runner image {native.runner} on {native.base}")
    return ExitCode.OK


def _templates(_args: argparse.Namespace, ctx: Context) -> int:
    for t in template.available().values():
        ctx.console.print(f"{t.name:18} {t.description}", markup=False)
    return ExitCode.OK


def _swarm_up(args: argparse.Namespace, ctx: Context) -> int:
    fetch.ensure(ctx.lab_dir.resolve())
    source = DockerBackend().client()  # the user's engine lends the runner image
    built = images.ensure(source, ctx.base_image, native=args.native)
    loaded = [built.runner]
    if args.native:
        loaded.append(images.tags(ctx.base_image, native=True).runner)
    swarm = testswarm.up(args.nodes, loaded, source)
    for node in swarm.nodes:
        ctx.console.print(f"{node.name}  {node.node_id}  {node.socket}", markup=False)
    return ExitCode.OK


def _swarm_down(_args: argparse.Namespace, _ctx: Context) -> int:
    engines.down()
    return ExitCode.OK


def _setup_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--uv-version",
        dest="uv_versions",
        action="append",
        default=[],
        metavar="X.Y.Z",
        help="also install this uv release from the package registry, for uv@X.Y.Z (repeatable)",
    )
    parser.add_argument(
        "--project",
        dest="projects",
        action="append",
        default=[],
        type=Path,
        metavar="PATH",
        help="also fetch what this project's editable build needs (a directory, a git "
        "checkout or an sdist), so that `run --project PATH` works offline (repeatable)",
    )
    parser.add_argument(
        "--real",
        action="store_true",
        help="also download the corpus of real sdists (scenarios/real/) into the lab dir and "
        "fetch what each one's build needs",
    )


def _images_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--if-engine",
        action="store_true",
        help="do nothing (exit 0) where no Docker engine answers, for `make reproduce`",
    )
    parser.add_argument(
        "--no-native",
        action="store_true",
        help="only the pure-Python runner image (what the issue's scenario needs, quick to "
        "make), not the native one with compilers (`make reproduce`)",
    )


def _swarm_up_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nodes", type=options.count(1), default=2, help="how many (default: 2)")
    parser.add_argument(
        "--native",
        action="store_true",
        help="load the native runner image too (with compilers), for the native templates",
    )


COMMANDS = (
    Command(
        "setup",
        "build the offline wheelhouse and install the pinned uv versions",
        _setup,
        _setup_options,
    ),
    Command(
        "images",
        "build the runner images that are missing or out of date",
        _images,
        _images_options,
    ),
    Command("templates", "list the demo project templates", _templates),
    Command(
        "swarm",
        "a local test swarm of Docker engines the lab starts itself (as root)",
        actions=(
            Command(
                "up",
                "start N engines, form a swarm, load the runner image into each",
                _swarm_up,
                _swarm_up_options,
            ),
            Command("down", "take the test swarm down: no engine, mount or data left", _swarm_down),
        ),
    ),
)
