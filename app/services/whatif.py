"""What-if and back-testing, for seal administrators: the path an application would take through a process version
under the deployed or a draft seal policy, and which past applications a draft policy would have routed
differently. Nothing here writes: no application, process, task, job or audit event is created."""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.errors import DomainError, InvalidInput, PolicyViolation
from app.extensions import db
from app.models import AuditEvent, Department, ProcessDefinition, RoleName, Seal, SealApplication, Substitution, User
from app.models.timestamps import utcnow
from app.services import (
    accounts,
    applications,
    authorizations,
    decision_tables,
    flows,
    policy,
    seals,
    substitutes,
)
from app.workflow import (
    Assignment,
    InvalidDefinition,
    PathStep,
    ServiceAnswer,
    WorkflowFailed,
    check_decision,
    filing_of_version,
    operations_of,
    simulate_path,
    supposed_values,
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
    warning: str = ""  # what would keep it from being decided: requester_alone, nobody


@dataclass(frozen=True)
class WhatIf:
    """The whole answer: what the filing would say, the levels the policy requires and the path."""

    process: ProcessDefinition
    requester: User
    department: Department | None
    seal: Seal
    levels: list[dict[str, Any]]
    notes: list[tuple[str, str]]
    steps: list[SimulatedStep] = field(default_factory=list)
    refusal: str = ""  # the filing would be refused (by the policy): no path
    draft: bool = False


def _tables(policy_files: Mapping[str, bytes] | None) -> dict[str, bytes] | None:
    """The policy tables to judge by: None for those in force; else those with the given files in place of theirs (a
    draft of the seal policy under its own file name), checked as a deployment would check them first:
    InvalidDefinition names what is wrong with them."""
    if policy_files is None:
        return None
    if sum(len(content) for content in policy_files.values()) > MAX_DRAFT_BYTES:
        raise InvalidInput(f"the draft policy is larger than {MAX_DRAFT_BYTES // 1024} KiB")
    problems = [p for name, content in policy_files.items() for p in decision_tables.validate_table(content, name)]
    if problems:
        raise InvalidDefinition(problems)
    files = {**flows.policies(), **policy_files}
    check_decision(policy.DECISION, files)  # the draft still defines the decision filing asks
    return files


def draft_of(content: bytes, name: str = policy.POLICY_FILE) -> dict[str, bytes]:
    """A draft decision table (by default the seal policy's), as the policy files it replaces (its own file)."""
    return {name: content}


def _check(spec: WhatIfSpec) -> tuple[User, Seal, Department | None]:
    if spec.document_type not in applications.DOCUMENT_TYPES:
        raise InvalidInput(f"unknown document type {spec.document_type!r}")
    if spec.amount is not None and not (Decimal(0) <= spec.amount < Decimal(10) ** 14):
        raise InvalidInput("the amount must be a positive number below 10^14")
    requester = accounts.active_user(spec.requester_id)
    seal = seals.get_seal(spec.seal_id)
    department = accounts.get_department(spec.department_id) if spec.department_id else requester.department
    return requester, seal, department


def _notes(requester: User, seal: Seal, department: Department | None, process_id: str) -> list[tuple[str, str]]:
    """What a real filing would meet that the what-if passes over (it shows the path all the same): (code, detail)
    pairs the page words: department_supposed, not_employee, seal_refused (the reason), person_signature."""
    notes = []
    if department is not None and department.id != requester.department_id:
        notes.append(("department_supposed", ""))
    if not requester.has_role(RoleName.EMPLOYEE):
        notes.append(("not_employee", ""))
    try:
        seals.requestable_seal(seal.id, requester)
    except DomainError as exc:
        notes.append(("seal_refused", exc.message))
    if seal.owner_user_id is not None and applications.LEADER_SIGNATURE not in operations_of(process_id):
        notes.append(("person_signature", ""))
    return notes


def _answer(requester: User, seal: Seal, spec: WhatIfSpec, process_id: str) -> ServiceAnswer:
    """What each operator would give back, without running it: the leader's authorization that covers such an
    application now (if any); for the others, nothing the process reads."""

    def answer(operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if operation == "find_signature_authorization":
            # Never added to the session: a stand-in for the application the scope is checked against.
            supposed = SealApplication(requester=requester, requester_id=requester.id, seal=seal, seal_id=seal.id,
                                       document_type=spec.document_type, amount=spec.amount, process_id=process_id)
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
    """What would keep a step from ever being decided: it goes to the requester alone (requester_alone), or nobody
    else could take it (nobody)."""
    if step.requester_only:
        return ""
    if step.assignment is not None and step.assignment.assignee_id == requester.id:
        return "requester_alone"
    if not [p for p in people if p.user.id != requester.id] and not holders:
        return "nobody"
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


def _process_data(spec: WhatIfSpec, definition: ProcessDefinition, requester: User, seal: Seal,
                  levels: list[dict[str, Any]]) -> dict[str, Any]:
    """The data a filing would give the process: the version's own form fields as their defaults (or empty), the
    countersigners supposed, the seal's owner."""
    flow_data: dict[str, Any] = dict(supposed_values(filing_of_version(definition)))
    if spec.countersigner_ids:
        flow_data["countersigners"] = [accounts.active_user(u).id for u in dict.fromkeys(spec.countersigner_ids)]
    if seal.owner_user_id is not None:
        flow_data["leader_id"] = seal.owner_user_id
    return applications.process_data(None, requester, seal, spec.document_type, spec.amount, levels, flow_data)


def simulate(process_id: str, version: int, spec: WhatIfSpec, policy_files: Mapping[str, bytes] | None) -> WhatIf:
    """The path an application with these data would take through that version of the process, under the
    deployed seal policy (policy_files None) or a draft (draft_of(content)), with the people each step would be
    offered to and why. Nothing is created."""
    definition = flows.get_version(process_id, version)
    requester, seal, department = _check(spec)
    files = _tables(policy_files)
    notes = _notes(requester, seal, department, process_id)
    draft = files is not None
    try:
        levels, _ = policy.required_approvals([seal], spec.document_type, spec.amount, requester, files, department)
    except DomainError as exc:
        if isinstance(exc, InvalidDefinition):  # the tables themselves are refused: bad input, not a result
            raise
        return WhatIf(definition, requester, department, seal, [], notes, refusal=exc.message, draft=draft)
    with db.session.no_autoflush:  # nothing pending elsewhere in the session is written by the lookups
        steps = simulate_path(definition, _process_data(spec, definition, requester, seal, levels),
                               _answer(requester, seal, spec, process_id), dict(spec.decisions),
                               department.id if department is not None else None)
        simulated = _simulated(steps, requester)
    return WhatIf(definition, requester, department, seal, levels, notes, simulated, draft=draft)


# Back-testing: how far back, and how many applications at most, one run may judge.
MAX_MONTHS = 36
MAX_APPLICATIONS = 10_000


@dataclass(frozen=True)
class BacktestRow:
    """A past application the draft would have routed differently: the levels it was filed with and the draft's
    (None with the reason when the draft would have refused the filing)."""

    application: SealApplication
    before: list[dict[str, Any]]
    after: list[dict[str, Any]] | None
    refusal: str = ""


@dataclass(frozen=True)
class BacktestReport:
    """The applications filed from `since` to `until` judged by a draft policy, and those it would change."""

    months: int
    since: datetime
    until: datetime
    total: int
    changed: list[BacktestRow]

    @property
    def refused(self) -> int:
        return sum(1 for row in self.changed if row.after is None)

    @property
    def rerouted(self) -> int:
        return len(self.changed) - self.refused

    @property
    def unchanged(self) -> int:
        return self.total - len(self.changed)


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier (the month's last day when it is shorter)."""
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    return moment.replace(year=year, month=month + 1,
                          day=min(moment.day, calendar.monthrange(year, month + 1)[1]))


def _party_seals(since: datetime) -> dict[int, list[int]]:
    """The parties' seals of the applications filed since then (kept in the filing's audit event), by application."""
    query = select(AuditEvent.object_id, AuditEvent.details).where(
        AuditEvent.action == "application.submitted", AuditEvent.object_type == "seal_application",
        AuditEvent.at >= since - timedelta(days=1))
    return {int(object_id): [int(p["seal_id"]) for p in details.get("parties", [])]
            for object_id, details in db.session.execute(query) if details.get("parties")}


def _judge(files: Mapping[str, bytes], seals_of: Callable[[SealApplication], list[Seal]]
           ) -> Callable[[SealApplication], tuple[list[dict[str, Any]] | None, str]]:
    """The draft's levels for an application, or None and why it would refuse it; the same inputs are judged once."""
    judged: dict[tuple[Any, ...], tuple[list[dict[str, Any]] | None, str]] = {}

    def judge(application: SealApplication) -> tuple[list[dict[str, Any]] | None, str]:
        applied = seals_of(application)
        requester = application.requester
        key = (tuple(s.id for s in applied), application.document_type, application.amount,
               requester.department_id, requester.username)
        if key not in judged:
            try:
                judged[key] = (policy.required_approvals(applied, application.document_type, application.amount,
                                                         requester, files)[0], "")
            except (PolicyViolation, WorkflowFailed) as exc:
                judged[key] = (None, exc.message)
        return judged[key]

    return judge


def _approvers(levels: list[dict[str, Any]]) -> list[str]:
    return [str(level.get("approver")) for level in levels]


def backtest(draft_files: Mapping[str, bytes], months: int, now: datetime) -> BacktestReport:
    """Judge every application filed in the `months` before `now` (naive UTC) by the draft policy (draft_of(content))
    and list those whose approvers would differ, with what they were filed with; the requester's department is
    taken as it is now. Nothing is changed."""
    if not 1 <= months <= MAX_MONTHS:
        raise InvalidInput(f"choose from 1 to {MAX_MONTHS} months")
    files = _tables(draft_files) or {}
    since = months_before(now, months)
    window = (SealApplication.created_at >= since, SealApplication.created_at <= now)
    total = db.session.execute(select(func.count()).select_from(SealApplication).where(*window)).scalar_one()
    if total > MAX_APPLICATIONS:
        raise InvalidInput(f"{total} applications were filed in the past {months} months; a back-test judges at "
                           f"most {MAX_APPLICATIONS}: choose fewer months")
    parties = _party_seals(since)
    by_id = {s.id: s for s in seals.list_seals()}
    judge = _judge(files, lambda a: [a.seal, *(by_id[s] for s in parties.get(a.id, ()) if s in by_id)])
    query = (select(SealApplication).where(*window).order_by(SealApplication.created_at, SealApplication.id)
             .options(selectinload(SealApplication.requester).selectinload(User.department)))
    changed = []
    for application in db.session.execute(query).scalars():
        after, refusal = judge(application)
        if after is None or _approvers(after) != _approvers(application.required_approvals):
            changed.append(BacktestRow(application, application.required_approvals, after, refusal))
    return BacktestReport(months, since, now, total, changed)
