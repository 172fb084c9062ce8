"""The service operators SealFlow offers to diagrams: a service task names one, a background job runs it.

Each takes the task's evaluated parameters and the acting system user, does its work once, and returns the
result the process stores in the task's result variable. The sealing operators apply a seal or signature: each
goes through the sealing gate (services/gate.py) before it touches the document, an operator added to them must
too (tests/services/test_gate.py runs every one against an unapproved application), and validation refuses a
diagram in which a path reaches one without passing the policy step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import ProcessInstance
from app.models.audit import Actor
from app.services import authorizations, deployments, sealing
from app.services.gate import SealingRefused

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
    # Deploy a diagram a second seal administrator approved (deployment_approval.bpmn). Looked up when called:
    # deployments imports this module (through flows), so it may be half-loaded while this table is built.
    "deploy_change": lambda params, actor: deployments.carry_out(params, actor),
}
SEALING_OPERATORS = frozenset({"seal_document", "apply_leader_signature", "add_party_signature"})


def _l(text: str) -> str:
    """Marks a label for the translation catalog (pybabel's `-k _l`); the pages translate it when they show it."""
    return text


@dataclass(frozen=True)
class Parameter:
    name: str
    label: str
    value: str  # Camunda's form: ${variable}, ${variable.key} or plain text
    editable: bool = False


@dataclass(frozen=True)
class OperatorTemplate:
    """How the modeler offers an operator: an element template for a service task (its topic is the operator)."""

    operator: str
    name: str
    description: str
    result: str
    parameters: tuple[Parameter, ...]


_APPLICATION = Parameter("application_id", _l("Application"), "${application_id}")
TEMPLATES = (
    OperatorTemplate("seal_document", _l("Stamp and sign"),
                     _l("Stamps the application's seal where the application asks for it, then signs the document. "
                        "Runs only after the approvals the seal policy requires."), "seal_result", (_APPLICATION,)),
    OperatorTemplate("find_signature_authorization", _l("Find the leader's authorization"),
                     _l("Finds the leader's signature authorization that covers the application (applies nothing)."),
                     "authorization", (_APPLICATION,)),
    OperatorTemplate("apply_leader_signature", _l("Leader signature"),
                     _l("Applies the leader's signature on every page and signs with it, under an authorization."),
                     "signature_result",
                     (_APPLICATION, Parameter("authorization_id", _l("Authorization"),
                                              "${authorization.authorization_id}", editable=True))),
    OperatorTemplate("add_party_signature", _l("Party signature"),
                     _l("Adds one party's seal signature to the newest signed version (in a multi-instance over "
                        "the parties)."), "signature_result",
                     (_APPLICATION, Parameter("parties", _l("Parties"), "${parties}", editable=True),
                      Parameter("user_id", _l("Party's user"), "${party.user_id}", editable=True),
                      Parameter("seal_id", _l("Party's seal"), "${party.seal_id}", editable=True))),
)



def run_operator(operation: str, params: dict[str, Any], instance_id: int | None, actor: Actor) -> dict[str, Any]:
    """Run the operator a service task names. A sealing operator acts only on the application its own process
    runs, and `deploy_change` only on the deployment request whose approval process runs it: a diagram cannot point
    them at another application (a withdrawn one, say) or another request by its parameters."""
    if operation == "deploy_change":
        deployments.check_deploying_instance(params, instance_id)
    if operation in SEALING_OPERATORS:
        own = db.session.execute(select(ProcessInstance.application_id).where(
            ProcessInstance.id == instance_id)).scalar() if instance_id is not None else None
        named = params.get("application_id")
        if own is None or str(named) != str(own):
            raise SealingRefused(own or 0, [
                f"the sealing job of application {own} names application {named}: a process seals only its own"])
    return OPERATORS[operation](params, actor)
