"""The shared-tree trials of ``make matrix``: the reference builder on one setuptools tree
mounted into every runner, with and without its tree lock, alternating. It reports what was
seen; a failure that does not happen is not invented."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from lab import scenario
from lab.errors import LabError
from lab.log import log
from lab.run import Lab
from lab.rundir import CampaignDir, CampaignKind, RunDir, read_log
from lab.vocabulary import RunStatus, Verdict


@dataclass(frozen=True)
class TrialSummary:
    tree_lock: bool
    trials: int
    failed_runs: int
    error_lines: list[str]


@dataclass(frozen=True)
class SharedTreeTrials:
    template: str
    backend: str
    build_delay_s: float
    results: list[TrialSummary]


def _error_lines(run_dir: RunDir) -> list[str]:
    found = []
    for runner, path in run_dir.runner_logs().items():
        for line in read_log(path):
            if not line.is_event and ("error" in line.text.lower() or "Traceback" in line.text):
                found.append(f"{runner}: {line.text.strip()}")
    return found


def run(
    lab: Lab,
    *,
    trials: int = 10,
    template_name: str = "setuptools",
    build_delay: float = 0.5,
) -> tuple[CampaignDir, SharedTreeTrials]:
    """``trials`` of each, in a campaign directory of their own."""
    out = CampaignDir.create(lab.runs_dir, CampaignKind.TRIALS, "shared-tree")
    here = lab.under(out.runs)
    failed = {False: 0, True: 0}
    errors: dict[bool, list[str]] = {False: [], True: []}
    for trial in range(1, trials + 1):
        for tree_lock in (False, True):
            s = scenario.load_named(
                scenario.ISSUE_SCENARIO,
                [
                    f"template={template_name}",
                    "subject=narrow",
                    "topology=shared-tree",
                    f"build_delay={build_delay}",
                    f"tree_lock={str(tree_lock).lower()}",
                ],
            )
            try:
                result = here.run(s)
            except LabError as exc:
                failed[tree_lock] += 1
                errors[tree_lock].append(str(exc))
                log(f"trial {trial}/{trials}, tree lock {'on' if tree_lock else 'off'}: error")
                continue
            if result.verdict is not Verdict.VALID or result.status is not RunStatus.OK:
                failed[tree_lock] += 1
                errors[tree_lock] += _error_lines(RunDir(out.runs / result.run_id))
            said = f"{result.status}, {result.verdict}"
            log(f"trial {trial}/{trials}, tree lock {'on' if tree_lock else 'off'}: {said}")
    found = SharedTreeTrials(
        template=template_name,
        backend=lab.backend.name,
        build_delay_s=build_delay,
        results=[
            TrialSummary(lock, trials, failed[lock], errors[lock][:20]) for lock in (False, True)
        ],
    )
    out.record.write_text(json.dumps(asdict(found), indent=2) + "\n")
    return out, found
