"""Subjects: what runs in every runner and is measured.

A subject is named as in ``--subjects``: ``uv`` (the scenario's ``uv_version``), ``uv@VERSION``
(a pinned release, or one ``cachelab setup --uv-version`` added to the toolchain), ``pip``, or
a policy of the reference builder: ``narrow``, ``coalesce``, ``wide``, ``none``. Adding a
subject means one module with a ``Subject`` and one entry in ``_FAMILIES`` here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from lab.refbuilder import Freshness, Policy
from lab.resources import PIP_VERSION
from lab.subjects.base import Observation, Subject
from lab.subjects.pip import Pip
from lab.subjects.reference import Reference
from lab.subjects.uv import Uv

__all__ = ["COMPARED", "Observation", "Settings", "Subject", "canonical", "make", "names"]


@dataclass(frozen=True)
class Settings:
    """What of a scenario (and its template) a subject is made with."""

    uv_version: str  # uv's, where the subject names none (``uv``, not ``uv@X``)
    command: tuple[str, ...]  # uv's: ``uv sync --reinstall``
    lock_timeout: float | None  # the longest a subject may wait for a lock, where it can be told
    freshness: Freshness  # the reference builder's reuse rule
    tree_lock: bool  # the reference builder's lock inside the source tree
    module: str | None  # the template's import name, imported in the venv afterwards; None: none
    project: bool = False  # a project of the user's: installed alone, its dependencies not


@dataclass(frozen=True)
class _Family:
    make: Callable[[str | None, Settings], Subject]
    # ValueError where a version cannot be one of the family's; None: it takes no @VERSION.
    # Whether that version is installed is the toolchain's to say, when a run starts.
    check_version: Callable[[str], None] | None = None


def _uv(version: str | None, settings: Settings) -> Subject:
    return Uv(version or settings.uv_version, settings.command, settings.lock_timeout)


def _release(version: str) -> None:
    """A uv release: X.Y.Z (`cachelab setup --uv-version X.Y.Z` installs it)."""
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise ValueError(f"uv {version!r} is not a release number; e.g. uv@0.12.24")


def _reference(policy: Policy) -> _Family:
    def make(_version: str | None, settings: Settings) -> Subject:
        return Reference(
            policy, settings.module, settings.freshness, settings.tree_lock, settings.lock_timeout
        )

    return _Family(make)


_FAMILIES: dict[str, _Family] = {
    "uv": _Family(_uv, check_version=_release),
    "pip": _Family(lambda _version, settings: Pip(PIP_VERSION, deps=not settings.project)),
    **{policy.value: _reference(policy) for policy in Policy},
}
# What the matrix compares: uv against the reference builder's safe policies (coalesce is
# the default)
COMPARED = ("uv", "wide", "narrow", "coalesce")


def names() -> list[str]:
    return list(_FAMILIES)


def has_versions(family: str) -> bool:
    """Whether ``family`` takes a @VERSION (uv does)."""
    return _FAMILIES[family].check_version is not None


def uv_release(version: str) -> str:
    """``version`` checked as a uv release; ValueError says what would be one."""
    return canonical(f"uv@{version}").partition("@")[2]


def canonical(spec: str) -> str:
    """``spec`` checked: a known family, and a version only where the family has versions.
    ValueError names what is allowed."""
    family, sep, version = spec.strip().partition("@")
    entry = _FAMILIES.get(family)
    if entry is None:
        raise ValueError(f"unknown subject {spec!r}; choose from {', '.join(names())}")
    if not sep:
        return family
    if entry.check_version is None:
        raise ValueError(f"subject {family!r} takes no @VERSION")
    entry.check_version(version)
    return f"{family}@{version}"


def make(spec: str, settings: Settings) -> Subject:
    family, _, version = canonical(spec).partition("@")
    return _FAMILIES[family].make(version or None, settings)
