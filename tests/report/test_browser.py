"""A real compare report of the issue's scenario, opened in a real browser: Debian's chromium,
headless, driven by selenium through Debian's chromedriver. Nothing is downloaded: selenium is
pointed at both binaries, so its driver manager never runs."""

from __future__ import annotations

import base64
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from lab import metrics
from lab.cli import main
from lab.rundir import PAGE, CampaignDir, CampaignKind, RunDir, read_history

pytestmark = pytest.mark.integration

# The wait and the hold it waited on, drawn: width ratio within 2 % (or 1 px) of the history's.
RATIO_TOLERANCE = 0.02
PIXEL_TOLERANCE = 1.0


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        why = "the browser test needs Debian's chromium and chromium-driver (`make` installs them)"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.add_argument("--window-size=1300,1000")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    chrome = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    try:
        yield chrome
    finally:
        chrome.quit()


@pytest.fixture(scope="module")
def compare_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`cachelab compare issue-15380 --subjects uv,narrow`, as `make reproduce` runs it, with
    a shorter build so the test stays quick."""
    runs = tmp_path_factory.mktemp("runs")
    argv = ["compare", "issue-15380", "--subjects", "uv,narrow", "--backend", "local"]
    assert main([*argv, "--runs-dir", str(runs), "--set", "build_delay=3"]) == 0
    (page,) = runs.glob(f"compare-*/{PAGE}")
    return page


def _log(browser: webdriver.Chrome, kind: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = browser.get_log(kind)  # type: ignore[no-untyped-call]
    return entries


def _rects(browser: webdriver.Chrome, section: int) -> dict[str, Any]:
    """Every bar of a section, by element id: its kind, runner and drawn width in CSS px."""
    found = {}
    for rect in browser.find_elements(By.CSS_SELECTOR, f"rect[id^='s{section}-']"):
        found[rect.get_attribute("id") or ""] = {
            "kind": rect.get_attribute("data-kind"),
            "runner": rect.get_attribute("data-runner"),
            "holder": rect.get_attribute("data-holder"),
            "x": rect.rect["x"],
            "width": rect.rect["width"],
        }
    return found


def test_the_compare_page_in_a_browser(browser: webdriver.Chrome, compare_page: Path) -> None:
    url = compare_page.resolve().as_uri()
    browser.get(url)
    compared = CampaignDir(compare_page.parent, CampaignKind.COMPARE)
    listed = json.loads(compared.record.read_text())["runs"]
    run_dirs = [RunDir(compared.path / r) for r in listed]

    for section, run_dir in enumerate(run_dirs, start=1):
        result = json.loads(run_dir.result.read_text())
        lanes = browser.find_elements(By.CSS_SELECTOR, "g.lane")
        label = result["subject_label"]
        mine = [g for g in lanes if (g.get_attribute("data-section") or "").endswith(label)]
        assert sorted(g.get_attribute("data-runner") or "" for g in mine) == sorted(
            r["name"] for r in result["runners"]
        ), "one lane per runner"

        rects = _rects(browser, section)
        spans = metrics.lock_spans(read_history(run_dir.history))
        # waits for a lock held to publish; the reference builder's runners may also wait a
        # moment for the build env another runner is making, and take it
        publish = {i for i, s in enumerate(spans) if not metrics.guards_work(s)}
        long_waits = [
            (i, s) for i, s in enumerate(spans) if s.acquired and s.wait_s >= 1.0 and i in publish
        ]
        for i, span in long_waits:
            holder = metrics.holder_during(spans, span)
            assert holder is not None
            wait = rects[f"s{section}-wait-{i}"]
            hold = rects[wait["holder"]]
            assert hold["kind"] == "hold" and hold["runner"] == holder.runner
            expected = span.wait_s / holder.hold_s
            drawn = wait["width"] / hold["width"]
            assert (
                abs(drawn - expected) <= RATIO_TOLERANCE * expected
                or abs(wait["width"] - expected * hold["width"]) <= PIXEL_TOLERANCE
            ), (span, holder, wait, hold)
        if result["subject"].startswith("uv"):
            # the issue, drawn: one runner waits out the other's whole hold of the lock. Its
            # wait ends where that hold ends; it began a start-up later (a few tenths of a
            # second of a 3 s build). Which one waits is a race: in containers mostly runner-2.
            (i, span), *_ = long_waits
            wait = rects[f"s{section}-wait-{i}"]
            hold = rects[wait["holder"]]
            assert hold["runner"] != span.runner
            ends = (wait["x"] + wait["width"], hold["x"] + hold["width"])
            assert abs(ends[0] - ends[1]) <= RATIO_TOLERANCE * hold["width"], (wait, hold)
            assert 0.85 <= wait["width"] / hold["width"] <= 1.0 + RATIO_TOLERANCE, (wait, hold)
        else:
            assert long_waits == []
            px_per_s = 1 / float(
                browser.execute_script(
                    "return document.querySelector('svg.timeline').dataset.secondsPerPx"
                )
            )
            assert all(
                rects[f"s{section}-wait-{i}"]["width"] < px_per_s
                for i in publish
                if f"s{section}-wait-{i}" in rects
            )

    errors = [e for e in _log(browser, "browser") if e["level"] == "SEVERE"]
    assert errors == []
    requested = [
        m["params"]["request"]["url"]
        for m in (json.loads(e["message"])["message"] for e in _log(browser, "performance"))
        if m["method"] == "Network.requestWillBeSent"
    ]
    assert set(requested) <= {url}, requested

    # the whole page, for people to look at
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
    )
    compare_page.with_suffix(".png").write_bytes(base64.b64decode(shot["data"]))
