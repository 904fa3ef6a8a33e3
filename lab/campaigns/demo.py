"""``cachelab demo``: a guided tour of cache safety for a talk or a workshop.

Each scene runs one of the lab's scenarios with the subjects that make its point (uv and the
reference builder, side by side; the unsafe policy alone), says beforehand what to watch for
and afterwards where to look, and waits for Enter (unless ``--no-pause``). Where the catalog
expects something of a subject, the scene says whether this run met it: the words after a
scene describe what should happen, and a run that differs is named. The tour ends with an
index page linking every scene's timelines.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lab import scenario
from lab.errors import UsageError
from lab.report import html
from lab.result import RunResult
from lab.run import Lab
from lab.rundir import CampaignDir, CampaignKind


@dataclass(frozen=True)
class Scene:
    title: str
    scenario: str
    subjects: tuple[str, ...]
    before: str  # what to watch for
    after: str  # where to look, and what it means
    build_delay: float  # seconds: short enough for a tour, long enough to see


SCENES = (
    Scene(
        "Why CI runners wait for each other",
        "issue-15380",
        ("uv", "narrow"),
        "Two runners, each with its own checkout at the same path, share one cache. uv keys an "
        "editable build by the checkout's path and locks that entry for the whole build.",
        "On the page, uv's runner-2 has a hatched wait bar as wide as runner-1's hold: it sat "
        "out a whole build, then built again (its checkout's ctime differs). The reference "
        "builder builds outside any lock and holds one only to publish: no such wait bar (at "
        "most a short one for the build env the other runner is making, which it then takes).",
        3.0,
    ),
    Scene(
        "A cache hit that breaks a native import",
        "stale-native",
        ("uv", "narrow"),
        "A C extension built editable leaves its .so in the source tree. The next job deletes "
        "the .so (a clean workspace) and syncs again with the same cache.",
        "uv's run is INVALID: it reused the cached wheel, which does not hold the .so, so "
        "`import sc_demo._native` fails (uv #11390). The reference builder records what a build "
        "wrote into the tree and rebuilds where the tree lacks it.",
        0.0,
    ),
    Scene(
        "A version that a cache key does not see",
        "stale-metadata",
        ("uv", "narrow"),
        "The version is read from a source file, which the next job edits in place; "
        "pyproject.toml stays the same.",
        "uv's run is INVALID: wrong-version, 1.0 installed where the checkout gives 2.0 (uv needs "
        "[tool.uv] cache-keys for this). The reference builder's revision is the whole tree's "
        "content, so any edit is a new one.",
        0.0,
    ),
    Scene(
        "A checker that never says invalid proves nothing",
        "none-race",
        ("none",),
        "The unsafe `none` policy takes no lock and writes the entry in place; one runner stops "
        "just before it writes the entry's manifest while the other rewrites the entry.",
        "INVALID: the manifest describes a wheel that is no longer there. The checker judges "
        "from facts only (what each venv holds, what the cache holds), never from a runner's "
        "own word, and it catches this on every seed.",
        1.0,
    ),
)


Compare = Callable[[scenario.Scenario, Sequence[str]], list[RunResult]]


def tour(
    lab: Lab,
    compare: Compare,
    *,
    pause: bool,
    quick: bool,
    say: Callable[[str], None],
    wait: Callable[[str], str] = input,
) -> Path:
    """Play every scene with ``compare`` (which runs a scenario per subject in ``lab`` and
    returns their results); write the index page and return it."""
    out = CampaignDir.create(lab.runs_dir, CampaignKind.DEMO)
    played: list[dict[str, Any]] = []
    try:
        _play(lab, compare, out, played, pause=pause, quick=quick, say=say, wait=wait)
    finally:  # the index links the scenes played so far, however the tour ended
        if played:
            out.record.write_text(json.dumps({"scenes": played}, indent=2) + "\n")
            html.render_demo(out)
        else:
            shutil.rmtree(out.path, ignore_errors=True)
    return out.page


def _play(
    lab: Lab,
    compare: Compare,
    out: CampaignDir,
    played: list[dict[str, Any]],
    *,
    pause: bool,
    quick: bool,
    say: Callable[[str], None],
    wait: Callable[[str], str],
) -> None:
    for number, scene in enumerate(SCENES, start=1):
        delay = min(scene.build_delay, 1.0) if quick else scene.build_delay
        planned = scenario.load_named(scene.scenario, [f"build_delay={delay}"])
        say(f"\n{number}. {scene.title}\n\n{scene.before}\n")
        if pause:
            _wait(wait, "Press Enter to run it. ")
        results = compare(planned, scene.subjects)
        runs = [lab.runs_dir / r.run_id for r in results]
        scene_dir = CampaignDir(out.part(f"scene-{number}").path, CampaignKind.COMPARE)
        page = html.write_compare(scene_dir, runs)
        verdicts = ", ".join(f"{r.subject_label}: {r.verdict}" for r in results)
        surprises = [
            f"{r.subject_label} gave {r.outcome}, where the catalog expects {wanted.outcome}"
            for r in results
            if (wanted := planned.expectation(r.subject)) and r.outcome is not wanted.outcome
        ]
        say(f"\n{verdicts}\n\n{scene.after}\n\nThe timelines: {page}\n")
        for surprise in surprises:
            say(f"Not as expected this time: {surprise}; see the timelines.")
        played.append(
            {
                **asdict(scene),
                "page": page.relative_to(out.path).as_posix(),
                "verdicts": verdicts,
                "surprises": surprises,
            }
        )
        if pause and number < len(SCENES):
            _wait(wait, "Press Enter for the next scene. ")


def _wait(wait: Callable[[str], str], prompt: str) -> None:
    try:
        wait(prompt)
    except (EOFError, RuntimeError, OSError):  # input() at EOF, or with stdin closed
        raise UsageError(
            "the tour waits for Enter between scenes: --no-pause runs it where nobody can press it"
        ) from None
