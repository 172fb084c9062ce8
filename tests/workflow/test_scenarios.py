"""Approval scenarios, one BPMN diagram each (tests/data/scenarios/), driven through SealFlow's services and engine.

routing by policy · return and resubmit · withdrawal · countersign with a rejection · sequential parties ·
substitute · a version deployed while instances run · a diagram drawn in Camunda Modeler.

Each test checks the outcome, whose inbox holds which task after every step (everyone's inbox, so a task that
reaches the wrong person fails too), and the process history from app.workflow.history, step by step.
Most diagrams declare a shipped process id (seal_application, countersign) and deploy as its newest version, the
way a seal administrator changes a flow, so that applications.submit files real applications on them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app import workflow as engine
from app.errors import InvalidInput, InvalidTransition, NotFound, PermissionDenied
from app.extensions import db
from app.models import (
    ApplicationStatus,
    AuditEvent,
    DocumentKind,
    HumanTask,
    InstanceStatus,
    Job,
    ProcessDefinition,
    ProcessInstance,
    SealApplication,
    Substitution,
    TaskState,
    User,
)
from app.models.audit import Actor
from app.models.timestamps import utcnow
from app.services import applications, approvals, flows, substitutes
from app.services.applications import ApplicationSpec
from tests.conftest import DATA, Org, corpus_pdf, work_off_queue

SCENARIOS = DATA / "scenarios"
SYSTEM = Actor.system("test")


# --- driving the scenarios ------------------------------------------------------------------------------------

def _deploy(scenario: str) -> ProcessDefinition:
    """Deploy tests/data/scenarios/<scenario>.bpmn as a new version of the process it declares."""
    definition, created = flows.deploy_file(SCENARIOS / f"{scenario}.bpmn", SYSTEM)
    db.session.commit()
    assert created, f"{scenario}.bpmn deployed no new version"
    return definition


def _file(org: Org, process_id: str = "seal_application", document_type: str = "contract",
          amount: str | None = None, countersigners: tuple[User, ...] = ()) -> SealApplication:
    """The employee files an application on the newest version of the process."""
    spec = ApplicationSpec(seal_id=org.contract_seal.id, document_type=document_type, filename="contract.pdf",
                           content=corpus_pdf("minimal-document.pdf"), reason="Sign the supply contract",
                           amount=None if amount is None else Decimal(amount), process_id=process_id,
                           fields={"countersigners": [u.id for u in countersigners]} if countersigners else {})
    application = applications.submit(spec, org.employee, Actor.of(org.employee)).application
    db.session.commit()
    return application


def _task(user: User, application: SealApplication) -> HumanTask:
    """The one task about this application in the user's inbox."""
    [task] = [t for t in approvals.inbox(user) if t.instance.application_id == application.id]
    return task


def _decide(user: User, application: SealApplication, decision: str = "approve", comment: str = "") -> None:
    """The user takes a decision on their task about the application, as the inbox page does."""
    approvals.decide(_task(user, application).id, user, decision, comment, Actor.of(user))
    db.session.commit()


def _refused(error: type[Exception], match: str, action: Callable[[], Any]) -> None:
    """The action fails with that error and message; its half-done work is rolled back, as a request's would be."""
    with pytest.raises(error, match=match):
        action()
    db.session.rollback()


# --- observing them -------------------------------------------------------------------------------------------

def _user(username: str) -> User:
    return db.session.execute(select(User).where(User.username == username)).scalar_one()


def _inboxes() -> dict[str, list[str]]:
    """Everyone's inbox, as username -> element ids of the waiting tasks; empty inboxes left out."""
    users = db.session.execute(select(User).order_by(User.username)).scalars()
    boxes = {u.username: [t.element_id for t in approvals.inbox(u)] for u in users}
    return {username: tasks for username, tasks in boxes.items() if tasks}


def _status(application: SealApplication) -> ApplicationStatus:
    db.session.expire_all()
    return applications.get_application(application.id).status


def _instance(application: SealApplication) -> ProcessInstance:
    return applications.process_of(applications.get_application(application.id))


def _jobs() -> list[tuple[str, str]]:
    """Every background job: (operation, status)."""
    return [(j.operation, j.status.value) for j in db.session.execute(select(Job).order_by(Job.id)).scalars()]


def _audience(details: dict[str, Any], names: dict[int, str]) -> str:
    if details["assignee_id"] is not None:
        return names[details["assignee_id"]]
    return ", ".join([names[u] for u in details["candidate_user_ids"]]
                     + [f"role:{r}" for r in details["candidate_roles"]])


def _completed(event: AuditEvent, names: dict[int, str]) -> str:
    details = event.details
    line = f"{event.actor_name} {details['decision']} {details['element_id']}"
    if details["comment"]:
        line += f" “{details['comment']}”"
    if details["on_behalf_of_id"]:
        line += f" for {names[details['on_behalf_of_id']]}"
    return line


_STEPS: dict[str, Callable[[AuditEvent, dict[int, str]], str]] = {
    "process.started": lambda e, _: f"started v{e.details['version']} by {e.actor_name}",
    "decision.evaluated": lambda e, _: f"{e.details['table']} gave {e.details['result']['levels']} level(s)",
    "task.ready": lambda e, names: f"ready {e.details['element_id']} for {_audience(e.details, names)}",
    "task.completed": _completed,
    "task.cancelled": lambda e, _: f"cancelled {e.details['element_id']}",
    "service.started": lambda e, _: f"job {e.details['operation']} at {e.details['element_id']}",
    "service.completed": lambda e, _: f"job done at {e.details['element_id']}",
    "process.completed": lambda e, _: f"ended at {e.details['outcome']}",
    "process.cancelled": lambda e, _: f"cancelled by {e.actor_name}: {e.details['reason']}",
}


def _trail(instance_id: int) -> list[str]:
    """The process history (app.workflow.history), one readable line per event."""
    names: dict[int, str] = {user_id: name for user_id, name in db.session.execute(select(User.id, User.username))}
    return [_STEPS[e.action](e, names) if e.action in _STEPS else e.action for e in engine.history(instance_id)]


def _approved(*steps: tuple[str, str, str]) -> list[str]:
    """History lines of approvals in turn: (who decides, element id, whom the task was offered to)."""
    return [line for who, element, audience in steps
            for line in (f"ready {element} for {audience}", f"{who} approve {element}")]


# --- 1. routing by policy (seal_policies/required_approvals.dmn, the shipped seal_application's policy step) ------

HEAD = ("harry", "department_head_approval", "harry")
LEADER = ("leo", "leader_approval", "role:leader")
POLICY_HEAD = ("harry", "policy_approval", "harry")
POLICY_LEADER = ("leo", "policy_approval", "role:leader")
POLICY_SEAL_ADMIN = ("sam", "policy_approval", "role:seal_admin")
LEVELS = (POLICY_HEAD, POLICY_LEADER, POLICY_SEAL_ADMIN)


@pytest.mark.parametrize("document_type, amount, levels", [
    ("contract", None, 1),
    ("contract", "99999.99", 1),
    ("contract", "100000", 2),
    ("agreement", "999999.99", 2),
    ("contract", "1000000", 3),
    ("agreement", "1000000", 3),
    ("certificate", None, 2),
    ("certificate", "5000000", 2),
    ("letter", "5000000", 1),
    ("report", "0", 1),
])
def test_the_policy_decides_how_many_approvals_an_application_needs(app: Flask, org: Org, document_type: str,
                                                                     amount: str | None, levels: int) -> None:
    definition = engine.latest_definition("seal_application")
    application = _file(org, document_type=document_type, amount=amount)
    assert [r["approver"] for r in application.required_approvals] == [
        "department_head", "role:leader", "role:seal_admin"][:levels]
    for who, element, _ in LEVELS[:levels]:
        assert _inboxes() == {who: [element]}
        assert _status(application) == ApplicationStatus.PENDING
        _decide(_user(who), application)

    assert _inboxes() == {} and _status(application) == ApplicationStatus.SEALING
    assert _jobs() == [("seal_document", "queued")]
    assert _instance(application).definition_id == definition.id
    assert _trail(_instance(application).id) == [
        f"started v{definition.version} by emma", *_approved(*LEVELS[:levels]), "job seal_document at stamp_and_sign"]


def test_a_rejection_at_the_second_level_ends_it_before_the_third(app: Flask, org: Org) -> None:
    application = _file(org, amount="2500000")
    _decide(org.head, application)
    _refused(InvalidInput, "say why", lambda: _decide(org.leader, application, "reject"))
    assert _inboxes() == {"leo": ["policy_approval"]}

    _decide(org.leader, application, "reject", "Too large for this quarter")
    assert _inboxes() == {} and _jobs() == []
    assert _status(application) == ApplicationStatus.REJECTED and _instance(application).outcome == "rejected"
    assert _trail(_instance(application).id)[1:] == [
        *_approved(POLICY_HEAD), "ready policy_approval for role:leader",
        "leo reject policy_approval “Too large for this quarter”", "ended at rejected"]


# --- 2. return and resubmit -----------------------------------------------------------------------------------

def test_a_returned_application_is_resubmitted_and_then_approved(app: Flask, org: Org) -> None:
    _deploy("return_and_resubmit")
    application = _file(org, document_type="letter")
    first = _task(org.head, application)
    _refused(InvalidInput, "say why", lambda: _decide(org.head, application, "return", "  "))
    assert _inboxes() == {"harry": ["department_head_approval"]}

    _decide(org.head, application, "return", "Attach the signed annex")
    assert _status(application) == ApplicationStatus.RETURNED
    assert _inboxes() == {"emma": ["revise"]}
    assert _task(org.employee, application).decision_choices == ["resubmit", "withdraw"]
    _refused(InvalidInput, "one of resubmit, withdraw", lambda: _decide(org.employee, application, "approve"))

    _decide(org.employee, application, "resubmit")
    assert _status(application) == ApplicationStatus.PENDING
    assert _inboxes() == {"harry": ["department_head_approval"]}
    assert _task(org.head, application).id != first.id  # a new round, not the old task reopened
    _refused(InvalidTransition, "already completed",
             lambda: approvals.decide(first.id, org.head, "approve", "", Actor.of(org.head)))

    _decide(org.head, application)
    work_off_queue(app)
    assert _status(application) == ApplicationStatus.SEALED and _instance(application).outcome == "sealed"
    assert applications.get_application(application.id).document(DocumentKind.SEALED) is not None
    assert _trail(_instance(application).id)[1:] == [
        "ready department_head_approval for harry",
        "harry return department_head_approval “Attach the signed annex”",
        "ready revise for emma", "emma resubmit revise",
        *_approved(HEAD), "job seal_document at stamp_and_sign", "job done at stamp_and_sign", "ended at sealed"]


def test_a_returned_application_can_be_withdrawn_instead(app: Flask, org: Org) -> None:
    _deploy("return_and_resubmit")
    application = _file(org, document_type="letter")
    _decide(org.head, application, "return", "Wrong counterparty")
    _decide(org.employee, application, "withdraw")

    assert _status(application) == ApplicationStatus.WITHDRAWN and _instance(application).outcome == "withdrawn"
    assert _inboxes() == {} and _jobs() == []
    _refused(InvalidTransition, "is withdrawn; it can no longer be withdrawn",
             lambda: applications.withdraw(application.id, org.employee, Actor.of(org.employee)))
    assert _trail(_instance(application).id)[-2:] == ["emma withdraw revise", "ended at withdrawn"]


# --- 3. withdrawal --------------------------------------------------------------------------------------------

def _withdraw(org: Org, application: SealApplication) -> None:
    applications.withdraw(application.id, org.employee, Actor.of(org.employee))
    db.session.commit()


@pytest.mark.parametrize("head_approved", [False, True], ids=["head-waits", "leader-waits"])
def test_the_requester_withdraws_while_an_approval_waits(app: Flask, org: Org, head_approved: bool) -> None:
    _deploy("withdrawal")
    application = _file(org)
    approved = [HEAD] if head_approved else []
    for who, _, _ in approved:
        _decide(_user(who), application)
    waiting = LEADER if head_approved else HEAD
    assert _inboxes() == {waiting[0]: [waiting[1]]}
    _refused(PermissionDenied, "only the requester",
             lambda: applications.withdraw(application.id, org.head, Actor.of(org.head)))

    _withdraw(org, application)
    instance = _instance(application)
    assert _status(application) == ApplicationStatus.WITHDRAWN
    assert (instance.status, instance.outcome) == (InstanceStatus.CANCELLED, "cancelled")
    assert _inboxes() == {} and _jobs() == []
    assert [t.state for t in engine.tasks_of(instance.id)] == [TaskState.COMPLETED] * len(approved) + [
        TaskState.CANCELLED]
    _refused(InvalidTransition, "is withdrawn; it can no longer be withdrawn", lambda: _withdraw(org, application))
    assert _trail(instance.id)[1:] == [*_approved(*approved), f"ready {waiting[1]} for {waiting[2]}",
                                       f"cancelled {waiting[1]}", "cancelled by emma: withdrawn by the requester"]


def test_the_head_cannot_decide_a_withdrawn_application(app: Flask, org: Org) -> None:
    _deploy("withdrawal")
    application = _file(org)
    task = _task(org.head, application)
    _withdraw(org, application)
    _refused(InvalidTransition, "was already cancelled",
             lambda: approvals.decide(task.id, org.head, "approve", "", Actor.of(org.head)))
    assert _status(application) == ApplicationStatus.WITHDRAWN and _inboxes() == {}


def test_an_application_being_sealed_can_no_longer_be_withdrawn(app: Flask, org: Org) -> None:
    _deploy("withdrawal")
    application = _file(org)
    _decide(org.head, application)
    _decide(org.leader, application)
    before = _trail(_instance(application).id)
    _refused(InvalidTransition, "is sealing; it can no longer be withdrawn", lambda: _withdraw(org, application))
    assert _status(application) == ApplicationStatus.SEALING
    assert _jobs() == [("seal_document", "queued")] and _trail(_instance(application).id) == before


# --- 4. countersign with a rejection --------------------------------------------------------------------------

def _countersigners(org: Org) -> tuple[User, ...]:
    return org.other_approver, org.head, org.seal_admin  # olga, harry, sam: in this order, not by id


@pytest.mark.parametrize("rejecter", [0, 1, 2])
def test_one_countersigner_rejecting_cancels_the_others_open_tasks(app: Flask, org: Org, rejecter: int) -> None:
    _deploy("countersign_rejection")
    signers = _countersigners(org)
    application = _file(org, "countersign", countersigners=signers)
    assert _inboxes() == {u.username: ["countersigning"] for u in signers}
    for signer in signers[:rejecter]:
        _decide(signer, application)
    _decide(signers[rejecter], application, "reject", "The penalty clause is wrong")

    assert _inboxes() == {} and _jobs() == []
    assert _status(application) == ApplicationStatus.REJECTED and _instance(application).outcome == "rejected"
    later = signers[rejecter + 1:]
    assert [(t.assignee_id, t.state, t.decision) for t in engine.tasks_of(_instance(application).id)] == (
        [(u.id, TaskState.COMPLETED, "approve") for u in signers[:rejecter]]
        + [(signers[rejecter].id, TaskState.COMPLETED, "reject")] + [(u.id, TaskState.CANCELLED, None) for u in later])
    assert _trail(_instance(application).id)[1:] == [
        *[f"ready countersigning for {u.username}" for u in signers],
        *[f"{u.username} approve countersigning" for u in signers[:rejecter]],
        f"{signers[rejecter].username} reject countersigning “The penalty clause is wrong”",
        *["cancelled countersigning"] * len(later), "ended at rejected"]
    for signer in later:
        task = db.session.execute(select(HumanTask).where(HumanTask.assignee_id == signer.id)).scalar_one()
        _refused(InvalidTransition, "was already cancelled",
                 lambda: approvals.decide(task.id, signer, "approve", "", Actor.of(signer)))  # noqa: B023


def test_countersigning_goes_on_to_sealing_once_everyone_agreed(app: Flask, org: Org) -> None:
    _deploy("countersign_rejection")
    signers = _countersigners(org)
    application = _file(org, "countersign", countersigners=signers)
    for number, signer in enumerate(reversed(signers), start=1):
        assert _status(application) == ApplicationStatus.PENDING and _jobs() == []
        _decide(signer, application)
        assert len(_inboxes()) == len(signers) - number or _inboxes() == {"harry": ["policy_approval"]}
    # The diagram asks the seal policy's approvals after the countersigners; a countersigner (harry) may also
    # approve a level: countersigning is a step the diagram adds, not a level of the policy.
    assert _jobs() == []
    _decide(org.head, application)
    assert _status(application) == ApplicationStatus.SEALING and _jobs() == [("seal_document", "queued")]


# --- 5. sequential parties ------------------------------------------------------------------------------------

@pytest.mark.parametrize("order", [("olga", "harry", "sam"), ("sam", "leo", "olga", "harry")])
def test_parties_decide_one_after_another_in_the_given_order(app: Flask, org: Org, order: tuple[str, ...]) -> None:
    _deploy("sequential_parties")
    parties = tuple(_user(name) for name in order)
    application = _file(org, "countersign", countersigners=parties)
    for party in parties:
        assert _inboxes() == {party.username: ["signing_in_order"]}  # only the party whose turn it is
        assert _status(application) == ApplicationStatus.PENDING
        _decide(party, application)
    _decide(org.head, application)  # the seal policy's level, which this diagram asks after the parties

    assert _inboxes() == {} and _status(application) == ApplicationStatus.SEALING
    assert _jobs() == [("seal_document", "queued")]
    assert _trail(_instance(application).id)[1:] == [
        *_approved(*[(name, "signing_in_order", name) for name in order], POLICY_HEAD),
        "job seal_document at stamp_and_sign"]


def test_a_party_refusing_stops_it_before_the_later_parties_are_asked(app: Flask, org: Org) -> None:
    _deploy("sequential_parties")
    first, second, third = parties = (org.other_approver, org.head, org.seal_admin)
    application = _file(org, "countersign", countersigners=parties)
    _decide(first, application)
    _decide(second, application, "reject", "Not with this counterparty")

    assert _inboxes() == {} and _jobs() == []
    assert _status(application) == ApplicationStatus.REJECTED and _instance(application).outcome == "rejected"
    assert [t.assignee_id for t in engine.tasks_of(_instance(application).id)] == [first.id, second.id]
    assert third.id not in {t.assignee_id for t in db.session.execute(select(HumanTask)).scalars()}
    assert _trail(_instance(application).id)[1:] == [
        *_approved(("olga", "signing_in_order", "olga")), "ready signing_in_order for harry",
        "harry reject signing_in_order “Not with this counterparty”", "ended at rejected"]


# --- 6. substitute --------------------------------------------------------------------------------------------

def _away(org: Org, days: int = 2) -> int:
    """The department head is away from an hour ago for some days; Olga stands in. Returns the substitution id."""
    now = utcnow()
    substitution = substitutes.name_substitute(org.head, org.other_approver.id, now - timedelta(hours=1),
                                               now + timedelta(days=days), "Business trip", Actor.of(org.head))
    db.session.commit()
    return substitution.id


def test_the_substitute_decides_for_the_absent_head_and_the_history_names_both(app: Flask, org: Org) -> None:
    _deploy("substitute")
    _away(org)
    application = _file(org)
    task = _task(org.other_approver, application)
    assert task.assignee_id == org.head.id  # still the head's task: it reaches Olga through the substitution
    assert _inboxes() == {"harry": ["department_head_approval"], "olga": ["department_head_approval"]}
    assert [u.username for u in (org.employee, org.leader, org.seal_admin) if approvals.can_decide(u, task)] == []

    _decide(org.other_approver, application)
    db.session.refresh(task)
    assert (task.completed_by_id, task.on_behalf_of_id) == (org.other_approver.id, org.head.id)
    [completed] = [e for e in engine.history(_instance(application).id) if e.action == "task.completed"]
    assert (completed.actor_id, completed.details["on_behalf_of_id"]) == (org.other_approver.id, org.head.id)
    assert _inboxes() == {} and _status(application) == ApplicationStatus.SEALING
    assert _trail(_instance(application).id)[1:] == [
        "ready department_head_approval for harry", "olga approve department_head_approval for harry",
        "job seal_document at stamp_and_sign"]


def test_after_the_period_tasks_no_longer_reach_the_substitute(app: Flask, org: Org) -> None:
    _deploy("substitute")
    substitution = db.session.get(Substitution, _away(org))
    assert substitution is not None
    application = _file(org)
    task = _task(org.head, application)
    just_before, at_the_end = substitution.ends_at - timedelta(seconds=1), substitution.ends_at
    olga = org.other_approver
    assert [t.id for t in db.session.execute(approvals.inbox_query(olga, just_before)).scalars()] == [task.id]
    assert db.session.execute(approvals.inbox_query(olga, at_the_end)).first() is None
    assert approvals.acting_for(task, olga, just_before) == org.head.id
    assert approvals.acting_for(task, olga, at_the_end) is None

    substitutes.end_substitution(substitution.id, org.head, Actor.of(org.head))  # back early: the period is over now
    db.session.commit()
    assert _inboxes() == {"harry": ["department_head_approval"]}
    _refused(NotFound, "does not exist", lambda: approvals.decide(task.id, olga, "approve", "", Actor.of(olga)))
    _decide(org.head, application)
    assert _trail(_instance(application).id)[-2] == "harry approve department_head_approval"


# --- 7. a version deployed while instances run ----------------------------------------------------------------

def test_running_applications_finish_on_their_version_new_ones_follow_the_newest(app: Flask, org: Org) -> None:
    v1 = _deploy("version_1")
    old = _file(org)
    v2 = _deploy("version_2")
    assert (v2.process_id, v2.version) == (v1.process_id, v1.version + 1)
    assert flows.deploy_file(SCENARIOS / "version_2.bpmn", SYSTEM) == (v2, False)  # same content: same version
    new = _file(org)
    assert (_instance(old).definition_id, _instance(new).definition_id) == (v1.id, v2.id)
    assert _inboxes() == {"harry": ["department_head_approval"] * 2}

    _decide(org.head, old)
    assert _status(old) == ApplicationStatus.SEALING and _inboxes() == {"harry": ["department_head_approval"]}
    _decide(org.head, new)
    assert _status(new) == ApplicationStatus.PENDING and _inboxes() == {"leo": ["leader_approval"]}
    _decide(org.leader, new)
    work_off_queue(app)

    assert [_status(a) for a in (old, new)] == [ApplicationStatus.SEALED] * 2
    done = ["job seal_document at stamp_and_sign", "job done at stamp_and_sign", "ended at sealed"]
    assert _trail(_instance(old).id) == [f"started v{v1.version} by emma", *_approved(HEAD), *done]
    assert _trail(_instance(new).id) == [f"started v{v2.version} by emma", *_approved(HEAD, LEADER), *done]


def test_instance_state_holds_no_copy_of_the_spec(app: Flask, org: Org) -> None:
    v1 = _deploy("version_1")
    old = _file(org)
    _deploy("version_2")
    new = _file(org)
    _decide(org.head, new)
    assert "task_specs" in json.dumps(v1.spec_json)
    for application in (old, new):
        state = _instance(application).state
        assert not {"spec", "subprocess_specs"} & set(state)
        assert "task_specs" not in json.dumps(state)
    assert "leader_approval" not in json.dumps(_instance(old).state)  # nothing of version 2 in the older one
    assert "leader_approval" in json.dumps(_instance(new).state)


# --- 8. a diagram drawn in Camunda Modeler --------------------------------------------------------------------

def _complete(user: User, instance_id: int) -> None:
    """The user completes the instance's one waiting task (no application: the engine directly)."""
    [task] = [t for t in approvals.inbox(user) if t.instance_id == instance_id]
    assert approvals.can_decide(user, task)
    engine.complete_task(task.id, Actor.of(user), {"decision": "approve"}, approvals.acting_for(task, user))
    db.session.commit()


def test_camunda_assignee_and_candidates_decide_who_gets_the_tasks(app: Flask, org: Org) -> None:
    definition = _deploy("camunda_assignment")
    data = {"requester_id": org.employee.id, "custodian": "olga"}
    instance_id = engine.start(definition.process_id, data, None, Actor.of(org.employee)).instance.id
    db.session.commit()

    assert _inboxes() == {"harry": ["legal_review"], "olga": ["legal_review"]}  # candidateGroups="approver"
    _complete(org.other_approver, instance_id)
    assert _inboxes() == {"emma": ["requester_confirms"]}  # assignee="${requester_id}"
    _complete(org.employee, instance_id)
    # candidateUsers="sam, ${custodian}" and candidateGroups="leader": whoever acts first takes it.
    assert _inboxes() == {"leo": ["hand_over_seal"], "olga": ["hand_over_seal"], "sam": ["hand_over_seal"]}
    [hand_over] = [t for t in engine.tasks_of(instance_id) if t.state == TaskState.READY]
    assert not approvals.can_decide(org.head, hand_over) and not approvals.can_decide(org.employee, hand_over)
    _complete(org.leader, instance_id)

    instance = db.session.get(ProcessInstance, instance_id)
    assert instance is not None and (instance.status, instance.outcome) == (InstanceStatus.COMPLETED, "EndEvent_done")
    assert _inboxes() == {} and _jobs() == []
    assert _trail(instance_id) == [
        f"started v{definition.version} by emma", *_approved(
            ("olga", "legal_review", "role:approver"), ("emma", "requester_confirms", "emma"),
            ("leo", "hand_over_seal", "sam, olga, role:leader")), "ended at EndEvent_done"]
