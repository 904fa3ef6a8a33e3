from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab import scenario
from lab.campaigns import fuzz
from lab.errors import ExitCode
from lab.run import Lab
from lab.runners.local import LocalBackend
from lab.toolchain import Toolchain
from lab.vocabulary import RunStatus, Verdict

STATIC_README = Path(__file__).resolve().parent.parent.parent / "packages" / "static-readme"


def _settings(subjects: tuple[str, ...], edits: int, seed: int = 2) -> fuzz.Settings:
    path = scenario.resolve_path(fuzz.SCENARIO, None)
    base = scenario.load(path, list(fuzz.OVERRIDES))
    base = scenario.with_changes(base, "test", project=str(STATIC_README))
    replay = f"cachelab fuzz --project {STATIC_README} --backend local"
    return fuzz.Settings(base, subjects, edits, seed, str(STATIC_README), replay)


def _install(subject: str, edit: int, verdict: Verdict, **more: object) -> fuzz.Install:
    said: dict[str, object] = {"status": RunStatus.OK, "hit": None, "output_changed": None}
    return fuzz.Install(edit=edit, subject=subject, verdict=verdict, **{**said, **more})  # type: ignore[arg-type]


def test_the_summary_counts_stale_installs_and_says_how_to_replay_them() -> None:
    settings = _settings(("none", "narrow"), edits=2)
    done = [
        _install("none", 0, Verdict.VALID),
        _install("narrow", 0, Verdict.VALID),
        _install("none", 1, Verdict.INVALID, found="runner-1: METADATA …", kind="metadata-differs"),
        _install("narrow", 1, Verdict.VALID, hit=False, output_changed=True),
        _install("none", 2, Verdict.VALID, hit=True, output_changed=False),
        _install("narrow", 2, Verdict.VALID, hit=False, output_changed=False),
    ]
    text = fuzz.markdown(settings, done)
    assert "| none | 3 | 1 | 0 | 0 | 0 | 1 of 1 |" in text
    assert "| narrow | 3 | 0 | 0 | 0 | 0 | 0 of 1 |" in text
    assert f"--project {STATIC_README} --backend local --subjects none --seed 2 --edits 1" in text
    assert fuzz.exit_code(done) == ExitCode.FAILED
    assert fuzz.exit_code([i for i in done if not fuzz.stale(i)]) == ExitCode.OK
    # a traceback is no stale install, but a failure all the same
    crashed = _install(
        "narrow", 3, Verdict.INVALID, found="runner-1: exited 1 …", kind="unclean-failure"
    )
    assert not fuzz.stale(crashed) and fuzz.failed(crashed)
    assert fuzz.exit_code([crashed]) == ExitCode.FAILED
    assert fuzz.exit_code([_install("narrow", 1, Verdict.VALID, status=RunStatus.FAILED)]) == 1
    # an edit that broke the build (the cold build failed too) fails no install
    broke = _install("narrow", 1, Verdict.VALID, status=RunStatus.FAILED, cold_built=False)
    assert fuzz.broken(broke) and not fuzz.failed(broke) and fuzz.exit_code([broke]) == 0


@pytest.mark.integration
def test_the_fuzzer_catches_none_and_finds_narrow_fresh(
    lab_toolchain: Toolchain, local_backend: LocalBackend, tmp_path: Path
) -> None:
    """Seed 2 edits the README at edit 4 (a static readme): `none`, keyed by pyproject.toml
    alone as uv keys, installs the old description; narrow and the replay agree."""
    local_lab = Lab(lab_toolchain, local_backend, tmp_path)
    out, done = fuzz.run(local_lab, _settings(("none", "narrow"), edits=4))
    stale = [i for i in done if fuzz.stale(i)]
    assert stale and {i.subject for i in stale} == {"none"}
    assert all(i.verdict is Verdict.VALID for i in done if i.subject == "narrow")
    assert stale[0].found is not None and "description differs" in stale[0].found
    assert stale[0].kept is not None and Path(stale[0].kept).is_dir()
    kept = Path(stale[0].kept) / "checkouts" / "runner-1"
    assert not kept.is_symlink() and "Edited:" in (kept / "README.md").read_text()
    record = json.loads(out.record.read_text())
    assert record["edits"]["none"] == record["edits"]["narrow"]  # alike, edit for edit
    # the replay: the same seed makes the same edits
    _, again = fuzz.run(local_lab, _settings(("none",), edits=stale[0].edit))
    assert fuzz.stale(again[-1])
