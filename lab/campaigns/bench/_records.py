"""Where a report is kept: its campaign directory's record and summary, and a dated section
of a Markdown document with its charts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from lab.campaigns.bench._markdown import markdown
from lab.campaigns.bench._reports import Report
from lab.rundir import CampaignDir


def save(report: Report, out: CampaignDir) -> None:
    """Write the report's record (``bench.json``) and its tables (``bench.md``) in ``out``."""
    out.record.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    out.summary.write_text(markdown(report) + "\n", encoding="utf-8")


def append_section(report: Report, out: CampaignDir, doc: Path) -> Path:
    """Append the report saved in ``out`` to the Markdown file ``doc``: a dated section with
    its tables, and its charts (drawn in ``out`` by its page) copied to ``<doc's dir>/bench/``
    under ``out``'s suite and time, so that the charts of earlier sections stay."""
    stamp = out.path.name.removeprefix(f"{out.kind}-")
    charts = doc.parent / "bench"
    lines = ["", f"## `cachelab bench {report.suite}`, {report.when}, commit {report.commit}", ""]
    for name, chart in out.charts().items():
        charts.mkdir(parents=True, exist_ok=True)
        target = charts / f"{stamp}-{name}.svg"
        shutil.copyfile(chart, target)
        lines += [f"![{name}: makespan against N]({target.relative_to(doc.parent)})", ""]
    lines += [markdown(report, heading="####"), ""]
    with doc.open("a", encoding="utf-8") as f:
        f.write("\n".join(lines))
    return doc
