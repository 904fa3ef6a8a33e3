"""The cold-build oracle: what a source tree's editable install IS, found by building it cold,
outside every runner and every shared cache, for the checker to compare runners with.

    oracle = Oracle(lab_dir / "oracle", wheelhouse)
    cold = oracle.expected(tree, "/src")  # a lab.check.oracle.ColdBuild; a runner sees /src

For a tree (any project directory, a template's checkout or not), ``expected``:

1. digests its whole content (``_tree``: every file, the git state; the oracle's own code);
2. finds the tree's installs kept under that digest, the interpreter's version, the
   wheelhouse's digest and the environment the hooks run with (``results/<key>/``,
   published by one rename);
3. else, under a lock per key (concurrent runs of one tree build it once), builds the tree's
   editable wheel cold TWICE, at once, each in a fresh private copy that keeps the tree's
   directory name, with pypa/build in an env of its build requirements that pip installs
   offline from the wheelhouse (``_envs``: cached by requirement set), installs each wheel
   with pypa/installer into a scratch prefix, and keeps both installs. The hooks run with an
   allow-listed environment, as runners do (``_envs.environment``: PATH, HOME, a UTF-8
   locale, a TMPDIR, what the source's runners get for its build): nothing of the host's
   reaches the backend;
4. describes both installs (``lab.projects.installed``, the probe's describer) with the
   copy's path AND the path where the asking runner sees the tree written ``{checkout}``,
   as the runner's probe writes its own: a readme that names ``/src`` reads ``{checkout}``
   on both sides. So one build serves every view of a tree (a runner at ``/src``, one at
   ``/src-runner-2``), and describing again costs milliseconds. What the two builds disagree
   on (a build id, a time: no tree determines it) is ``unstable``, compared by presence
   only.

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
_BUILT = "built.json"  # in a tree's results: what each kept install is
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

    def expected(self, tree: Path, checkout: str | None = None) -> ColdBuild:
        """What a cold build of ``tree`` installs, ``checkout`` (where a runner sees the tree)
        written ``{checkout}`` as the runner's probe writes it; OracleError where it cannot
        say."""
        try:
            digest = _tree.digest(tree)
            installs = self._installs(tree, digest)
        except OSError as exc:  # its own state (results, locks, scratch) cannot be written
            raise OracleError(f"the oracle at {self.root} cannot keep its state: {exc}") from exc
        try:
            first, *others = [kept.describe(checkout) for kept in installs]
        except (OSError, ValueError) as exc:
            raise OracleError(f"the oracle cannot describe its install of {tree}: {exc}") from exc
        unstable = {d.field for other in others for d in differences(first, other)}
        return ColdBuild(digest, first, frozenset(unstable), checkout=checkout)

    def _installs(self, tree: Path, digest: str) -> list[_build.Install]:
        """The tree's cold installs, kept under ``results/<key>/``: built where there are none
        (under a lock per key: concurrent askers build once), published by one rename."""
        kept = self.root / "results" / self.key(digest)
        found = _read(kept)
        if found is not None:
            return found
        kept.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(kept.with_name(f"{kept.name}.lock"))):
            found = _read(kept)  # another process built it while we waited
            if found is not None:
                return found
            shutil.rmtree(kept, ignore_errors=True)  # what cannot be read is no result
            return self._build(tree, kept)

    def _build(self, tree: Path, kept: Path) -> list[_build.Install]:
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
                built = list(
                    pool.map(lambda p: _build.cold_install(tree, p, envs, environ), places)
                )
            stage = scratch / "kept"
            stage.mkdir()
            for n, install in enumerate(built):
                install.prefix.rename(stage / str(n))
            said = json.dumps([install.to_dict() for install in built], sort_keys=True)
            (stage / _BUILT).write_text(said + "\n")
            stage.rename(kept)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return [install.moved(kept / str(n)) for n, install in enumerate(built)]


def _read(kept: Path) -> list[_build.Install] | None:
    try:
        data: list[dict[str, Any]] = json.loads((kept / _BUILT).read_text())
        return [_build.Install.from_dict(kept / str(n), said) for n, said in enumerate(data)]
    except (OSError, ValueError, KeyError, TypeError):
        return None
