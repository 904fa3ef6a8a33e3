"""What the catalog expects of a subject in a scenario (its ``[[expect]]`` entries)."""

from __future__ import annotations

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version
from pydantic import BaseModel, ConfigDict, StrictBool, field_validator, model_validator

from lab import subjects
from lab.vocabulary import Outcome


class Expectation(BaseModel):
    """What the catalog expects of a subject in a scenario: the outcome the checker gives
    (the worst of its runners', or the run's own where the cache or locks were at fault) and,
    where it matters, whether the run was serialized (a runner waited out half or more of another's
    hold, then built anyway: ``RunResult.serialized``)."""

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
