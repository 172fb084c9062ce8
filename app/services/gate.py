"""The sealing gate: before any seal or signature is applied, the application's recorded decisions must satisfy
what the seal policy required when it was filed, whatever diagram ran.

Each required level needs an approval, in the current round (since the last resubmission), made by a person who
met the level's approver rule at decision time, on the very document being sealed; the people of different
levels are all different, and none is the requester. Anything else seals nothing (SealingRefused).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from app.errors import PolicyViolation
from app.extensions import db
from app.models import (
    ApplicationStatus,
    Document,
    DocumentKind,
    HumanTask,
    ProcessInstance,
    SealApplication,
    TaskState,
    current_round,
)
from app.models.audit import Actor
from app.services import accounts, authorizations
from app.workflow import tasks_of

SYSTEM = Actor.system("sealing gate")


class SealingRefused(PolicyViolation):
    """The gate found the approvals incomplete or improper; nothing was sealed. `reasons` says each problem."""

    def __init__(self, application_id: int, reasons: list[str]) -> None:
        super().__init__(f"the seal was not applied: {'; '.join(reasons)}")
        self.application_id = application_id
        self.reasons = reasons


@dataclass(frozen=True)
class Approval:
    """One required level and the decision that satisfied it: the evidence a sealed document carries."""

    level: int
    approver: str
    label: str
    decided_by: str
    on_behalf_of: str | None
    decided_at: datetime
    document_sha256: str


@dataclass(frozen=True)
class LevelState:
    """A required level as the application page shows it: the policy's requirement and the newest step of the
    current round that decides it (waiting or decided), if any."""

    level: int
    approver: str
    label: str
    task: HumanTask | None


def _round_of(application: SealApplication) -> list[HumanTask]:
    instance_id = db.session.execute(select(ProcessInstance.id).where(
        ProcessInstance.application_id == application.id)).scalar()
    return [] if instance_id is None else current_round(tasks_of(instance_id))


def level_states(application: SealApplication) -> list[LevelState]:
    """Each level the policy requires, with where it stands."""
    tasks = _round_of(application)
    states = []
    for requirement in application.required_approvals:
        level = int(requirement.get("level", 0))
        deciding = max((t for t in tasks if t.level == level), key=lambda t: t.id, default=None)
        states.append(LevelState(level, str(requirement.get("approver")), str(requirement.get("label") or ""),
                                 deciding))
    return states


def _latest_approval(level: int, tasks: list[HumanTask]) -> HumanTask | None:
    approved = [t for t in tasks if t.level == level and t.state == TaskState.COMPLETED and t.decision == "approve"]
    return max(approved, key=lambda t: t.id, default=None)


def _level_problems(requirement: dict[str, object], task: HumanTask | None, application: SealApplication,
                    sha256: str, seen: set[int]) -> list[str]:
    level, label = requirement.get("level"), requirement.get("label")
    if task is None:
        return [f"level {level} ({label}) has not been approved"]
    problems = []
    people = task.deciders
    if application.requester_id in people:
        problems.append(f"level {level} ({label}) was approved by the requester")
    if people & seen:
        problems.append(f"level {level} ({label}) was approved by someone who approved another level")
    if task.decided_as != requirement.get("approver"):
        problems.append(f"level {level} ({label}) was approved by someone who was not {requirement.get('approver')} "
                        "at the time")
    if task.document_sha256 != sha256:
        problems.append(f"level {level} ({label}) was approved on another version of the document")
    seen |= people
    return problems


def _consent_problem(signer_id: int, tasks: list[HumanTask], sha256: str) -> str | None:
    """A personal signature (a party's, a leader's) needs its signer's own word: the newest step of the current
    round that is theirs to sign (assigned to them, deciding no policy level) approved by them in person, not by a
    substitute, on this document. A policy level they approved is not consent to their signature."""
    steps = [t for t in tasks if t.assignee_id == signer_id and t.level is None and t.state == TaskState.COMPLETED]
    newest = max(steps, key=lambda t: t.id, default=None)
    if newest is None or newest.decision != "approve":
        return "the signer has not agreed to sign"
    if newest.completed_by_id != signer_id or newest.on_behalf_of_id is not None:
        return "the signer's agreement was given by someone else on their behalf"
    if newest.document_sha256 != sha256:
        return "the signer agreed to sign another version of the document"
    return None


def _consent_problems(application: SealApplication, tasks: list[HumanTask], sha256: str, signer_id: int | None,
                      authorization_id: int | None, actor: Actor | None, refused: bool) -> list[str]:
    """Every personal signature applied needs its signer's word: the owner of the application's seal (a leader's
    signature, whatever operator applies it), and the signer the operator names (a party). The owner's word may be
    a signature authorization of theirs instead, whose use is taken only when nothing else refused the seal."""
    owner = application.seal.owner_user_id
    problems = []
    for signer in sorted({s for s in (owner, signer_id) if s is not None}):
        if signer == owner and authorization_id is not None:
            if not refused and not authorizations.take_use(authorization_id, application, actor or SYSTEM):
                problems.append("the signature authorization no longer covers this application (revoked, used up "
                                "or expired)")
        elif (problem := _consent_problem(signer, tasks, sha256)) is not None:
            problems.append(problem)
    return problems


def check(application: SealApplication, original: Document, content: bytes, signer_id: int | None = None,
          authorization_id: int | None = None, actor: Actor | None = None) -> list[Approval]:
    """The approvals that allow sealing `content` (the original document's bytes, as read for sealing), one per
    required level; with signer_id, also that person's own agreement to put their signature on it, which a
    signature authorization of theirs that covers the application may give instead (authorization_id: one use of
    it is taken here, once per application). SealingRefused, with every reason, when they do not."""
    if original.kind != DocumentKind.ORIGINAL or original.application_id != application.id:
        raise SealingRefused(application.id, ["the document to seal is not this application's"])
    sha256 = hashlib.sha256(content).hexdigest()
    if sha256 != original.sha256:
        raise SealingRefused(application.id, ["the stored document does not match its recorded fingerprint"])
    if not application.required_approvals:
        raise SealingRefused(application.id, ["the application records no required approvals (it was filed before "
                                              "the seal policy was enforced: file it again)"])
    if application.status not in (ApplicationStatus.PENDING, ApplicationStatus.SEALING):
        raise SealingRefused(application.id, [f"the application is {application.status.value}"])
    tasks = _round_of(application)
    seen: set[int] = set()
    reasons: list[str] = []
    chosen: list[tuple[dict[str, object], HumanTask]] = []
    for requirement in application.required_approvals:
        task = _latest_approval(int(requirement.get("level", 0)), tasks)
        reasons += _level_problems(requirement, task, application, sha256, seen)
        if task is not None:
            chosen.append((requirement, task))
    reasons += _consent_problems(application, tasks, sha256, signer_id, authorization_id, actor, bool(reasons))
    if reasons:
        raise SealingRefused(application.id, reasons)
    names = accounts.user_names({u for _, t in chosen for u in t.deciders})
    return [Approval(int(str(r["level"])), str(r["approver"]), str(r.get("label") or ""),
                     names.get(t.completed_by_id or 0, "?"),
                     names.get(t.on_behalf_of_id) if t.on_behalf_of_id else None,
                     t.completed_at or t.created_at, sha256) for r, t in chosen]
