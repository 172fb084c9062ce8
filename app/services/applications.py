"""Seal applications: filing one, reading them, and keeping their status in step with the process."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.errors import InvalidInput, NotFound, PermissionDenied
from app.extensions import db
from app.jobs.queue import schedule
from app.models import (
    ApplicationStatus,
    DocumentKind,
    HumanTask,
    InstanceStatus,
    Job,
    JobStatus,
    ProcessInstance,
    RoleName,
    SealApplication,
    User,
)
from app.services import documents, sealing, seals
from app.services.audit import Actor, record
from app.workflow import StepResult, start, tasks_of

PROCESS_ID = "seal_application"
DOCUMENT_TYPES = ("contract", "agreement", "certificate", "letter", "report", "other")


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


@dataclass(frozen=True)
class Submitted:
    """A filed application, and what had to be repaired in its PDF (empty when the file was sound)."""

    application: SealApplication
    repairs: tuple[str, ...]


def submit(spec: ApplicationSpec, requester: User, actor: Actor) -> Submitted:
    """File an application and start its approval process."""
    if not requester.has_role(RoleName.EMPLOYEE):
        raise PermissionDenied("only employees file seal applications")
    if spec.document_type not in DOCUMENT_TYPES:
        raise InvalidInput(f"unknown document type {spec.document_type!r}")
    if not spec.reason.strip():
        raise InvalidInput("say why the seal is needed")
    seal = seals.usable_seal(spec.seal_id)
    info = documents.check_pdf(spec.content)
    keyword = spec.seal_keyword.strip() or None
    sealing.check_placement(spec.content, spec.seal_page, keyword, info.page_count)
    application = SealApplication(requester=requester, seal=seal, document_type=spec.document_type,
                                  reason=spec.reason.strip(), seal_page=spec.seal_page, seal_keyword=keyword,
                                  riding_seal=spec.riding_seal, watermark=spec.watermark)
    db.session.add(application)
    db.session.flush()
    document = documents.add_document(application.id, DocumentKind.ORIGINAL, spec.filename, spec.content,
                                      info.page_count)
    record(actor, "application.submitted", "seal_application", application.id, seal_id=seal.id,
           document_type=spec.document_type, filename=spec.filename, sha256=document.sha256,
           pages=info.page_count, repaired=list(info.repairs), seal_page=spec.seal_page, seal_keyword=keyword,
           riding_seal=spec.riding_seal, watermark=spec.watermark)
    data = {"application_id": application.id, "requester_id": requester.id, "document_type": spec.document_type}
    step = start(PROCESS_ID, data, application.id, actor)
    follow(step, actor)
    return Submitted(application, info.repairs)


def follow(step: StepResult, actor: Actor) -> None:
    """After a process step: queue its jobs (after commit) and bring the application's status along."""
    for job in step.jobs:
        schedule(job)
    if step.instance.application_id is not None:
        refresh_status(step.instance.application_id, actor)


def _status_from_process(application: SealApplication, instance: ProcessInstance) -> ApplicationStatus:
    if instance.status == InstanceStatus.FAILED:
        return ApplicationStatus.FAILED
    running = db.session.execute(
        select(Job.id).where(Job.instance_id == instance.id, Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]))
    ).first()
    if running:
        return ApplicationStatus.SEALING
    if instance.status == InstanceStatus.COMPLETED:
        sealed = application.document(DocumentKind.SEALED) is not None
        return ApplicationStatus.SEALED if sealed else ApplicationStatus.REJECTED
    return ApplicationStatus.PENDING


def refresh_status(application_id: int, actor: Actor, reason: str | None = None) -> SealApplication:
    """Derive the application's status from its process; record the change if there is one."""
    application = get_application(application_id)
    instance = process_of(application)
    target = _status_from_process(application, instance)
    if target != application.status:
        application.move_to(target)
        application.failure_reason = reason if target == ApplicationStatus.FAILED else None
        record(actor, f"application.{target.value}", "seal_application", application.id, reason=reason)
    return application


def approval_steps(application: SealApplication) -> list[HumanTask]:
    """The inbox tasks the application's process opened, oldest first."""
    return tasks_of(process_of(application).id)


def get_application(application_id: int) -> SealApplication:
    """An application by id."""
    application = db.session.get(SealApplication, application_id)
    if application is None:
        raise NotFound(f"application {application_id} does not exist")
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
    """The requester, anyone who has or had a task on it, seal administrators and auditors."""
    if application.requester_id == user.id or user.role_names & {RoleName.SEAL_ADMIN, RoleName.AUDITOR}:
        return True
    tasks = approval_steps(application)
    return any(t.assignee_id == user.id or t.completed_by_id == user.id or t.candidate_role in user.role_names
               for t in tasks)


def viewable_application(application_id: int, user: User) -> SealApplication:
    """An application the user may see; PermissionDenied otherwise."""
    application = get_application(application_id)
    if not can_view(user, application):
        raise PermissionDenied("you may not see this application")
    return application


def applications_of(user: User) -> list[SealApplication]:
    """The user's own applications, newest first."""
    query = (select(SealApplication).where(SealApplication.requester_id == user.id)
             .order_by(SealApplication.id.desc()))
    return list(db.session.execute(query).scalars())
