"""``cachelab bench``: the benchmarks, measured side by side in one run, each suite into a
campaign directory of its own, with its page and, on request, a section of a document."""

from __future__ import annotations

import argparse
from pathlib import Path

from lab.campaigns import bench
from lab.cli import options
from lab.cli.context import Command, Context, runs_directory
from lab.errors import ExitCode
from lab.log import log
from lab.report import html
from lab.run import Lab
from lab.rundir import CampaignDir, CampaignKind
from lab.runners.docker import DockerBackend
from lab.runners.swarm import SwarmBackend, engines, testswarm
from lab.toolchain import Toolchain


def _bench(args: argparse.Namespace, ctx: Context) -> int:
    """Every check before the suite's directory is made; its page drawn once it is saved."""
    suite = bench.Suite(args.suite)
    names = options.subject_list(args.subjects)
    runs_dir = runs_directory(args.runs_dir)
    toolchain = ctx.toolchain
    chosen = _workloads(args, toolchain)
    if suite is bench.Suite.SWARM:
        out, report = _bench_swarm(args, ctx, toolchain, runs_dir)
    else:
        if suite is bench.Suite.SUBJECTS:
            backend = ctx.backend(args.backend)
        else:  # docker against local
            backend = DockerBackend(ctx.base_image)
            backend.check()
        out = CampaignDir.create(runs_dir, CampaignKind.BENCH, suite)
        lab = Lab(toolchain, backend, out.runs)
        if suite is bench.Suite.SUBJECTS:
            report = bench.subjects(
                lab,
                subject_names=names,
                chosen=chosen,
                trials=args.repeat,
                runner_counts=args.runners,
                reuse=not args.real,
            )
        else:
            report = bench.backends(lab, repeat=args.repeat or bench.BACKEND_TRIALS)
        bench.save(report, out)
    ctx.console.print(bench.markdown(report), markup=False)
    log(f"saved in {out.path} (page: {html.render_bench(out)})")
    if args.record is not None:
        log(f"recorded in {bench.append_section(report, out, args.record)}")
    return ExitCode.FAILED if bench.failed(report) else ExitCode.OK


def _workloads(args: argparse.Namespace, toolchain: Toolchain) -> list[bench.Workload]:
    """The workloads --workloads names among the templates', or among the corpus's with
    --real (all where it names none)."""
    offered = bench.real_workloads(toolchain.root) if args.real else list(bench.WORKLOADS)
    if args.workloads is None:
        return offered
    known = [w.name for w in offered]
    names = options.choices("--workloads", args.workloads, known)
    return [w for w in offered if w.name in names]


def _bench_swarm(
    args: argparse.Namespace, ctx: Context, toolchain: Toolchain, runs_dir: Path
) -> tuple[CampaignDir, bench.Report]:
    """The swarm suite on a test swarm of --nodes, formed for it (and taken down after,
    unless one was up already), beside the one engine."""
    engine = DockerBackend(ctx.base_image)
    engine.check()
    assert engine.image is not None
    was_up = testswarm.current() is not None
    try:
        testswarm.up(args.nodes, [engine.image], engine.client())
        swarm_backend = SwarmBackend(ctx.base_image)
        swarm_backend.check()
        out = CampaignDir.create(runs_dir, CampaignKind.BENCH, bench.Suite.SWARM)
        lab = Lab(toolchain, swarm_backend, out.runs)
        report = bench.swarm(lab, engine, nodes=len(swarm_backend.nodes))
        bench.save(report, out)
        return out, report
    finally:
        if not was_up:
            engines.down()


def _bench_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "suite",
        choices=list(bench.Suite),
        help="backends: docker against local; subjects: uv and the reference builder's "
        "policies at N runners, per workload, against lock-free uv; swarm: the default "
        "policy at 8-64 runners over a test swarm's nodes and on one engine (root)",
    )
    parser.add_argument(
        "--nodes",
        type=options.count(1),
        default=3,
        help="swarm suite: the test swarm's nodes, formed for it and taken down after (default: 3)",
    )
    workloads = ", ".join(w.name for w in bench.WORKLOADS)
    parser.add_argument(
        "--workloads",
        metavar="LIST",
        help=f"subjects suite: comma-separated, from {workloads}, or with --real the corpus's "
        "project names (default: all)",
    )
    parser.add_argument(
        "--real",
        action="store_true",
        help="subjects suite: the corpus of real projects (scenarios/real/, `cachelab setup "
        "--real` first) at N = 1, 2, 4 instead of the templates' workloads, without the reuse "
        "hits (`make real`)",
    )
    parser.add_argument(
        "--runners",
        type=options.counts,
        metavar="LIST",
        help="subjects suite: comma-separated runner counts to measure instead of each "
        "workload's own (sleep: 1-32, the CPU-bound ones: 1-8), e.g. 1,2; without 1, uv's "
        "one build is its fastest runner at the fewest",
    )
    parser.add_argument(
        "--repeat",
        type=options.count(1),
        help="trials per backend (backends: 3) or per cell (subjects: each workload's own, "
        "3 for sleep and 1 for the CPU-bound ones); a cell shows its median trial",
    )
    measured = ",".join(bench.MEASURED)
    options.add_subjects(parser, measured, f"subjects suite; default: {measured}")
    options.add_backend(parser, " for the subjects suite")
    options.add_runs_dir(parser)
    parser.add_argument(
        "--record",
        type=Path,
        metavar="DOC",
        help="append this run's tables to DOC, a Markdown file, with its charts beside it "
        "(make bench: docs/benchmarks.md)",
    )


COMMANDS = (
    Command("bench", "benchmarks, measured side by side in one run", _bench, _bench_options),
)
