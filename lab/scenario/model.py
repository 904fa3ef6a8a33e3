"""A scenario: a declarative setup, validated field by field before anything starts."""

from __future__ import annotations

import re
from typing import Any, Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lab import subjects
from lab.contract import parse_failpoints
from lab.projects import template
from lab.refbuilder import Freshness
from lab.resources import DEFAULT_UV_VERSION
from lab.scenario.expectation import Expectation
from lab.scenario.step import EDITABLE_IDENTITY, ONE_RUN, Step, check_setting
from lab.vocabulary import StepKind, Topology, runner_names

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
    # lock policies (narrow, coalesce, wide, none).
    subject: str = "uv"
    # When the reference builder may reuse an entry built in another checkout: "content" (its
    # own rule) or "ctime" (uv's rule, so every checkout rebuilds, as in the issue).
    freshness: Freshness = Freshness.CONTENT
    # Reference builder: take the lock inside the source tree around builds. Off only to show
    # what a shared tree does without it.
    tree_lock: bool = True
    uv_version: str = DEFAULT_UV_VERSION
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
                check_setting(f"steps[{i}].set.{name}", value, defaults[name])
            later = self.steps[i:]
            if step.during is not None and not any(s.kind is StepKind.RUN for s in later):
                raise ValueError(f"steps[{i}]: during needs a run step after it to run beside")
        if self.steps and not any(s.kind is StepKind.RUN for s in self.steps):
            raise ValueError("steps: at least one run step, or nothing is measured")
        return self

    @property
    def steps_to_take(self) -> tuple[Step, ...]:
        """The scenario's steps, or a single run."""
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

    def template_params(self, index: int) -> dict[str, Any]:
        """What the ``index``-th checkout (0-based) is rendered with: its version and
        dependencies included (its marker follows from them: ``Template.marked``)."""
        params: dict[str, Any] = {**self.template_parameters, "build_delay": self.build_delay}
        if self.checkout_versions:
            params["version"] = self.checkout_versions[index % len(self.checkout_versions)]
        if self.checkout_dependencies:
            deps = self.checkout_dependencies[index % len(self.checkout_dependencies)]
            params["dependencies"] = list(deps)
        return params

    def subject_settings(self) -> subjects.Settings:
        """What its subject is made with."""
        return subjects.Settings(
            uv_version=self.uv_version,
            command=self.command,
            lock_timeout=self.lock_timeout,
            freshness=self.freshness,
            tree_lock=self.tree_lock,
            module=template.get(self.template).import_name,
        )

    def expectation(self, subject: str) -> Expectation | None:
        """What the catalog expects of ``subject`` here (the first entry that applies)."""
        return next((e for e in self.expect if e.applies(subject)), None)
