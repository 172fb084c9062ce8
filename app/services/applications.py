"""Seal applications: filing one, reading them, and keeping their status in step with the process."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from app.errors import InvalidInput, InvalidTransition, NotFound, PermissionDenied
from app.extensions import db
from app.models import (
    ApplicationStatus,
    DocumentKind,
    HumanTask,
    InstanceStatus,
    Job,
    JobStatus,
    ProcessInstance,
    RoleName,
    Seal,
    SealApplication,
    TaskState,
    User,
)
from app.models.audit import Actor, record
from app.models.lookup import get_or_not_found
from app.services import departments, deployments, documents, filing, policy, sealing, seals
from app.services.queue import schedule
from app.workflow import (
    POLICY_LEVELS,
    StepResult,
    cancel,
    fail_instance,
    operations_of,
    start,
    tasks_of,
)

DOCUMENT_TYPES = ("contract", "agreement", "certificate", "letter", "report", "other")
# While approvals are still being given the requester may withdraw; once sealing has begun, no longer.
WITHDRAWABLE = (ApplicationStatus.PENDING, ApplicationStatus.RETURNED)
# The operator that applies a person's signature once its owner agreed: a process filing one must run it.
LEADER_SIGNATURE = "apply_leader_signature"
# The end event a process finishes at when the requester withdraws.
WITHDRAWN_END = "withdrawn"
# The end event a process finishes at when the application is turned down.
REJECTED_END = "rejected"


@dataclass(frozen=True)
class ApplicationSpec:
    """What an employee files."""

    seal_id: int
    document_type: str
    filename: str
    content: bytes
    reason: str
    seal_page: int = -1
    seal_keyword: str = ""
    riding_seal: bool = False
    watermark: bool = False
    # What the document commits to (contracts, payments); the approval policy reads it.
    amount: Decimal | None = None
    process_id: str = "seal_application"
    # The values of the process's own filing form (its start event's form fields), by field id: text, a list of
    # user ids (users), a list of (user id, seal id) pairs in signing order (parties).
    fields: dict[str, Any] = field(default_factory=dict)
    # The filing form's token: the same token again files nothing new (a double click, a resubmitted page).
    submission_token: str | None = None
    # How the archive and the usage ledger file it: the document's title, the other side, the copies stamped.
    title: str = ""
    counterparty: str = ""
    copies: int = 1


@dataclass(frozen=True)
class Submitted:
    """A filed application, and what had to be repaired in its PDF (empty when the file was sound); `again` when
    the same form had filed it already (nothing new was filed)."""

    application: SealApplication
    repairs: tuple[str, ...]
    again: bool = False


def _filed_already(requester: User, token: str | None) -> SealApplication | None:
    if not token:
        return None
    return db.session.execute(select(SealApplication).where(
        SealApplication.requester_id == requester.id, SealApplication.submission_token == token)).scalar()


# The application's own columns a process's filing field may fill in its stead (_with_process_columns).
PROCESS_COLUMNS = ("title", "counterparty", "copies")


def _checked_values(spec: ApplicationSpec) -> tuple[str, str]:
    """The spec's own values within their bounds; its title and counterparty trimmed."""
    if spec.document_type not in DOCUMENT_TYPES:
        raise InvalidInput(f"unknown document type {spec.document_type!r}")
    if not spec.reason.strip():
        raise InvalidInput("say why the seal is needed")
    if spec.amount is not None and not (Decimal(0) <= spec.amount < Decimal(10) ** 14):
        raise InvalidInput("the amount must be a positive number below 10^14")
    title, counterparty = spec.title.strip(), spec.counterparty.strip()
    if len(title) > 200 or len(counterparty) > 200:
        raise InvalidInput("the title and the counterparty are at most 200 characters each")
    if not 1 <= spec.copies <= 1000:
        raise InvalidInput("the number of copies must be between 1 and 1000")
    return title, counterparty


def _with_process_columns(spec: ApplicationSpec, filed: dict[str, Any]) -> ApplicationSpec:
    """A process whose own form asks for the title, the counterparty or the copies (a field of that id, which the
    filing page then shows instead of its own) fills the application's column with it, when the value fits."""
    columns: dict[str, Any] = {name: filed[name] for name in ("title", "counterparty")
                               if isinstance(filed.get(name), str)}
    copies = filed.get("copies")
    if isinstance(copies, int) and not isinstance(copies, bool):
        columns["copies"] = copies
    return replace(spec, **columns)


def _event_details(own: dict[str, Any], flow_data: dict[str, Any]) -> dict[str, Any]:
    """What application.submitted records: the process's own fields and SealFlow's values, which a field of the same
    id never replaces (a differing value of such a field is kept under process_fields)."""
    clashing = {k: v for k, v in flow_data.items() if k in own and own[k] != v}
    return {**flow_data, **own, **({"process_fields": clashing} if clashing else {})}


def submit(spec: ApplicationSpec, requester: User, actor: Actor) -> Submitted:
    """File an application and start its approval process; the same form sent again files nothing new."""
    if not requester.has_role(RoleName.EMPLOYEE):
        raise PermissionDenied("only employees file seal applications")
    if (earlier := _filed_already(requester, spec.submission_token)) is not None:
        return Submitted(earlier, (), again=True)
    offer = filing.offer(spec.process_id, requester)
    seal = seals.requestable_seal(spec.seal_id, requester)
    if (refusal := filing.seal_refusal(offer.filing, seal)) is not None:
        raise InvalidInput(refusal)
    filed = filing.filed_values(offer.filing, spec.fields, requester)
    spec = _with_process_columns(spec, filed.data)
    title, counterparty = _checked_values(spec)
    flow_data = _flow_data(spec, seal, requester, filed)
    applied = [seal, *filed.party_seals]
    required, policy_hash = policy.required_approvals(applied, spec.document_type, spec.amount, requester)
    info = documents.check_pdf(spec.content)
    keyword = spec.seal_keyword.strip() or None
    sealing.check_placement(spec.content, spec.seal_page, keyword, info.page_count)
    application = SealApplication(requester=requester, seal=seal, document_type=spec.document_type,
                                  title=title, counterparty=counterparty, copies=spec.copies,
                                  reason=spec.reason.strip(), seal_page=spec.seal_page, seal_keyword=keyword,
                                  riding_seal=spec.riding_seal, watermark=spec.watermark, amount=spec.amount,
                                  process_id=spec.process_id, required_approvals=required, policy_hash=policy_hash,
                                  submission_token=spec.submission_token or None)
    db.session.add(application)
    try:
        db.session.flush()  # two sends of one form at once: the unique token keeps one
    except IntegrityError:
        # Nothing else is written yet, so the whole transaction goes (a savepoint would not do: pysqlite commits
        # a released savepoint on its own).
        db.session.rollback()
        earlier = _filed_already(requester, spec.submission_token)
        if earlier is None:
            raise
        return Submitted(earlier, (), again=True)
    document = documents.add_document(application.id, DocumentKind.ORIGINAL, spec.filename, spec.content,
                                      info.page_count, check=info.check)
    own = dict(seal_id=seal.id, document_type=spec.document_type, title=title, counterparty=counterparty,
               copies=spec.copies, filename=spec.filename, sha256=document.sha256, pages=info.page_count,
               repaired=list(info.repairs), seal_page=spec.seal_page, seal_keyword=keyword,
               riding_seal=spec.riding_seal, watermark=spec.watermark,
               amount=None if spec.amount is None else str(spec.amount), process_id=spec.process_id,
               required_approvals=required, policy_hash=policy_hash)
    record(actor, "application.submitted", "seal_application", application.id, **_event_details(own, flow_data))
    data = process_data(application.id, requester, seal, spec.document_type, spec.amount, required, flow_data)
    step = start(spec.process_id, data, application.id, actor)
    follow(step, actor)
    return Submitted(application, info.repairs)


def process_data(application_id: int | None, requester: User, seal: Seal, document_type: str,
                 amount: Decimal | None, required: list[dict[str, Any]], flow_data: dict[str, Any]) -> dict[str, Any]:
    """The data a process starts with when an application is filed: what its conditions and assignments read."""
    return {"application_id": application_id, "requester_id": requester.id, "document_type": document_type,
            "amount": None if amount is None else float(amount), "seal_id": seal.id, "seal_kind": str(seal.kind),
            POLICY_LEVELS: required, **flow_data}


def _flow_data(spec: ApplicationSpec, seal: Seal, requester: User, filed: filing.Filed) -> dict[str, Any]:
    """The process's own fields, and the seal's leader when the seal is a person's. Nobody decides or signs their
    own application, and a person's signature goes only through a process in which its owner authorizes it."""
    operations = operations_of(spec.process_id)
    if seal.owner_user_id == requester.id:
        raise InvalidInput("a leader's signature is authorized by its owner: you cannot file for your own")
    if seal.owner_user_id is not None and LEADER_SIGNATURE not in operations:
        raise InvalidInput(f"“{seal.name}” is a person's signature: file it with a process in which its owner "
                           "authorizes it (Leader signature)")
    if seal.owner_user_id is None and LEADER_SIGNATURE in operations:
        raise InvalidInput(f"the seal “{seal.name}” belongs to no leader; choose a personal or "
                           "legal-representative seal")
    data = dict(filed.data)
    if seal.owner_user_id is not None:
        data["leader_id"] = seal.owner_user_id
    return data


def follow(step: StepResult, actor: Actor, reason: str | None = None) -> None:
    """After a process step: queue its jobs (after commit) and bring the application's status along (with the
    reason, when the step failed it)."""
    for job in step.jobs:
        schedule(job)
    if step.instance.application_id is not None:
        refresh_status(step.instance.application_id, actor, reason, step.instance, sealing=bool(step.jobs))
    else:  # a process of its own: a deployment's approval
        deployments.refresh_status(step.instance)


def fail_process(instance_id: int, reason: str, actor: Actor) -> None:
    """A step of the process could not run (an expression of the diagram failed or went past its limits): it was
    rolled back, and the process fails with the reason, so that nobody waits on a step that cannot be taken and
    the requester sees why. The caller commits."""
    follow(StepResult(fail_instance(instance_id, reason, actor)), actor, reason)


def _status_from_process(application: SealApplication, instance: ProcessInstance,
                          sealing: bool = False) -> ApplicationStatus:
    """sealing: the step just taken queued a job (so one is waiting, without asking the database)."""
    if instance.status == InstanceStatus.FAILED:
        return ApplicationStatus.FAILED
    if instance.status == InstanceStatus.CANCELLED or instance.outcome == WITHDRAWN_END:
        return ApplicationStatus.WITHDRAWN
    running = sealing or db.session.execute(
        select(Job.id).where(Job.instance_id == instance.id, Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]))
    ).first()
    if running:
        return ApplicationStatus.SEALING
    if instance.status == InstanceStatus.COMPLETED:
        # A refusal after some signatures (a later party's) still ends rejected, the earlier versions kept.
        sealed = application.document(DocumentKind.SEALED) is not None and instance.outcome != REJECTED_END
        return ApplicationStatus.SEALED if sealed else ApplicationStatus.REJECTED
    if any(t.state == TaskState.READY and "resubmit" in t.decision_choices for t in tasks_of(instance.id)):
        return ApplicationStatus.RETURNED
    return ApplicationStatus.PENDING


def refresh_status(application_id: int, actor: Actor, reason: str | None = None,
                   instance: ProcessInstance | None = None, sealing: bool = False) -> SealApplication:
    """Derive the application's status from its process (`instance`, when the caller holds it already; `sealing`
    when the caller's step queued a job); record the change if there is one."""
    completed = instance is not None and instance.status == InstanceStatus.COMPLETED
    application = with_documents(application_id) if completed else get_application(application_id)
    instance = instance or process_of(application)
    target = _status_from_process(application, instance, sealing)
    if target != application.status:
        application.move_to(target)
        application.failure_reason = reason if target == ApplicationStatus.FAILED else None
        record(actor, f"application.{target.value}", "seal_application", application.id, reason=reason)
    return application


def with_documents(application_id: int) -> SealApplication:
    """The application with its documents (a finished process's outcome depends on them, a decision names the one it
    was made on): as the session holds them, or read together in one statement (after a commit expired them, say)."""
    held = db.session.identity_map.get(db.session.identity_key(SealApplication, application_id))
    if held is not None and not inspect(held).unloaded & {"status", "documents"}:
        return held
    application = db.session.execute(select(SealApplication).where(SealApplication.id == application_id)
                                     .options(joinedload(SealApplication.documents))).unique().scalar_one_or_none()
    if application is None:
        raise NotFound(f"application {application_id} does not exist")
    return application


def can_withdraw(user: User, application: SealApplication) -> bool:
    """Whether the user may withdraw the application now (withdraw re-checks under the process's lock)."""
    return application.requester_id == user.id and application.status in WITHDRAWABLE


def withdraw(application_id: int, user: User, actor: Actor) -> SealApplication:
    """The requester takes back an application that is still being approved; its process is cancelled."""
    application = viewable_application(application_id, user)
    if application.requester_id != user.id:
        raise PermissionDenied("only the requester can withdraw an application")
    if application.status not in WITHDRAWABLE:
        raise InvalidTransition(f"application {application.id} is {application.status}; it can no longer be "
                                "withdrawn")
    # The engine re-checks under the instance's lock: an approval that has just queued the sealing job wins.
    cancel(process_of(application).id, "withdrawn by the requester", actor)
    db.session.refresh(application)
    return refresh_status(application.id, actor)


def approval_steps(application: SealApplication) -> list[HumanTask]:
    """The inbox tasks the application's process opened, oldest first."""
    return tasks_of(process_of(application).id, with_candidates=True)


def get_application(application_id: int) -> SealApplication:
    """An application by id."""
    application = get_or_not_found(SealApplication, application_id, "application")
    return application


def process_of(application: SealApplication) -> ProcessInstance:
    """The process instance that runs the application."""
    instance = db.session.execute(
        select(ProcessInstance).where(ProcessInstance.application_id == application.id)
    ).scalar_one_or_none()
    if instance is None:
        raise NotFound(f"application {application.id} has no process")
    return instance


def can_view(user: User, application: SealApplication) -> bool:
    """The requester, anyone who has or had a task on it, seal administrators and auditors, and the head of the
    requester's department or of one above it (who finds it in the archive)."""
    if application.requester_id == user.id or user.role_names & {RoleName.SEAL_ADMIN, RoleName.AUDITOR}:
        return True
    if departments.heads_over(user, application.requester.department):
        return True
    tasks = approval_steps(application)
    return any(t.offered_to(user.id, user.role_names) or user.id in (t.completed_by_id, t.on_behalf_of_id)
               for t in tasks)


def viewable_application(application_id: int, user: User) -> SealApplication:
    """An application the user may see. To anyone else it does not exist: the same NotFound as an unknown id, so
    that nobody learns which ids exist."""
    application = get_application(application_id)
    if not can_view(user, application):
        raise NotFound(f"application {application_id} does not exist")
    return application


def applications_of(user: User) -> list[SealApplication]:
    """The user's own applications, newest first."""
    query = (select(SealApplication).where(SealApplication.requester_id == user.id)
             .order_by(SealApplication.id.desc()))
    return list(db.session.execute(query).scalars())
