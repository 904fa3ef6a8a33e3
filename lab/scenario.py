"""Scenarios: declarative setups loaded from TOML, validated before anything starts.

Every problem is reported as one ScenarioError naming the file (or ``--set`` option), the
field and what is allowed; the CLI turns it into exit code 2.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from lab import data, subjects, template, toolchain
from lab.contract import StepKind
from lab.errors import ScenarioError
from lab.refbuilder import Freshness, parse_failpoints
from lab.vocabulary import Outcome

_PATH_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
# Top-level directories a checkout may not shadow: the system's, and /cache, where containers
# see the shared cache (resources are mounted below /opt).
RESERVED_TOP_DIRS = frozenset(
    {
        "bin",
        "boot",
        "cache",
        "dev",
        "etc",
        "home",
        "lib",
        "lib32",
        "lib64",
        "opt",
        "proc",
        "root",
        "run",
        "sbin",
        "sys",
        "tmp",
        "usr",
        "var",
    }
)


# The seed's scenario, which benchmarks and the matrix vary with overrides
ISSUE_SCENARIO = "issue-15380"
MAX_RUNNERS = 64  # runners in one run


def runner_names(count: int) -> list[str]:
    return [f"runner-{i}" for i in range(1, count + 1)]


class Topology(StrEnum):
    SAME_PATH = "same-path"  # a checkout per runner, all mounted at one path (GitHub runners)
    DIFFERENT_PATHS = "different-paths"  # a checkout per runner, each at its own path
    SHARED_TREE = "shared-tree"  # one checkout mounted into every runner (uv #13703)


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: StepKind
    # Whose checkouts (delete, edit) or which runners (run); empty: all of them.
    runners: tuple[str, ...] = ()
    # delete: a glob relative to the checkout, e.g. "src/**/*.so"; it cannot leave the checkout.
    path: str | None = None
    # edit: template parameters to render with from now on, e.g. {version = "2.0"}.
    set: dict[str, Any] = Field(default_factory=dict)
    # prune, clean: start this many seconds into the next run step, beside its runners
    # (None: on its own, between steps).
    during: float | None = Field(default=None, ge=0, le=3600, strict=True)

    @model_validator(mode="after")
    def _fields_of_its_kind(self) -> Step:
        if self.kind is StepKind.DELETE:
            if not self.path:
                raise ValueError("a delete step needs path, a glob inside the checkout")
            parts = Path(self.path).parts
            if Path(self.path).is_absolute() or ".." in parts or not parts:
                raise ValueError(
                    f"path {self.path!r} must be a glob inside the checkout, e.g. 'src/**/*.so'"
                )
            if all(part in ("**", ".") for part in parts):
                raise ValueError(f"path {self.path!r} matches the checkout itself, e.g. 'src/*.so'")
        elif self.path is not None:
            raise ValueError(f"path is for delete steps, not {self.kind}")
        if self.kind is StepKind.EDIT and not self.set:
            raise ValueError("an edit step needs set, e.g. {version = '2.0'}")
        if self.kind is not StepKind.EDIT and self.set:
            raise ValueError(f"set is for edit steps, not {self.kind}")
        cache_step = self.kind in (StepKind.PRUNE, StepKind.CLEAN)
        if self.during is not None and not cache_step:
            raise ValueError(f"during is for prune and clean steps, not {self.kind}")
        if cache_step and self.runners:
            raise ValueError(f"a {self.kind} step runs on a runner of its own: no runners")
        return self


class Expectation(BaseModel):
    """What the catalog expects of a subject in a scenario: the outcome the checker gives
    (the worst of its runners', or the run's own where the cache or locks were at fault) and,
    where it matters, whether the run was serialized (a runner waited out half a build or more
    of another's, then built anyway: ``RunResult.serialized``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    subject: str  # a subject family: uv, pip, narrow, coalesce, wide, none
    versions: str = ""  # a PEP 440 specifier on the subject's version, e.g. ">=0.9.16"
    outcome: Outcome
    serialized: StrictBool | None = None
    why: str = ""  # what the upstream issue says, where the outcome is not "valid"

    @field_validator("subject")
    @classmethod
    def _family(cls, value: str) -> str:
        if value not in subjects.names():
            raise ValueError(f"unknown subject {value!r}; choose from {subjects.names()}")
        return value

    @field_validator("versions")
    @classmethod
    def _specifier(cls, value: str) -> str:
        try:
            SpecifierSet(value)
        except InvalidSpecifier:
            raise ValueError(f"{value!r} is not a version specifier, e.g. '>=0.9.16'") from None
        return value

    @model_validator(mode="after")
    def _versioned(self) -> Expectation:
        if self.versions and not subjects.has_versions(self.subject):
            raise ValueError(f"versions: subject {self.subject!r} has no versions")
        return self

    @model_validator(mode="after")
    def _explained(self) -> Expectation:
        if self.outcome is not Outcome.VALID and not self.why:
            raise ValueError(f"an expected {self.outcome} for {self.subject} needs its why")
        return self

    def applies(self, subject: str) -> bool:
        """Whether this expectation is about ``subject`` (``uv@0.13.9``, ``narrow``)."""
        family, _, version = subject.partition("@")
        if family != self.subject:
            return False
        return not self.versions or (
            bool(version) and Version(version) in SpecifierSet(self.versions)
        )


def _check_setting(where: str, value: Any, default: Any) -> None:
    """An edit's value: a version, requirements, or of the type of the template's default."""
    if where.endswith(".version"):
        try:
            Version(str(value))
        except InvalidVersion:
            raise ValueError(f"{where} {value!r} is not a version (PEP 440)") from None
    elif where.endswith(".dependencies"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{where} must be a list of requirements, got {value!r}")
        for text in value:
            try:
                Requirement(text)
            except InvalidRequirement:
                raise ValueError(f"{where}: {text!r} is not a requirement") from None
    elif type(value) is not type(default):
        kind = type(default).__name__
        raise ValueError(f"{where} must be a {kind} as the template's default, got {value!r}")


# A scenario without steps runs once.
ONE_RUN = (Step(kind=StepKind.RUN),)
# The parameters an edit step may set beside the template's own.
EDITABLE_IDENTITY = ("version", "dependencies")


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)
    description: str = ""
    source: str = ""
    runners: int = Field(default=2, ge=1, le=MAX_RUNNERS)
    template: str = "hatchling"
    build_delay: float = Field(default=10.0, ge=0, le=3600)
    topology: Topology = Topology.SAME_PATH
    # Where each runner sees its checkout: "/src" as in the seed, "/__w/<repo>/<repo>" as in a
    # GitHub container job. With different-paths, each runner's path gets "-<runner>" added.
    checkout_path: str = "/src"
    # What runs in every runner: uv, uv@VERSION, pip, or the reference builder under one of its
    # lock policies (narrow, coalesce, wide, none). `builder` is the field's old name.
    subject: str = Field(default="uv", validation_alias=AliasChoices("subject", "builder"))
    # When the reference builder may reuse an entry built in another checkout: "content" (its
    # own rule) or "ctime" (uv's rule, so every checkout rebuilds, as in the issue).
    freshness: Freshness = Freshness.CONTENT
    # Reference builder: take the lock inside the source tree around builds. Off only to show
    # what a shared tree does without it.
    tree_lock: bool = True
    uv_version: str = toolchain.DEFAULT_UV_VERSION
    command: tuple[str, ...] = ("uv", "sync", "--reinstall")
    # Runners never have a network; the field exists so a scenario says so explicitly.
    network: Literal["none"] = "none"
    timeout: float = Field(default=900.0, gt=0, le=86400)
    # Each checkout's identity, taken in turn (runner i gets entry i-1, modulo the length):
    # its version and its dependencies. Empty: every checkout is 0.1.0 with none.
    checkout_versions: tuple[str, ...] = ()
    checkout_dependencies: tuple[tuple[str, ...], ...] = ()
    # The template's own parameters, e.g. {version_from_file = true} for hatchling.
    template_parameters: dict[str, Any] = Field(default_factory=dict)
    # Seconds a subject may wait for a lock before it gives up, where it can be told
    # (uv >= 0.9.16: UV_LOCK_TIMEOUT). The checker holds every subject to it.
    lock_timeout: float | None = Field(default=None, gt=0, le=86400)
    # Reference builder failpoints per runner, e.g. {runner-1 = "before-publish=pause:5"}.
    failpoints: dict[str, str] = Field(default_factory=dict)
    # Seconds between runners' starts (runner i starts (i-1) x stagger after the first): CI
    # jobs rarely start at one instant.
    stagger: float = Field(default=0.0, ge=0, le=600)
    # One after another on the same cache and checkouts; none: run once.
    steps: tuple[Step, ...] = ()
    # What the catalog expects of each subject here, and why where it differs by subject.
    expect: tuple[Expectation, ...] = ()
    # Each runner's view of the cache: "exclude" (one file system), "lie" (a FUSE view per
    # runner whose locks do not exclude each other's, as flock on some network file systems).
    locks: Literal["exclude", "lie"] = "exclude"
    # Swarm: at most this many runners on a node, the nodes filled in turn (runner-1 and on
    # to node-1 first); unset: the runners spread evenly over every node.
    runners_per_node: int | None = Field(default=None, ge=1, le=MAX_RUNNERS)

    @field_validator("template")
    @classmethod
    def _known_template(cls, value: str) -> str:
        names = sorted(template.available())
        if value not in names:
            raise ValueError(f"unknown template {value!r}; choose one of {names}")
        return value

    @field_validator("subject")
    @classmethod
    def _known_subject(cls, value: str) -> str:
        return subjects.canonical(value)

    @field_validator("checkout_versions")
    @classmethod
    def _versions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for text in value:
            try:
                Version(text)
            except InvalidVersion:
                raise ValueError(f"{text!r} is not a version (PEP 440), e.g. '1.0'") from None
        return value

    @field_validator("checkout_dependencies")
    @classmethod
    def _dependencies(cls, value: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
        for text in (req for reqs in value for req in reqs):
            try:
                Requirement(text)
            except InvalidRequirement:
                raise ValueError(f"{text!r} is not a requirement, e.g. 'packaging>=20'") from None
        return value

    @model_validator(mode="after")
    def _failpoints(self) -> Scenario:
        names = set(runner_names(self.runners))
        for runner, setting in self.failpoints.items():
            if runner not in names:
                raise ValueError(
                    f"failpoints: no runner {runner!r} among {sorted(names)} (runners = "
                    f"{self.runners})"
                )
            try:
                parse_failpoints(setting)
            except ValueError as exc:
                raise ValueError(f"failpoints.{runner}: {exc}") from None
        return self

    @model_validator(mode="after")
    def _steps(self) -> Scenario:
        names = set(runner_names(self.runners))
        defaults = template.get(self.template).parameters
        own = set(defaults) - set(template.COMMON_PARAMETERS)
        for i, step in enumerate(self.steps, start=1):
            unknown = sorted(set(step.runners) - names)
            if unknown:
                raise ValueError(f"steps[{i}]: no runner {unknown} among {sorted(names)}")
            settable = own | set(EDITABLE_IDENTITY)
            wrong = sorted(set(step.set) - settable)
            if wrong:
                raise ValueError(f"steps[{i}].set {wrong}: an edit sets {sorted(settable)}")
            for name, value in step.set.items():
                _check_setting(f"steps[{i}].set.{name}", value, defaults[name])
            later = self.steps[i:]
            if step.during is not None and not any(s.kind is StepKind.RUN for s in later):
                raise ValueError(f"steps[{i}]: during needs a run step after it to run beside")
        if self.steps and not any(s.kind is StepKind.RUN for s in self.steps):
            raise ValueError("steps: at least one run step, or nothing is measured")
        return self

    @property
    def plan(self) -> tuple[Step, ...]:
        """The steps to take: the scenario's, or a single run."""
        return self.steps or ONE_RUN

    @model_validator(mode="after")
    def _template_parameters(self) -> Scenario:
        own = set(template.get(self.template).parameters) - set(template.COMMON_PARAMETERS)
        unknown = sorted(set(self.template_parameters) - own)
        if unknown:
            raise ValueError(
                f"template_parameters {unknown}: template {self.template!r} takes "
                f"{sorted(own) or 'none of its own'} (build_delay, checkout_versions and "
                "checkout_dependencies are fields of their own)"
            )
        return self

    @field_validator("uv_version")
    @classmethod
    def _uv_release(cls, value: str) -> str:
        return subjects.uv_release(value)

    @field_validator("checkout_path")
    @classmethod
    def _checkout_path(cls, value: str) -> str:
        parts = value.split("/")
        wanted = "an absolute path of plain names, e.g. /src or /__w/repo/repo"
        if (
            not value.startswith("/")
            or len(parts) < 2
            or any(not _PATH_PART.fullmatch(p) or p in (".", "..") for p in parts[1:])
        ):
            raise ValueError(f"must be {wanted}")
        if parts[1] in RESERVED_TOP_DIRS:
            raise ValueError(
                f"must not be under /{parts[1]}; reserved are {sorted(RESERVED_TOP_DIRS)}"
            )
        return value

    @field_validator("command")
    @classmethod
    def _command(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or value[0] != "uv":
            raise ValueError(f"must be a `uv ...` command, got {list(value)}")
        return value

    def template_params(self, index: int, marker: str) -> dict[str, Any]:
        """What the ``index``-th checkout (0-based) is rendered with: its identity included."""
        params: dict[str, Any] = {**self.template_parameters, "build_delay": self.build_delay}
        params["marker"] = marker
        if self.checkout_versions:
            params["version"] = self.checkout_versions[index % len(self.checkout_versions)]
        if self.checkout_dependencies:
            deps = self.checkout_dependencies[index % len(self.checkout_dependencies)]
            params["dependencies"] = list(deps)
        return params


FIELDS = tuple(Scenario.model_fields)
# Old names still read, for scenario files and --set options written before the rename.
ALIASES = {"builder": "subject"}


def _error(source: str | Path, exc: ValidationError) -> ScenarioError:
    err = exc.errors()[0]
    # steps[1].path, as people count: list positions from one
    where = "".join(f"[{p + 1}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
    field = where.removeprefix(".") or None
    if err["type"] == "extra_forbidden":
        message = f"unknown field; the fields are {list(FIELDS)}"
    elif err["type"] == "missing":
        message = "is required"
    elif not err["loc"]:  # a check across fields: the message names them
        message = err["msg"].removeprefix("Value error, ")
    else:
        message = f"{err['msg'].removeprefix('Value error, ')} (got {err['input']!r})"
    return ScenarioError(source, field, message)


def parse_override(text: str) -> tuple[str, Any]:
    """Parse one ``--set key=value``; the value is read as a TOML value, else as a string."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ScenarioError(f"--set {text}", None, "expected KEY=VALUE, e.g. --set runners=4")
    key = ALIASES.get(key, key)
    if key not in FIELDS:
        raise ScenarioError(f"--set {text}", key, f"unknown field; the fields are {list(FIELDS)}")
    try:
        value: Any = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def from_mapping(data: Mapping[str, Any], source: str | Path) -> Scenario:
    try:
        return Scenario.model_validate(dict(data))
    except ValidationError as exc:
        raise _error(source, exc) from None


def load(path: Path, overrides: Iterable[str] = ()) -> Scenario:
    """Load and validate a scenario file, then apply ``--set`` overrides (validated again)."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ScenarioError(path, None, "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(path, None, f"cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(path, None, f"not valid TOML: {exc}") from None
    scenario = from_mapping(data, path)
    for text in overrides:
        key, value = parse_override(text)
        try:
            scenario = Scenario.model_validate({**scenario.model_dump(), key: value})
        except ValidationError as exc:
            raise _error(f"--set {text}", exc) from None
    return scenario


def resolve_path(name_or_path: str, scenarios_dir: Path | None = None) -> Path:
    """``issue-15380`` means ``<scenarios dir>/issue-15380.toml`` (the lab's own by default);
    anything else is a path."""
    candidate = Path(name_or_path)
    if candidate.suffix != ".toml" and "/" not in name_or_path:
        candidate = (scenarios_dir or data.scenarios_dir()) / f"{name_or_path}.toml"
    return candidate


def load_named(name_or_path: str, overrides: Iterable[str] = ()) -> Scenario:
    """``load`` of a scenario named as on the command line."""
    return load(resolve_path(name_or_path), overrides)
