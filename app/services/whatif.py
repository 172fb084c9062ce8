"""What-if and back-testing, for seal administrators: the path an application would take through a process version
under the deployed or a draft seal policy, and which past applications a draft policy would have routed
differently. Nothing here writes: no application, process, task, job or audit event is created."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from app.errors import DomainError, InvalidInput
from app.extensions import db
from app.models import Department, RoleName, Seal, SealApplication, Substitution, User
from app.models.timestamps import utcnow
from app.services import accounts, applications, authorizations, flows, policy, seals, substitutes
from app.workflow import (
    Assignment,
    InvalidDefinition,
    PathStep,
    ServiceAnswer,
    check_decision,
    operations_of,
    simulate_path,
)

# A draft of the seal policy is judged with the deployed tables around it; it replaces the policy's own file.
MAX_DRAFT_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class WhatIfSpec:
    """What the seal administrator supposes: a seal, a document, a requester (in their own department, or in the one
    given), and the decision to take at some user steps (step number, decision) instead of approve."""

    seal_id: int
    document_type: str
    amount: Decimal | None
    requester_id: int
    department_id: int | None = None
    countersigner_ids: tuple[int, ...] = ()
    decisions: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class Person:
    """Someone a step would be offered to, and who stands in for them now."""

    user: User
    substitutions: tuple[Substitution, ...] = ()


@dataclass(frozen=True)
class SimulatedStep:
    """One step of the path: what the process does (the workflow's step), who would be asked, and what to watch."""

    number: int  # the user step's number (for choosing its decision); 0 for other steps
    step: PathStep
    people: tuple[Person, ...] = ()  # the assignee, or the candidate users
    roles: tuple[RoleName, ...] = ()  # candidate roles
    role_holders: tuple[User, ...] = ()  # who holds them and could take the task (never the requester)
    note: str = ""  # why the task goes where it goes, when that needs saying
    warning: str = ""  # what would keep it from being decided


@dataclass(frozen=True)
class WhatIf:
    """The whole answer: what the filing would say, the levels the policy requires and the path."""

    requester: User
    department: Department | None
    seal: Seal
    levels: list[dict[str, Any]]
    notes: list[str]
    steps: list[SimulatedStep] = field(default_factory=list)
    refusal: str = ""  # the filing would be refused (by the policy): no path
    draft: bool = False


def policy_files(draft: bytes | None) -> dict[str, bytes]:
    """The policy tables to judge by: seal_policies/, with the draft of the seal policy in place of its own file
    (checked first: InvalidDefinition names what is wrong with it)."""
    files = flows.policies()
    if draft is None:
        return files
    if len(draft) > MAX_DRAFT_BYTES:
        raise InvalidInput(f"the draft policy is larger than {MAX_DRAFT_BYTES // 1024} KiB")
    files[policy.POLICY_FILE] = draft
    check_decision(policy.DECISION, files)
    return files


def _check(spec: WhatIfSpec) -> tuple[User, Seal, Department | None]:
    if spec.document_type not in applications.DOCUMENT_TYPES:
        raise InvalidInput(f"unknown document type {spec.document_type!r}")
    if spec.amount is not None and not (Decimal(0) <= spec.amount < Decimal(10) ** 14):
        raise InvalidInput("the amount must be a positive number below 10^14")
    requester = accounts.active_user(spec.requester_id)
    seal = seals.get_seal(spec.seal_id)
    department = accounts.get_department(spec.department_id) if spec.department_id else requester.department
    return requester, seal, department


def _notes(requester: User, seal: Seal, department: Department | None, process_id: str) -> list[str]:
    """What a real filing would meet that the what-if passes over (it shows the path all the same)."""
    notes = []
    if department is not None and department.id != requester.department_id:
        own = requester.department.name if requester.department else "no department"
        notes.append(f"{requester.display_name} belongs to {own}; the path is shown as if they filed from "
                     f"{department.name} (the policy's department and the department head are {department.name}'s)")
    if not requester.has_role(RoleName.EMPLOYEE):
        notes.append(f"{requester.display_name} is not an employee: a real filing would be refused")
    try:
        seals.requestable_seal(seal.id, requester)
    except DomainError as exc:
        notes.append(f"a real filing would be refused: {exc.message}")
    if seal.owner_user_id is not None and applications.LEADER_SIGNATURE not in operations_of(process_id):
        notes.append(f"“{seal.name}” is a person's signature: a real filing needs a process in which its owner "
                     "authorizes it (Leader signature)")
    return notes


def _answer(requester: User, seal: Seal, spec: WhatIfSpec, process_id: str) -> ServiceAnswer:
    """What each operator would give back, without running it: the leader's authorization that covers such an
    application now (if any); for the others, nothing the process reads."""

    def answer(operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if operation == "find_signature_authorization":
            # Never added to the session: a stand-in for the application the scope is checked against.
            supposed = SealApplication(requester=requester, seal=seal, document_type=spec.document_type,
                                       amount=spec.amount, process_id=process_id)
            found = authorizations.covering(supposed)
            return {"authorization_id": found.id if found else None}
        return {"simulated": True}

    return answer


def _people(assignment: Assignment, requester: User) -> tuple[tuple[Person, ...], tuple[User, ...]]:
    """The people a task names, with their substitutes now, and the holders of the roles it names (never the
    requester, who is not offered another's step of their own application; never an auditor)."""
    ids = [assignment.assignee_id] if assignment.assignee_id is not None else list(assignment.candidate_user_ids)
    users = [accounts.active_user(user_id) for user_id in ids]
    standing_in = substitutes.substitutes_of(ids, utcnow())
    people = tuple(Person(u, tuple(standing_in.get(u.id, ()))) for u in users)
    holders = {u.id: u for role in assignment.candidate_roles for u in accounts.holders_of(role)
               if u.id != requester.id and not u.has_role(RoleName.AUDITOR)}
    return people, tuple(sorted(holders.values(), key=lambda u: (u.display_name, u.id)))


def _warning(step: PathStep, people: tuple[Person, ...], holders: tuple[User, ...], requester: User) -> str:
    if step.requester_only:
        return ""
    assignment = step.assignment
    if assignment is not None and assignment.assignee_id == requester.id:
        return ("this step goes to the requester alone, who never decides a step of their own application: "
                "it would wait for ever")
    if not [p for p in people if p.user.id != requester.id] and not holders:
        return "nobody but the requester could decide this step: it would wait for ever"
    return ""


def _simulated(steps: list[PathStep], requester: User) -> list[SimulatedStep]:
    out, number = [], 0
    for step in steps:
        if step.kind != "user_task" or step.assignment is None:
            out.append(SimulatedStep(0, step))
            continue
        number += 1
        people, holders = _people(step.assignment, requester)
        out.append(SimulatedStep(number, step, people, step.assignment.candidate_roles, holders,
                                 step.assignment.note or "", _warning(step, people, holders, requester)))
    return out


def _process_data(spec: WhatIfSpec, requester: User, seal: Seal, levels: list[dict[str, Any]]) -> dict[str, Any]:
    flow_data: dict[str, Any] = {}
    if spec.countersigner_ids:
        flow_data["countersigners"] = [accounts.active_user(u).id for u in dict.fromkeys(spec.countersigner_ids)]
    if seal.owner_user_id is not None:
        flow_data["leader_id"] = seal.owner_user_id
    return applications.process_data(None, requester, seal, spec.document_type, spec.amount, levels, flow_data)


def simulate(process_id: str, version: int, spec: WhatIfSpec, policy_files: Mapping[str, bytes] | None) -> WhatIf:
    """The path an application with these data would take through that version of the process, under the
    deployed seal policy (policy_files None) or the given tables, with the people each step would be offered to and
    why. Nothing is created."""
    definition = flows.get_version(process_id, version)
    requester, seal, department = _check(spec)
    notes = _notes(requester, seal, department, process_id)
    draft = policy_files is not None
    try:
        levels, _ = policy.required_approvals([seal], spec.document_type, spec.amount, requester,
                                              policy_files, department)
    except DomainError as exc:
        if isinstance(exc, InvalidDefinition):  # the tables themselves are refused: bad input, not a result
            raise
        return WhatIf(requester, department, seal, [], notes, refusal=exc.message, draft=draft)
    with db.session.no_autoflush:  # nothing pending elsewhere in the session is written by the lookups
        steps = simulate_path(definition, _process_data(spec, requester, seal, levels),
                               _answer(requester, seal, spec, process_id), dict(spec.decisions),
                               department.id if department is not None else None)
        simulated = _simulated(steps, requester)
    return WhatIf(requester, department, seal, levels, notes, simulated, draft=draft)
