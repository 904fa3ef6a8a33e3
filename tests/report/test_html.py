"""HTML pages: escaped, self-contained, deterministic, small enough, and one per kind of
directory. The browser's view of them is tested in test_browser.py."""

from __future__ import annotations

import html.parser
import json
import shutil
from pathlib import Path

import pytest

from lab.cli import main
from lab.contract import EDITABLE_BUCKET, ENVS_BUCKET, Clock, Event, Op, Phase
from lab.report import html as pages
from lab.rundir import PAGE, CampaignDir, CampaignKind, RunDir
from tests.conftest import FIXTURES

HOSTILE = "<script>alert('owned')</script>"


def _copy(name: str, to: Path) -> Path:
    return Path(shutil.copytree(FIXTURES / "runs" / name, to))


class _Elements(html.parser.HTMLParser):
    """Every start tag with its attributes: what a page could load or run."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _elements(page: Path) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Elements()
    parser.feed(page.read_text())
    return parser.tags


def test_untrusted_text_from_logs_and_events_is_escaped(tmp_path: Path) -> None:
    run = _copy("uv-valid", tmp_path / "run")
    with RunDir(run).log("runner-1").open("a") as log:
        log.write(f"2005.0 stderr {HOSTILE}\n")
    event = Event(2004.5, 1.8e9, "runner-1", Op.BUILDER, Phase.FAILED, data={"error": HOSTILE})
    with RunDir(run).history.open("a") as f:
        f.write(event.to_json() + "\n")
    text = pages.render(run).read_text()
    assert "<script" not in text
    assert "&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt;" in text
    assert text.count("&lt;script&gt;") == 3  # the log line, the mark's title, the table row


@pytest.mark.parametrize("name", ["uv-valid", "narrow-valid", "narrow-stale-version"])
def test_a_page_loads_nothing_and_runs_nothing(tmp_path: Path, name: str) -> None:
    page = pages.render(_copy(name, tmp_path / name))
    tags = _elements(page)
    assert not [t for t, _ in tags if t in ("script", "link", "iframe", "object", "embed", "img")]
    refs = [a.get("href") or a.get("src") or "" for _, a in tags]
    assert not [r for r in refs if r.startswith(("http:", "https:", "//"))], refs
    (csp,) = [a for t, a in tags if t == "meta" and a.get("http-equiv")]
    assert "default-src 'none'" in (csp.get("content") or "")


def test_rendering_twice_gives_the_same_bytes(tmp_path: Path) -> None:
    run = _copy("narrow-valid", tmp_path / "run")
    first = pages.render(run).read_bytes()
    assert pages.render(run).read_bytes() == first
    # and from another place: nothing of where the directory lies gets in
    moved = Path(shutil.move(run, tmp_path / "moved"))
    assert pages.render(moved).read_bytes() == first


def test_the_page_draws_what_the_checker_said(tmp_path: Path) -> None:
    page = pages.render(_copy("narrow-stale-version", tmp_path / "run")).read_text()
    result = json.loads(RunDir(FIXTURES / "runs" / "narrow-stale-version").result.read_text())
    assert result["verdict"] == "invalid" and 'class="verdict verdict-invalid">invalid' in page
    for violation in result["violations"]:
        assert violation["kind"] in page


_Said = tuple[float, Op, Phase, str | None, dict[str, object]]


def _runner_events(name: str, t: float) -> list[Event]:
    """A reference builder's run: every phase, three locks."""
    entry, env = f"{EDITABLE_BUCKET}/56c9e1c4b5360a5b", f"{ENVS_BUCKET}/e201084fc54d1c82"
    wheel = "uv_demo-0.1.0-py3-none-any.whl"
    said: list[_Said] = [
        (0.0, Op.RUN, Phase.START, None, {}),
        (0.1, Op.ENV, Phase.MISS, env, {"requirements": ["hatchling"]}),
        (1.2, Op.ENV, Phase.PUBLISHED, env, {}),
        (2.0, Op.BUILD, Phase.START, entry, {"backend": "hatchling.build"}),
        (12.0, Op.BUILD, Phase.END, entry, {"wheel": wheel}),
        (12.1, Op.INSTALL, Phase.START, entry, {"wheel": wheel}),
        (12.3, Op.INSTALL, Phase.END, entry, {"imported_from": "/src/src/uv_demo/__init__.py"}),
        (12.4, Op.PUBLISH, Phase.DROPPED, entry, {"sha256": "ab" * 32}),
        (12.6, Op.FACTS, Phase.REPORTED, None, {"venv": "/src/.venv", "python": True}),
        (12.7, Op.RUN, Phase.END, None, {"rc": 0}),
    ]
    for j, (kind, key) in enumerate([("env", env), ("tree", f"tree/65024:{t}"), ("entry", entry)]):
        lock: dict[str, object] = {"kind": kind, "lock": f"/cache/{key}/.lock"}
        acquired: dict[str, object] = {"kind": kind}
        said += [
            (1 + j, Op.LOCK, Phase.REQUEST, key, lock),
            (1.1 + j, Op.LOCK, Phase.ACQUIRED, key, acquired),
            (1.5 + j, Op.LOCK, Phase.RELEASED, key, lock),
        ]
    return [
        Event(t + dt, 1.8e9 + t + dt, name, op, phase, key, Clock.SOURCE, data=data)
        for dt, op, phase, key, data in said
    ]


def _busy_run(root: Path, runners: int) -> Path:
    """A run of ``runners`` reference builders, each with every phase, lock and a long log."""
    run_dir = RunDir(root)
    run_dir.logs.mkdir(parents=True)
    events = []
    for i in range(1, runners + 1):
        name, t = f"runner-{i}", 100.0 + i * 0.01
        events += _runner_events(name, t)
        lines = [f"{t + k:.6f} stderr Building editable for uv-demo (line {k})" for k in range(200)]
        run_dir.log(name).write_text("\n".join(lines) + "\n")
    run_dir.history.write_text("".join(e.to_json() + "\n" for e in events))
    return root


def test_a_64_runner_page_stays_under_2_mb(tmp_path: Path) -> None:
    page = pages.render(_busy_run(tmp_path / "run", 64))
    assert page.stat().st_size < 2_000_000
    text = page.read_text()
    assert text.count('class="lane"') == 64


def test_a_compare_page_draws_every_run_on_one_axis_and_links_their_pages(tmp_path: Path) -> None:
    runs = [_copy(name, tmp_path / "c" / name) for name in ("uv-valid", "narrow-valid")]
    page = pages.write_compare(CampaignDir(tmp_path / "c", CampaignKind.COMPARE), runs)
    text = page.read_text()
    assert text.count('<svg class="timeline"') == 1
    assert 'href="uv-valid/report.html"' in text and 'href="narrow-valid/report.html"' in text
    assert all(RunDir(r).page.is_file() for r in runs)
    ids = [a["id"] for _, a in _elements(page) if a.get("id")]
    assert len(ids) == len(set(ids)), "every id once, though two runs share the chart"
    holders = [a["data-holder"] for _, a in _elements(page) if a.get("data-holder")]
    assert holders and set(holders) <= set(ids)
    # uv's section comes first, as listed
    assert text.index("uv 0.13.9") < text.index("narrow builder")
    assert pages.render(tmp_path / "c").read_bytes() == page.read_bytes()


def test_matrix_and_campaign_pages_link_each_run(tmp_path: Path) -> None:
    matrix = CampaignDir(tmp_path / "matrix", CampaignKind.MATRIX)
    _copy("uv-valid", matrix.runs / "r1")
    cell = {
        "template": "hatchling",
        "subject": "uv",
        "topology": "same-path",
        "status": "ok",
        "ratio": 1.45,
        "longest_wait_s": 0.32,
        "longest_hold_s": 0.33,
        "serialized": False,
        "coalesced": True,
        "verdict": "valid",
        "reasons": [],
        "run_id": "r1",
    }
    summary = {
        "when": "2026-11-30",
        "backend": "local",
        "runners": 2,
        "build_delay_s": 0,
        "cells": [cell],
    }
    matrix.record.write_text(json.dumps(summary))
    assert 'href="runs/r1/report.html"' in pages.render(matrix.path).read_text()  # older
    bar = {"claim": "hatchling, same-path: coalesce ≤ 1.03 × uv", "figure": "1.07", "met": False}
    summary |= {"trials": 3, "claims": [bar], "cells": [cell | {"makespan_s": 4.2}]}
    matrix.record.write_text(json.dumps(summary))
    page = pages.render(matrix.path).read_text()
    assert "the median of 3 trials per cell" in page and "4.2" in page
    assert 'coalesce ≤ 1.03 × uv</td><td class="num">1.07</td><td>NO' in page

    campaign = CampaignDir(tmp_path / "campaign", CampaignKind.TORTURE)
    _copy("narrow-valid", campaign.part("narrow-01").runs / "r2")
    result = {
        "subject": "narrow",
        "trial": 1,
        "fault": "kill",
        "what": "kill of runner-2 at mid-build",
        "outcome": "failed-clean",
        "recovered": True,
        "leaked": [],
        "first_violation": None,
        "runs": ["narrow-01/runs/r2"],
    }
    campaign.record.write_text(
        json.dumps(
            {
                "scenario": "issue-15380",
                "seed": 1,
                "backend": "local",
                "subjects": ["narrow"],
                "faults": ["kill"],
                "trials": 1,
                "replayed": None,
                "settings": {"build_delay_s": 2, "lock_timeout_s": 10, "pause_s": [1, 15]},
                "schedule": [],
                "results": [result],
            }
        )
    )
    text = pages.render(campaign.path).read_text()
    assert (
        'href="narrow-01/runs/r2/report.html"' in text and "kill of runner-2 at mid-build" in text
    )


def test_report_names_a_directory_it_cannot_draw_with_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path) in err and RunDir(tmp_path).history.name in err
    assert not (tmp_path / PAGE).exists()
    RunDir(tmp_path).history.write_text("not json\n")
    assert main(["report", str(tmp_path)]) == 2
    assert "not a history of events" in capsys.readouterr().err
    assert not (tmp_path / PAGE).exists()


@pytest.mark.parametrize(
    ("kind", "text", "said"),
    [
        (CampaignKind.COMPARE, "{not json", "not JSON"),
        (CampaignKind.MATRIX, "{}", "lacks 'cells'"),
        (CampaignKind.TORTURE, '{"results": [{}]}', "lacks"),
    ],
)
def test_a_record_it_cannot_read_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: CampaignKind, text: str, said: str
) -> None:
    record = CampaignDir(tmp_path, kind).record
    record.write_text(text)
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert record.name in err and said in err and "Traceback" not in err
    assert not (tmp_path / PAGE).exists()


def test_a_run_whose_result_lacks_a_field_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _copy("uv-valid", tmp_path / "run")
    RunDir(run).result.write_text('{"foo": 1}')
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert "result.json or a file it names lacks 'scenario'" in err and "Traceback" not in err
