"""Which wheels of an offline wheelhouse a build env needs: build requirements resolved
against the wheelhouse's wheel files alone, for the env's interpreter.

No backtracking: the wheelhouse holds one version of nearly every name, so the first choice
for a name is the only one. Each name gets the newest version that fits the interpreter
(its tags and ``Requires-Python``), every top-level requirement on that name and the
requirement that brought it in. A requirement met later that the chosen version does not
satisfy is a conflict, told in one line naming both requirements and the wheelhouse, as is
a requirement no wheel satisfies. Dependencies come from each wheel's ``METADATA``
(``Requires-Dist``), extras and markers evaluated for the env's interpreter.
"""

from __future__ import annotations

import email.parser
import email.policy
import re
import zipfile
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag, parse_tag
from packaging.utils import (
    BuildTag,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import Version

from lab.refbuilder._errors import CacheError

_METADATA = re.compile(r"[^/]+\.dist-info/METADATA")


class ResolveError(CacheError):
    """No set of the wheelhouse's wheels meets the requirements: one line naming the
    requirement, who asked for it and the wheelhouse."""


@dataclass(frozen=True)
class Target:
    """The interpreter a build env runs: its marker values and the wheel tags it takes."""

    markers: Mapping[str, str]
    tags: Sequence[str]  # most preferred first, as packaging.tags.sys_tags() gives them

    @property
    def python_version(self) -> Version:
        """X.Y.Z, as pip checks ``Requires-Python``: a 3.14.0rc1 meets ">=3.14"."""
        # a build from a source checkout says "3.14.0+"
        full = Version(self.markers["python_full_version"].rstrip("+"))
        return Version(".".join(str(part) for part in full.release[:3]))


@dataclass(frozen=True)
class Wheel:
    """One wheel file of the wheelhouse that the target can install."""

    path: Path
    name: NormalizedName
    version: Version
    build: BuildTag
    rank: int  # the target's preference for its best tag: lower is better

    def requires(self) -> tuple[list[Requirement], SpecifierSet | None]:
        """Its ``Requires-Dist`` and ``Requires-Python``, from its METADATA."""
        try:
            with zipfile.ZipFile(self.path) as whl:
                names = [n for n in whl.namelist() if _METADATA.fullmatch(n)]
                if len(names) != 1:
                    raise ValueError(f"{len(names)} .dist-info/METADATA files")
                text = whl.read(names[0])
            headers = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(
                text, headersonly=True
            )
            dist = [Requirement(str(r)) for r in headers.get_all("Requires-Dist") or []]
            python = headers.get("Requires-Python")
            return dist, None if python is None else SpecifierSet(str(python))
        except Exception as exc:  # a damaged zip fails in many ways (zlib, EOF, ...): one line
            raise ResolveError(f"cannot read the metadata of {self.path}: {exc}") from exc


@dataclass(frozen=True)
class _Wanted:
    """A requirement and who asked for it (None: the env's own requirements)."""

    requirement: Requirement
    by: Wheel | None

    def __str__(self) -> str:
        by = "requested" if self.by is None else f"required by {self.by.name} {self.by.version}"
        return f"{self.requirement} ({by})"


@dataclass
class _Chosen:
    wheel: Wheel
    because: _Wanted
    requires: list[Requirement]
    extras: set[str] = field(default_factory=set)


class _Wheelhouse:
    """The wheelhouse's wheel files as the target sees them."""

    def __init__(self, path: Path, target: Target) -> None:
        self.path = path
        self.target = target
        self.fit: dict[NormalizedName, list[Wheel]] = {}  # installable by the target
        self.unfit: dict[NormalizedName, list[str]] = {}  # file names of the others
        ranks: dict[Tag, int] = {}
        for rank, text in enumerate(target.tags):
            for tag in parse_tag(text):
                ranks.setdefault(tag, rank)
        try:  # glob would take a missing or unreadable directory for an empty one
            names = sorted(entry.name for entry in path.iterdir())
        except OSError as exc:
            raise ResolveError(f"cannot read the wheelhouse {path}: {exc}") from exc
        self.sdists = [n for n in names if n.endswith((".tar.gz", ".zip"))]
        for file in (path / n for n in names if n.endswith(".whl")):
            try:
                name, version, build, tags = parse_wheel_filename(file.name)
            except (InvalidWheelFilename, ValueError):
                continue  # not a wheel's name: not ours to install
            best = min((ranks[t] for t in tags if t in ranks), default=None)
            if best is None:
                self.unfit.setdefault(name, []).append(file.name)
            else:
                self.fit.setdefault(name, []).append(Wheel(file, name, version, build, best))

    def choose(self, want: _Wanted, also: SpecifierSet) -> tuple[Wheel, list[Requirement]]:
        """The newest wheel for ``want`` that also meets ``also`` (the top-level requirements
        on its name) and the target's Python, with its requirements."""
        name = canonicalize_name(want.requirement.name)
        wheels = self.fit.get(name, [])
        spec = want.requirement.specifier & also
        allowed = set(spec.filter({w.version for w in wheels}))
        python = self.target.python_version
        too_new = []
        # newest version first; of one version, the best tag, then the highest build number
        for wheel in sorted(
            (w for w in wheels if w.version in allowed),
            key=lambda w: (w.version, -w.rank, w.build),
            reverse=True,
        ):
            requires, requires_python = wheel.requires()
            if requires_python is None or requires_python.contains(python, prereleases=True):
                return wheel, requires
            too_new.append(f"{wheel.path.name} requires Python {requires_python}")
        if too_new:
            why = "; ".join(too_new)
        elif wheels:
            why = f"it has {name} {', '.join(sorted({str(w.version) for w in wheels}))}"
        elif name in self.unfit:
            why = f"none of {', '.join(self.unfit[name])} fits this interpreter"
        elif sdists := [n for n in self.sdists if canonicalize_name(_sdist_name(n)) == name]:
            why = f"it has only the sdist {', '.join(sdists)}, and build envs take wheels only"
        else:
            why = f"it has no {name}"
        with_also = f" and {also}" if str(also) and also != want.requirement.specifier else ""
        raise ResolveError(
            f"no wheel in the wheelhouse {self.path} satisfies {want}{with_also}: {why}"
        )


def _sdist_name(file_name: str) -> str:
    """The project name an sdist's file name starts with (name-version.tar.gz)."""
    return file_name.rsplit("-", 1)[0]


def _applies(requirement: Requirement, target: Target, extras: Iterable[str]) -> bool:
    """Whether ``requirement`` applies to the target once ``extras`` of its owner are
    selected ("": the owner itself); each distribution's extras are selected once, so a
    cycle of requirements ends."""
    marker = requirement.marker
    if marker is None:
        return "" in extras
    return any(marker.evaluate({**target.markers, "extra": extra}) for extra in extras)


def resolve(requirements: Sequence[str], wheelhouse: Path, target: Target) -> list[Wheel]:
    """The wheels that make an env meeting ``requirements``, by name.

    ResolveError names the requirement no wheel meets, or the two that conflict."""
    house = _Wheelhouse(wheelhouse, target)
    try:
        wanted = [_Wanted(Requirement(r), None) for r in sorted(requirements)]
    except InvalidRequirement as exc:
        raise ResolveError(f"cannot read a build requirement: {exc}") from exc
    wanted = [w for w in wanted if _applies(w.requirement, target, [""])]
    top: dict[NormalizedName, SpecifierSet] = {}
    for w in wanted:
        name = canonicalize_name(w.requirement.name)
        top[name] = top.get(name, SpecifierSet()) & w.requirement.specifier
    chosen: dict[NormalizedName, _Chosen] = {}
    queue = deque(wanted)
    while queue:
        want = queue.popleft()
        req = want.requirement
        name = canonicalize_name(req.name)
        extras: set[str] = {canonicalize_name(e) for e in req.extras}
        have = chosen.get(name)
        if req.url:
            raise ResolveError(
                f"{want} is a direct reference: build envs come from the wheelhouse "
                f"{wheelhouse} alone"
            )
        if have is None:
            wheel, requires = house.choose(want, top.get(name, SpecifierSet()))
            have = chosen[name] = _Chosen(wheel, want, requires)
            new = {"", *extras}
        elif not req.specifier.contains(have.wheel.version, prereleases=True):
            raise ResolveError(
                f"{want} conflicts with {name} {have.wheel.version}, chosen for "
                f"{have.because}, in the wheelhouse {wheelhouse}"
            )
        else:
            new = extras - have.extras
        have.extras |= new
        deps = [dep for dep in have.requires if _applies(dep, target, new)]
        queue.extend(_Wanted(dep, have.wheel) for dep in deps)
    return [chosen[name].wheel for name in sorted(chosen)]
