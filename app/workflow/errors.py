"""Errors of the workflow package; SpiffWorkflow's own exceptions never leave it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.errors import DomainError


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a diagram, located as precisely as known."""

    message: str
    element_id: str = ""
    element_name: str = ""
    file: str = ""
    line: int | None = None

    @classmethod
    def at(cls, node: Any, source: str, message: str) -> Problem:
        """A problem of one element (an lxml element of a diagram or decision table), named by its id and its name
        (or label) and located by its line."""
        name = " ".join((node.get("name") or node.get("label") or "").split())
        return cls(message, node.get("id", ""), name, source, node.sourceline)

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.file, self.line) if p)
        element = f"{self.element_id} ({self.element_name})" if self.element_name else self.element_id
        return " ".join(p for p in (where, element and f"[{element}]", self.message) if p)


class InvalidDefinition(DomainError):
    """A diagram SealFlow refuses to deploy; `problems` lists every reason."""

    status = 422

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


class WorkflowFailed(DomainError):
    """Running the process failed: an expression of the diagram or of a decision table failed or went past its
    limits, for example. The diagram and its data are at fault, not the server."""

    status = 422
