"""Dual control of deployments: what a seal administrator wants deployed waits until a second seal administrator
approves it. The approval is itself a SealFlow process (bpmn/deployment_approval.bpmn): its review task is offered
to every seal administrator but never to the one who asked, and its service task deploys through `carry_out`."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.errors import InvalidInput, InvalidTransition, NotFound, PermissionDenied
from app.extensions import db
from app.models import (
    DeploymentKind,
    DeploymentRequest,
    DeploymentStatus,
    InstanceStatus,
    ProcessInstance,
    RoleName,
    TaskState,
    User,
)
from app.models.audit import Actor, record
from app.models.lookup import get_or_not_found
from app.models.timestamps import utcnow
from app.services import decision_tables, flows
from app.services.queue import schedule
from app.workflow import InvalidDefinition, StepResult, cancel, is_deployed, latest_definition, start, tasks_of

APPROVAL_PROCESS = "deployment_approval"
# The approval process changes only with SealFlow itself: two administrators together must not be able to switch
# dual control off for everyone after them.
PROTECTED_PROCESSES = frozenset({APPROVAL_PROCESS})


# A comment says why in a few sentences; the pages show it whole (the column, TEXT, would hold far more).
COMMENT_LIMIT = 2000


def _comment(comment: str) -> str:
    """The request's comment as stored: said, and not past the limit."""
    comment = comment.strip()
    if not comment:
        raise InvalidInput("say why: a deployment needs a comment")
    if len(comment) > COMMENT_LIMIT:
        raise InvalidInput(f"the comment is longer than {COMMENT_LIMIT} characters ({len(comment)})")
    return comment


def _seal_admin(user: User) -> None:
    if not user.has_role(RoleName.SEAL_ADMIN) or not user.active:
        raise PermissionDenied("only a seal administrator deploys flows")


def _pending(kind: DeploymentKind, subject: str) -> DeploymentRequest | None:
    return db.session.execute(select(DeploymentRequest).where(
        DeploymentRequest.kind == kind, DeploymentRequest.subject == subject,
        DeploymentRequest.status == DeploymentStatus.PENDING)).scalars().first()


def request_process(data: bytes, source: str, comment: str, user: User, actor: Actor) -> DeploymentRequest:
    """Ask for a diagram to be deployed as its process's newest version (an earlier version's content: a
    rollback). It must deploy as it stands (InvalidDefinition lists every problem otherwise), say why (in at most
    COMMENT_LIMIT characters), differ from the newest version, and be the only request for its process waiting."""
    _seal_admin(user)
    comment = _comment(comment)
    parsed = flows.inspect_diagram(data, source)
    if parsed.process_id in PROTECTED_PROCESSES:
        raise PermissionDenied(f"the process {parsed.process_id!r} keeps dual control itself and changes only with "
                               "SealFlow; deploy it from the command line")
    newest = latest_definition(parsed.process_id) if is_deployed(parsed.process_id) else None
    if newest is not None and newest.content_hash == parsed.content_hash:
        raise InvalidInput(f"version {newest.version} of {parsed.process_id!r}, the newest, already has this content")
    return _ask(DeploymentRequest(
        kind=DeploymentKind.PROCESS, subject=parsed.process_id, name=parsed.name, source_name=source,
        content=parsed.xml, content_hash=parsed.content_hash, comment=comment,
        base_version=newest.version if newest is not None else None, requested_by_id=user.id), user, actor)


def _ask(request: DeploymentRequest, user: User, actor: Actor) -> DeploymentRequest:
    """Store the request and start its approval process; one request per subject waits at a time."""
    waiting = _pending(request.kind, request.subject)
    if waiting is not None:
        raise InvalidTransition(f"deployment request {waiting.id} for {request.subject!r} still waits for a second "
                                "seal administrator; it must be decided or withdrawn first")
    db.session.add(request)
    try:
        db.session.flush()
    except IntegrityError as exc:  # another request for it was stored a moment ago
        raise InvalidTransition(f"another deployment request for {request.subject!r} was just made; it must be "
                                "decided or withdrawn first") from exc
    step = start(APPROVAL_PROCESS, {"requester_id": user.id, "deployment_id": request.id}, None, actor)
    request.instance_id = step.instance.id
    record(actor, "deployment.requested", "deployment_request", request.id, kind=request.kind.value,
           subject=request.subject, content_hash=request.content_hash, comment=request.comment,
           base_version=request.base_version)
    follow(step)
    return request


def request_policy(data: bytes, name: str, comment: str, user: User, actor: Actor) -> DeploymentRequest:
    """Ask for a decision table to be deployed as its file's newest version; the same rules as for a diagram.
    Processes calling its decision are deployed again with it once it is approved."""
    _seal_admin(user)
    comment = _comment(comment)
    name = decision_tables.valid_name(name)
    problems = decision_tables.validate_table(data, name)
    if problems:
        raise InvalidDefinition(problems)
    digest = hashlib.sha256(data).hexdigest()
    newest = decision_tables.newest_version(name)
    if newest is not None and newest.content_hash == digest:
        raise InvalidInput(f"version {newest.version} of {name!r}, the newest, already has this content")
    return _ask(DeploymentRequest(
        kind=DeploymentKind.POLICY, subject=name, name=name, source_name=name, content=data.decode(),
        content_hash=digest, comment=comment, base_version=newest.version if newest is not None else None,
        requested_by_id=user.id), user, actor)


def get_request(request_id: int) -> DeploymentRequest:
    """One deployment request."""
    return get_or_not_found(DeploymentRequest, request_id, "deployment request")


def request_of_instance(instance_id: int) -> DeploymentRequest | None:
    """The deployment request an approval process decides, if it is one."""
    return db.session.execute(select(DeploymentRequest).where(
        DeploymentRequest.instance_id == instance_id)).scalar_one_or_none()


def decisions_of(request: DeploymentRequest) -> list[decision_tables.DefinedDecision]:
    """For a decision table's request: the decisions it defines, the tables in force defining them now and the
    processes calling them (what approving it replaces); none for a diagram's."""
    if request.kind != DeploymentKind.POLICY:
        return []
    return decision_tables.decisions_of(request.content.encode(), request.subject)


def list_requests(limit: int = 50) -> list[DeploymentRequest]:
    """The newest deployment requests, those still waiting first."""
    query = select(DeploymentRequest).order_by(
        (DeploymentRequest.status != DeploymentStatus.PENDING), DeploymentRequest.requested_at.desc(),
        DeploymentRequest.id.desc()).limit(limit)
    return list(db.session.execute(query).scalars())


def review_task_id(request: DeploymentRequest) -> int | None:
    """The approval process's review task while it waits."""
    if request.instance_id is None:
        return None
    return next((t.id for t in tasks_of(request.instance_id) if t.state == TaskState.READY), None)


def withdraw(request_id: int, user: User, actor: Actor) -> DeploymentRequest:
    """The requester takes back a request still waiting."""
    request = get_request(request_id)
    if request.requested_by_id != user.id:
        raise PermissionDenied("only the seal administrator who asked withdraws a deployment request")
    if request.status != DeploymentStatus.PENDING or request.instance_id is None:
        raise InvalidTransition(f"the deployment request is {request.status.value}; it cannot be withdrawn")
    follow(cancel(request.instance_id, "withdrawn by the requester", actor))
    record(actor, "deployment.withdrawn", "deployment_request", request.id, subject=request.subject)
    return request


def follow(step: StepResult) -> None:
    """After a step of an approval process: queue its jobs, and bring the request's status along."""
    for job in step.jobs:
        schedule(job)
    refresh_status(step.instance)


def refresh_status(instance: ProcessInstance) -> None:
    """A rejected, withdrawn or failed approval process decides its request (a deployment decides it in
    carry_out, where it happens). Only an approval process has a request: another process run without an application
    (from code) asks nothing."""
    if instance.definition.process_id != APPROVAL_PROCESS:
        return
    request = request_of_instance(instance.id)
    if request is None or request.status != DeploymentStatus.PENDING:
        return
    review = next((t for t in reversed(tasks_of(instance.id)) if t.state == TaskState.COMPLETED), None)
    if instance.status == InstanceStatus.CANCELLED:
        request.status = DeploymentStatus.WITHDRAWN
    elif instance.status == InstanceStatus.FAILED:
        request.status, request.outcome = DeploymentStatus.FAILED, instance.outcome
    elif instance.status == InstanceStatus.COMPLETED and review is not None and review.decision == "reject":
        request.status, request.outcome = DeploymentStatus.REJECTED, review.comment
        request.decided_by_id = review.completed_by_id
        record(Actor.system("workflow"), "deployment.rejected", "deployment_request", request.id,
               subject=request.subject, decided_by_id=review.completed_by_id, comment=review.comment)
    else:
        return
    request.decided_at = request.decided_at or utcnow()


def _approver(request: DeploymentRequest) -> int | None:
    assert request.instance_id is not None
    return next((t.completed_by_id for t in tasks_of(request.instance_id)
                 if t.state == TaskState.COMPLETED and t.decision == "approve"), None)


def _named_request(params: dict[str, Any]) -> DeploymentRequest:
    """The deployment request the operator's parameters name."""
    try:
        request = db.session.get(DeploymentRequest, int(params["deployment_id"]))
    except (KeyError, TypeError, ValueError, OverflowError):
        request = None
    if request is None:
        raise NotFound(f"deployment request {params.get('deployment_id')!r} does not exist")
    return request


def check_deploying_instance(params: dict[str, Any], instance_id: int | None) -> None:
    """The operator `deploy_change` runs only in the request's own approval process (the instance of
    deployment_approval started for it): another diagram with such a service task cannot deploy a request by
    naming it. PermissionDenied otherwise, before anything is written."""
    request = _named_request(params)
    if instance_id is None or request.instance_id != instance_id:
        raise PermissionDenied(f"deployment request {request.id} is deployed only by its own approval process "
                               f"(instance {request.instance_id}), not by process instance {instance_id}")


def carry_out(params: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """The approval process's service task: deploy the approved request (the operator `deploy_change`; its process
    is checked by check_deploying_instance first). Runs once: a request no longer waiting is left as it is. A
    diagram that no longer deploys (a decision table it calls changed since) fails the request with every problem,
    and deploys nothing."""
    request = _named_request(params)
    if request.status != DeploymentStatus.PENDING:
        return {"deployed": request.status == DeploymentStatus.DEPLOYED}
    approver = _approver(request)
    if approver is None or approver == request.requested_by_id:  # the engine keeps this from happening
        raise PermissionDenied(f"deployment request {request.id} has no approval by a second seal administrator")
    request.decided_by_id, request.decided_at = approver, utcnow()
    try:
        version = _deploy(request, approver, actor)
    except InvalidDefinition as exc:
        db.session.rollback()  # a caller's redeployment may have been written before another refused
        request = get_request(request.id)
        request.decided_by_id, request.decided_at = approver, utcnow()
        request.status, request.outcome = DeploymentStatus.FAILED, "; ".join(str(p) for p in exc.problems)
        record(actor, "deployment.failed", "deployment_request", request.id, subject=request.subject,
               reason=request.outcome)
        return {"deployed": False}
    request.status, request.deployed_version = DeploymentStatus.DEPLOYED, version
    record(actor, "deployment.deployed", "deployment_request", request.id, subject=request.subject,
           version=version, requested_by_id=request.requested_by_id, approved_by_id=approver)
    return {"deployed": True, "version": version}


def _deploy(request: DeploymentRequest, approver: int, actor: Actor) -> int:
    """Deploy what the request holds (vetted again first: nothing is written for a refused one); the version."""
    content, asked = request.content.encode(), request.requested_by_id
    if request.kind == DeploymentKind.PROCESS:
        definition, _ = flows.deploy_diagram(content, request.source_name, actor, comment=request.comment,
                                             deployed_by_id=asked, approved_by_id=approver)
        return definition.version
    table, _ = decision_tables.deploy_table(content, request.subject, actor, comment=request.comment,
                                            deployed_by_id=asked, approved_by_id=approver)
    for caller in decision_tables.used_by(table.decision_id):  # they take the new table in a version of their own
        flows.deploy_diagram(caller.bpmn_xml.encode(), caller.source_name, actor,
                             comment=f"{request.subject} version {table.version}: {request.comment}",
                             deployed_by_id=asked, approved_by_id=approver)
    return table.version

