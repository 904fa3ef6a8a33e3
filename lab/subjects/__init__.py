"""Subjects: what runs in every runner and is measured.

A subject is named as in ``--subjects``: ``uv`` (the scenario's ``uv_version``), ``uv@VERSION``
(a version in the offline toolchain), or a policy of the reference builder: ``narrow``,
``wide``, ``none``. Adding a subject means one module with a ``Subject`` and one entry in
``_FAMILIES`` here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lab import toolchain
from lab.refbuilder import Policy
from lab.subjects.base import Observation, Subject
from lab.subjects.reference import Reference
from lab.subjects.uv import Uv

if TYPE_CHECKING:
    from lab.scenario import Scenario
    from lab.template import Template

__all__ = ["COMPARED", "Observation", "Subject", "canonical", "make", "names"]


@dataclass(frozen=True)
class _Family:
    make: Callable[[str | None, Scenario, Template], Subject]
    versions: Callable[[], Sequence[str]] | None = None  # None: the family takes no @VERSION


def _uv(version: str | None, scenario: Scenario, template: Template) -> Subject:
    return Uv(version or scenario.uv_version, scenario.command, scenario.lock_timeout)


def _reference(policy: Policy) -> _Family:
    def make(version: str | None, scenario: Scenario, template: Template) -> Subject:
        return Reference(
            policy,
            template.import_name,
            scenario.freshness,
            scenario.tree_lock,
            scenario.lock_timeout,
        )

    return _Family(make)


_FAMILIES: dict[str, _Family] = {
    "uv": _Family(_uv, versions=lambda: toolchain.UV_VERSIONS),
    **{policy.value: _reference(policy) for policy in Policy},
}
# uv against the reference builder's two safe policies: what benchmarks and the matrix compare
COMPARED = ("uv", "wide", "narrow")


def names() -> list[str]:
    return list(_FAMILIES)


def canonical(spec: str) -> str:
    """``spec`` checked: a known family, and a version only where the family has versions.
    ValueError names what is allowed."""
    family, sep, version = spec.strip().partition("@")
    entry = _FAMILIES.get(family)
    if entry is None:
        raise ValueError(f"unknown subject {spec!r}; choose from {', '.join(names())}")
    if not sep:
        return family
    if entry.versions is None:
        raise ValueError(f"subject {family!r} takes no @VERSION (got {spec!r})")
    known = list(entry.versions())
    if version not in known:
        raise ValueError(f"{family} {version!r} is not in the toolchain; choose one of {known}")
    return f"{family}@{version}"


def make(spec: str, scenario: Scenario, template: Template) -> Subject:
    family, _, version = canonical(spec).partition("@")
    return _FAMILIES[family].make(version or None, scenario, template)
