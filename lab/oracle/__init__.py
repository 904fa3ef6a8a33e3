"""The cold-build oracle: what a source tree's editable install IS, found by building it cold,
outside every runner and every shared cache, for the checker to compare runners with.

    oracle = Oracle(lab_dir / "oracle", wheelhouse)
    cold = oracle.expected(tree)         # a lab.check.oracle.ColdBuild

For a tree (any project directory, a template's checkout or not), ``expected``:

1. digests its whole content (``_tree``: every file, the git state; the oracle's own code);
2. returns the result cached under that digest, the interpreter's version, the wheelhouse's
   digest and the environment the hooks run with, where there is one
   (``results/<key>.json``, written atomically);
3. else, under a lock per key (concurrent runs of one tree build it once), builds the tree's
   editable wheel cold TWICE, at once, each in a fresh private copy that keeps the tree's
   directory name, with pypa/build in an env of its build requirements that pip installs
   offline from the wheelhouse (``_envs``: cached by requirement set), installs each wheel
   with pypa/installer into a scratch prefix and describes it (``lab.projects.installed``,
   the probe's describer). The hooks run with an allow-listed environment, as runners do
   (``_envs.environment``: PATH, HOME, a UTF-8 locale, a TMPDIR, what the source's runners
   get for its build): nothing of the host's reaches the backend. What the two builds
   disagree on (a build id, a time: no tree determines it) is ``unstable``, compared by
   presence only.

Whatever stops it is one ``OracleError``: one line (a tree it cannot read or copy, naming the
file; a build that fails, naming the tree, the hook and the backend) and, as its ``detail``,
the backend's last lines of output. A failure is not cached (it may be the host's, as a
missing compiler).
It imports nothing of the reference builder (``tests/check/test_independence.py``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock

from lab.check.oracle import ColdBuild, differences
from lab.oracle import _build, _tree
from lab.oracle._envs import Envs, environment, interpreter, wheelhouse_digest
from lab.oracle._errors import OracleError
from lab.projects import installed
from lab.runners.view import SYSTEM_PATH

__all__ = ["ColdBuild", "Oracle", "OracleError", "host_python", "tree_digest"]

_BUILDS = 2  # cold builds per tree: what they disagree on, no tree determines
tree_digest = _tree.digest


@functools.cache
def _own_code() -> str:
    """The oracle's and the describer's code: a change to either is a new cache key."""
    h = hashlib.sha256()
    for path in [Path(installed.__file__), *sorted(Path(__file__).parent.glob("*.py"))]:
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def host_python() -> Path:
    """The interpreter behind the lab's own (the one local runners make their venvs of)."""
    return Path(getattr(sys, "_base_executable", sys.executable)).resolve()


@dataclass(frozen=True)
class Oracle:
    root: Path  # its state: envs/, results/, scratch/, home/ (.lab/oracle)
    wheelhouse: Path  # where every build requirement comes from, offline
    python: Path = field(default_factory=host_python)
    # what the source's runners get for its build (CARGO_HOME, CACHELAB_NO_DELAY)
    environ: Mapping[str, str] = field(default_factory=dict)
    path: str = SYSTEM_PATH  # the hooks' PATH after their env's scripts
    home: Path | None = None  # the hooks' HOME: the oracle's own (root/home where None)

    def __post_init__(self) -> None:  # hooks run in the tree's copy: no path may be relative
        object.__setattr__(self, "root", self.root.absolute())
        object.__setattr__(self, "wheelhouse", self.wheelhouse.absolute())
        if self.home is not None:
            object.__setattr__(self, "home", self.home.absolute())

    @property
    def environment(self) -> dict[str, str]:
        """What the hooks run with (``_envs.environment``): nothing of the host's."""
        return environment(self.path, self.home or self.root / "home", self.environ)

    def key(self, digest: str) -> str:
        """The cache key of a tree's result: its content, the interpreter, the wheelhouse,
        the environment its hooks run with."""
        said = {
            "code": _own_code(),
            "tree": digest,
            "python": interpreter(self.python)["version"],
            "platform": interpreter(self.python)["platform"],
            "wheelhouse": wheelhouse_digest(self.wheelhouse),
            "environment": self.environment,
        }
        return hashlib.sha256(json.dumps(said, sort_keys=True).encode()).hexdigest()[:32]

    def expected(self, tree: Path) -> ColdBuild:
        """What a cold build of ``tree`` installs; OracleError where it cannot say."""
        try:
            return self._expected(tree)
        except OSError as exc:  # its own state (results, locks, scratch) cannot be written
            raise OracleError(f"the oracle at {self.root} cannot keep its state: {exc}") from exc

    def _expected(self, tree: Path) -> ColdBuild:
        digest = _tree.digest(tree)
        result = self.root / "results" / f"{self.key(digest)}.json"
        cached = _read(result)
        if cached is not None:
            return cached
        result.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(result.with_suffix(".lock"))):
            cached = _read(result)  # another process built it while we waited
            if cached is not None:
                return cached
            cold = self._build(tree, digest)
            tmp = result.with_name(f".{result.name}.{os.getpid()}")
            tmp.write_text(json.dumps(cold.to_dict(), sort_keys=True) + "\n")
            tmp.replace(result)
        return cold

    def _build(self, tree: Path, digest: str) -> ColdBuild:
        environ = self.environment
        envs = Envs(self.root / "envs", self.python, self.wheelhouse, environ)
        envs.python_of([])  # the bare env first, once: its two builds share the envs
        Path(environ["HOME"]).mkdir(parents=True, exist_ok=True)
        (self.root / "scratch").mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="build-", dir=self.root / "scratch"))
        try:
            places = [scratch / str(n) for n in range(_BUILDS)]
            for place in places:
                place.mkdir()
            with ThreadPoolExecutor(_BUILDS) as pool:
                said = list(pool.map(lambda p: _build.describe(tree, p, envs, environ), places))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        first, *others = said
        unstable = {d.field for other in others for d in differences(first, other)}
        return ColdBuild(digest, first, frozenset(unstable))


def _read(result: Path) -> ColdBuild | None:
    try:
        data: dict[str, Any] = json.loads(result.read_text())
    except (OSError, ValueError):
        return None
    return ColdBuild.from_dict(data)
