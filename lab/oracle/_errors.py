"""The oracle's one error, as pypa/build keeps its own: one line for a person, and the
detail (the backend's or pip's last lines) beside it, for the record (``oracle.json``)."""

from __future__ import annotations

from lab.errors import LabError


class OracleError(LabError):
    """The oracle could not say what a tree gives: it could not read or copy the tree, or its
    environment or build failed. ``str`` is one line; ``detail`` what a person may read next."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(" ".join(message.split("\n")))
        self.detail = detail
