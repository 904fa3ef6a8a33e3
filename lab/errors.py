"""Exceptions of the orchestrator, each carrying what a user needs to act on it, and the exit
code each stands for: every command exits with these (listed at the end of every --help)."""

from __future__ import annotations

import enum
from pathlib import Path


class ExitCode(enum.IntEnum):
    OK = 0
    FAILED = 1  # a run failed, or its verdict is invalid
    USAGE = 2  # the input is wrong; nothing was started or written
    UNKNOWN = 3  # a verdict is unknown (a run ended early)
    INTERRUPTED = 130


EXIT_CODES_HELP = """exit codes:
  0    ok: every run completed and was judged valid
  1    failed: a runner failed, a run was judged invalid, or the backend cannot run here
  2    usage: the input is wrong; nothing was started or written
  3    unknown: a run ended early (timeout), so no verdict could be reached
  130  interrupted (Ctrl-C or SIGTERM): every runner was stopped"""


class LabError(Exception):
    """Base class. ``exit_code`` tells usage errors (2) from failed runs (1)."""

    exit_code: int = ExitCode.FAILED


class UsageError(LabError):
    """The input is wrong: a scenario, an option, a name. Nothing was started."""

    exit_code = ExitCode.USAGE


class ScenarioError(UsageError):
    """A scenario file or override does not validate."""

    def __init__(self, source: str | Path, field: str | None, message: str) -> None:
        self.source = str(source)
        self.field = field
        self.message = message
        where = f"{self.source}: field '{field}'" if field else self.source
        super().__init__(f"{where}: {message}")


class TemplateError(UsageError):
    """A template is missing, malformed, or renders outside its destination."""

    def __init__(self, template: str, path: str | Path, message: str) -> None:
        self.template = template
        self.path = str(path)
        super().__init__(f"template '{template}' ({self.path}): {message}")


class ToolchainError(LabError):
    """The offline wheelhouse or a pinned tool is missing or broken."""


class BackendUnavailable(LabError):
    """A runner backend cannot run here (no engine, no namespaces, no image)."""

    def __init__(self, backend: str, reason: str) -> None:
        self.backend = backend
        self.reason = reason
        super().__init__(f"runner backend '{backend}' is unavailable: {reason}")


class RunnerStartError(LabError):
    """One runner could not be started."""

    def __init__(self, runner: str, reason: str, log_tail: str = "") -> None:
        self.runner = runner
        self.reason = reason
        self.log_tail = log_tail
        text = f"runner '{runner}' failed to start: {reason}"
        if log_tail:
            text += f"\n--- last lines of its output ---\n{log_tail}"
        super().__init__(text)
