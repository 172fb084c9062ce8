"""The service operators SealFlow offers to diagrams: a service task names one, a background job runs it.

Each takes the task's evaluated parameters and the acting system user, does its work once, and returns the
result the process stores in the task's result variable. The sealing operators apply a seal or signature: each
goes through the sealing gate (services/gate.py) before it touches the document, an operator added to them must
too (tests/services/test_gate.py runs every one against an unapproved application), and validation refuses a
diagram in which a path reaches one without passing the policy step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.models.audit import Actor
from app.services import authorizations, sealing

Operator = Callable[[dict[str, Any], Actor], dict[str, Any]]

OPERATORS: dict[str, Operator] = {
    # The application's seal where the application asks for it, then signed.
    "seal_document": sealing.seal_document,
    # The leader's seal on every page, then signed with it (leader_signature.bpmn).
    "apply_leader_signature": sealing.apply_leader_signature,
    # One party's seal signature added to the newest signed version (multi_party_signing.bpmn).
    "add_party_signature": sealing.add_party_signature,
    # Which of the leader's signature authorizations covers the application (applies nothing).
    "find_signature_authorization": authorizations.find_for_application,
}
SEALING_OPERATORS = frozenset({"seal_document", "apply_leader_signature", "add_party_signature"})

