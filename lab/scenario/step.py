"""One of a scenario's steps: what it does, to whom, and what it may set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field, model_validator

from lab.vocabulary import StepKind

# The parameters an edit step may set beside the template's own.
EDITABLE_IDENTITY = ("version", "dependencies")


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


# A scenario without steps runs once.
ONE_RUN = (Step(kind=StepKind.RUN),)


def check_setting(where: str, value: Any, default: Any) -> None:
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
