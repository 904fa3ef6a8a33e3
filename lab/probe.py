"""The facts probe: after the subject, ask a runner's venv what is really installed there.

It runs in every runner, whatever the subject, from the ``probe`` resource (this module,
``lab.contract`` and a main, standard library only) with the runner's own interpreter:

    python -I -S <probe> VENV SPEC RUNNER

``SPEC`` (JSON) says what to look at: the distribution, the module (imported, or with
``find_only`` only found: a project installed without its dependencies may not import),
the template's native call and check. The probe reports what it finds as one ``facts``
event; it judges nothing. The looking happens in a child process of the venv's own
interpreter, isolated (``-I``), so the module imports from wherever the install points,
never from the working directory. The child says where the venv's site-packages and
scripts are; the install found there is described by ``lab.projects.installed``
(``installed`` in the facts), as the oracle describes what the checkout gives, with the
checkout's path (``SPEC``'s ``checkout``, else the venv's parent) written as ``{checkout}``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lab.contract import Clock, Event, Op, Phase, event_line, wall_skew
from lab.projects import installed

_TIMEOUT_S = 120

# Runs under the venv's interpreter: the standard library only, and no assumption about it.
_INSIDE = r"""
import importlib, importlib.metadata, importlib.util, json, re, sys, sysconfig, traceback

spec = json.loads(sys.argv[1])
facts = {"paths": {k: sysconfig.get_path(k) for k in ("purelib", "platlib", "scripts")}}


def normalized(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def last_line():
    return traceback.format_exc().strip().splitlines()[-1]


wanted = normalized(spec["distribution"])
found = [
    d for d in importlib.metadata.distributions() if normalized(d.metadata["Name"] or "") == wanted
]
facts["distributions"] = len(found)
if found:
    dist = found[0]
    facts["distribution"] = {
        "name": dist.metadata["Name"],
        "version": dist.version,
        "requires": sorted(dist.requires or []),
    }
try:
    if not spec["module"]:
        pass
    elif spec.get("find_only"):  # where it would import from, without running it
        found_spec = importlib.util.find_spec(spec["module"])
        if found_spec is None:
            raise ModuleNotFoundError("No module named " + repr(spec["module"]))
        facts["module_file"] = found_spec.origin
    else:
        module = importlib.import_module(spec["module"])
        facts["module_file"] = getattr(module, "__file__", None)
        facts["marker"] = getattr(module, "CACHELAB_MARKER", None)
except BaseException:
    facts["import_error"] = last_line()
native = spec.get("native")
if native:
    try:
        function = getattr(importlib.import_module(native["module"]), native["function"])
        facts["native"] = {"result": function(*native["args"])}
    except BaseException:
        facts["native"] = {"error": last_line()}
try:
    exec(compile(spec["check"], "<template check>", "exec"), {})
    facts["check"] = "passed"
except BaseException:
    facts["check"] = last_line()
print(json.dumps(facts, default=repr))
"""


def look(venv: Path, spec: dict[str, Any]) -> dict[str, Any]:
    """What the venv holds, as facts."""
    python = venv / "bin" / "python"
    facts: dict[str, Any] = {"venv": str(venv), "python": python.exists()}
    if not python.exists():
        return facts
    try:
        proc = subprocess.run(
            [str(python), "-I", "-c", _INSIDE, json.dumps(spec)],
            capture_output=True,
            text=True,
            timeout=_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        facts["probe_error"] = f"{python}: {exc}"
        return facts
    lines = proc.stdout.strip().splitlines()
    try:
        facts.update(json.loads(lines[-1]))
    except (IndexError, ValueError):
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        facts["probe_error"] = f"{python} exited {proc.returncode}: {tail}"
        return facts
    facts["installed"] = _described(
        facts.pop("paths", {}), spec, str(spec.get("checkout") or venv.parent)
    )
    return facts


def _described(paths: dict[str, str], spec: dict[str, Any], checkout: str) -> dict[str, Any]:
    """The install as ``lab.projects.installed`` says it (the oracle's words), never an error."""
    try:
        sites = [Path(paths["purelib"]), Path(paths["platlib"])]
        return installed.describe(sites, Path(paths["scripts"]), spec["distribution"], checkout)
    except Exception as exc:  # the probe judges nothing and always reports
        return {"schema": installed.SCHEMA, "error": f"{type(exc).__name__}: {exc}"}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print("usage: python -I -S <probe> VENV SPEC RUNNER", file=sys.stderr)
        return 2
    venv, spec, runner = Path(args[0]), json.loads(args[1]), args[2]
    facts = look(venv, spec)
    event = Event(
        time.monotonic(),
        time.time() + wall_skew(),
        runner,
        Op.FACTS,
        Phase.REPORTED,
        None,
        Clock.SOURCE,
        data=facts,
    )
    print(event_line(event), flush=True)
    return 0
