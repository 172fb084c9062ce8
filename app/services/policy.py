"""The seal policy (seal_policies/required_approvals.dmn): which approvals an application needs, asked once when
it is filed, whatever process will run it. The answer is stored on the application; the process's policy step
asks the people it names, and the sealing gate (services/gate.py) checks the decisions against it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from app.errors import PolicyViolation
from app.models import Department, Seal, User
from app.services import flows
from app.workflow import approver_problem, evaluate_decision, files_digest

DECISION = "required_approvals"
# The file in seal_policies/ that holds it: a draft of the policy replaces it under this name.
POLICY_FILE = f"{DECISION}.dmn"


def _as_list(value: Any) -> list[Any]:
    """A COLLECT table gives a list per output; a FIRST or UNIQUE table one value (or none)."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _rows(seal: Seal, document_type: str, amount: Decimal | None, department: Department | None,
          files: Mapping[str, bytes]) -> list[tuple[str, str]]:
    """(approver, label) of every row of the table that matches the application with this seal, in row order."""
    inputs = {"seal_kind": str(seal.kind), "seal_name": seal.name, "document_type": document_type,
              "amount": None if amount is None else float(amount),
              "department": department.name if department else ""}
    outputs = evaluate_decision(DECISION, files, inputs)
    approvers, labels = _as_list(outputs.get("approver")), _as_list(outputs.get("label"))
    return [(str(a or "").strip(), str(labels[i]) if i < len(labels) and labels[i] else "")
            for i, a in enumerate(approvers)]


def required_approvals(applied: Sequence[Seal], document_type: str, amount: Decimal | None, requester: User,
                       files: Mapping[str, bytes] | None = None, department: Department | None = None
                       ) -> tuple[list[dict[str, Any]], str]:
    """The approval levels the policy requires for an application that applies these seals (its own first, then
    the parties'), in order, each {level, approver, label}, and the policy's fingerprint. Every seal applied is
    judged; a row naming the same approver as an earlier one adds no level. A policy that requires nobody, or names
    the requester, is refused: no seal is applied without someone other than the requester approving it.
    files: the policy files to judge by (a draft), instead of those in force; department: the requester's as a
    what-if supposes it, instead of their own."""
    files = flows.policies() if files is None else files
    department = requester.department if department is None else department
    levels: list[dict[str, Any]] = []
    for position, seal in enumerate(dict.fromkeys(applied)):
        for rule, label in _rows(seal, document_type, amount, department, files):
            if (problem := approver_problem(rule)) is not None:
                raise PolicyViolation(f"the seal policy ({DECISION}) is wrong: {problem}")
            if rule == f"user:{requester.username}":
                raise PolicyViolation("the seal policy names you as an approver of your own application; ask a "
                                      "seal administrator to name someone else")
            if any(level["approver"] == rule for level in levels):
                continue
            label = (label or rule) + (f" ({seal.name})" if position else "")
            levels.append({"level": len(levels) + 1, "approver": rule, "label": label})
    if not levels:
        raise PolicyViolation(f"the seal policy ({DECISION}) requires no approval for this application; a seal "
                              "administrator must give it at least one")
    return levels, files_digest(files)
