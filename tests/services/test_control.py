"""Every walk-around of the seal control found on the old main, tried again through the services: each is refused
or routed to the right person, nothing is sealed that the policy did not allow, and the log says why.

The organisation: Sales (head harry) under the Office (head leo); two leaders (leo, lin) and two seal
administrators (sam, nora), so that every level always has someone other than the requester; alice audits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.errors import InvalidInput, NotFound, PermissionDenied, PolicyViolation
from app.extensions import db
from app.models import (
    ApplicationStatus,
    AuditEvent,
    DocumentKind,
    HumanTask,
    Job,
    RoleName,
    SealApplication,
    TaskState,
    User,
)
from app.models.audit import Actor
from app.models.timestamps import utcnow
from app.services import accounts, applications, approvals, gate, seals, substitutes
from app.services.applications import ApplicationSpec
from tests.conftest import PASSWORD, Org, corpus_pdf, work_off_queue

ACTOR = Actor.system("test")


@dataclass
class People:
    emma: User
    harry: User
    leo: User
    lin: User
    sam: User
    nora: User
    olga: User
    alice: User


@pytest.fixture
def people(org: Org) -> People:
    office = accounts.get_or_create_department("Office")
    office.head = org.leader
    org.department.parent = office
    lin = accounts.save_user("lin", "Lin", PASSWORD, {RoleName.EMPLOYEE, RoleName.LEADER}, office)
    nora = accounts.save_user("nora", "Nora", PASSWORD, {RoleName.EMPLOYEE, RoleName.SEAL_ADMIN}, office)
    for user in (org.seal_admin, org.leader):  # they file applications too
        accounts.save_user(user.username, user.display_name, PASSWORD, user.role_names | {RoleName.EMPLOYEE},
                           user.department)
    seals.set_holders(org.contract_seal.id, seals.HoldersSpec(custodian_ids=(org.seal_admin.id,),
                                                              department_ids=(org.department.id, office.id)), ACTOR)
    db.session.commit()
    return People(org.employee, org.head, org.leader, lin, org.seal_admin, nora, org.other_approver, org.auditor)


def _file(org: Org, requester: User, amount: str | None = None, process_id: str = "seal_application",
          **choices: object) -> SealApplication:
    spec = ApplicationSpec(seal_id=org.contract_seal.id, document_type="contract", filename="contract.pdf",
                           content=corpus_pdf("minimal-document.pdf"), reason="Supply contract",
                           amount=None if amount is None else Decimal(amount), process_id=process_id,
                           **choices)  # type: ignore[arg-type]
    application = applications.submit(spec, requester, Actor.of(requester)).application
    db.session.commit()
    return application


def _waiting(application: SealApplication) -> HumanTask:
    """The one step of the application that waits for someone."""
    [task] = [t for t in applications.approval_steps(applications.get_application(application.id))
              if t.state == TaskState.READY]
    return task


def _decide(user: User, application: SealApplication, decision: str = "approve") -> None:
    approvals.decide(_waiting(application).id, user, decision, f"{decision} by {user.username}", Actor.of(user))
    db.session.commit()


def _refused(user: User, application: SealApplication, match: str) -> None:
    """The user's decision on the waiting step is refused and changes nothing: a step that is not theirs at all is
    as if it did not exist (NotFound, like an unknown id); one they may see but not decide is PermissionDenied."""
    task = _waiting(application)
    error = NotFound if match == "does not exist" else PermissionDenied
    with pytest.raises(error, match=match):
        approvals.decide(task.id, user, "approve", "", Actor.of(user))
    db.session.rollback()
    assert _waiting(application).id == task.id and _waiting(application).state == TaskState.READY


def _in_inbox(user: User, application: SealApplication) -> bool:
    return any(t.instance.application_id == application.id for t in approvals.inbox(user))


def _status(application: SealApplication) -> ApplicationStatus:
    db.session.expire_all()
    return applications.get_application(application.id).status


def _sealed(application: SealApplication) -> bool:
    db.session.expire_all()
    return applications.get_application(application.id).document(DocumentKind.SEALED) is not None


def _levels(application: SealApplication) -> list[str]:
    return [r["approver"] for r in application.required_approvals]


def _ready_note(application: SealApplication) -> str | None:
    instance = applications.process_of(application)
    [event] = [e for e in db.session.execute(select(AuditEvent).where(
        AuditEvent.object_id == str(instance.id), AuditEvent.action == "task.ready")).scalars()]
    note: str | None = event.details.get("note")
    return note


# --- a head files: the head above approves, never the head himself --------------------------------------------

def test_a_head_filing_goes_to_the_head_above_not_to_himself(app: Flask, people: People, org: Org):
    application = _file(org, people.harry)
    assert _waiting(application).assignee_id == people.leo.id
    assert _ready_note(application) == "Harry heads Sales: the head of Office approves instead"
    assert not _in_inbox(people.harry, application)
    _refused(people.harry, application, "does not exist")

    _decide(people.leo, application)
    work_off_queue(app)
    assert _status(application) == ApplicationStatus.SEALED


def test_a_head_with_no_department_above_goes_to_the_other_leaders(app: Flask, people: People, org: Org):
    application = _file(org, people.leo)
    task = _waiting(application)
    assert [str(c.role) for c in task.candidates] == ["leader"]
    assert "the leaders approve" in (_ready_note(application) or "")
    assert not _in_inbox(people.leo, application) and _in_inbox(people.lin, application)
    _refused(people.leo, application, "own application")
    _decide(people.lin, application)
    work_off_queue(app)
    assert _status(application) == ApplicationStatus.SEALED


# --- a seal administrator files: another one reviews -----------------------------------------------------------

def test_a_seal_administrator_never_reviews_his_own_large_contract(app: Flask, people: People, org: Org):
    application = _file(org, people.sam, amount="2000000")
    assert _levels(application) == ["department_head", "role:leader", "role:seal_admin"]
    _decide(people.leo, application)  # the head of the Office, sam's department
    _refused(people.leo, application, "one approval level")  # leo decided level 1 already
    _decide(people.lin, application)
    assert not _in_inbox(people.sam, application) and _in_inbox(people.nora, application)
    _refused(people.sam, application, "own application")
    assert db.session.execute(select(Job)).first() is None  # nothing is queued for sealing yet

    _decide(people.nora, application)
    work_off_queue(app)
    assert _status(application) == ApplicationStatus.SEALED
    [sealed] = [e for e in db.session.execute(select(AuditEvent).where(
        AuditEvent.action == "document.sealed")).scalars()]
    assert [(a["level"], a["decided_by"]) for a in sealed.details["approvals"]] == [
        (1, "Leo"), (2, "Lin"), (3, "Nora")]


# --- a substitute never decides their own application ----------------------------------------------------------

def _away(absent: User, substitute: User) -> None:
    now = utcnow()
    substitutes.name_substitute(absent, substitute.id, now - timedelta(hours=1), now + timedelta(days=2), "Trip",
                                Actor.of(absent))
    db.session.commit()


def test_the_head_names_emma_as_substitute_and_she_cannot_approve_her_own(app: Flask, people: People, org: Org):
    _away(people.harry, people.emma)
    application = _file(org, people.emma)
    assert _waiting(application).assignee_id == people.harry.id
    assert not _in_inbox(people.emma, application)  # harry's task on her own application does not reach her
    _refused(people.emma, application, "own application")
    assert _status(application) == ApplicationStatus.PENDING and not _sealed(application)


def test_one_person_decides_one_level_even_as_a_substitute(app: Flask, people: People, org: Org):
    _away(people.harry, people.leo)
    application = _file(org, people.emma, amount="2000000")
    _decide(people.leo, application)  # level 1, for harry
    [first] = [t for t in applications.approval_steps(application) if t.state == TaskState.COMPLETED]
    assert (first.completed_by_id, first.on_behalf_of_id, first.decided_as) == (
        people.leo.id, people.harry.id, "department_head")
    _refused(people.leo, application, "one approval level")  # level 2 (leaders): leo again
    _refused(people.harry, application, "does not exist")  # harry is no leader
    _decide(people.lin, application)
    _decide(people.sam, application)
    work_off_queue(app)
    assert _status(application) == ApplicationStatus.SEALED


# --- the amount policy holds whatever process runs -------------------------------------------------------------

@pytest.mark.parametrize("process_id", ["countersign", "multi_party_signing"])
def test_a_large_contract_needs_every_level_whatever_the_process(app: Flask, people: People, org: Org,
                                                                 process_id: str):
    party_seal = seals.create_seal("Olga Co. Seal", org.contract_seal.kind, org.contract_seal.image_pdf, ACTOR)
    seals.set_holders(party_seal.id, seals.HoldersSpec(custodian_ids=(people.olga.id,)), ACTOR)
    choices: dict[str, object] = (
        {"fields": {"countersigners": (people.harry.id,)}} if process_id == "countersign"
        else {"fields": {"parties": ((people.olga.id, party_seal.id), (people.sam.id, org.contract_seal.id))}})
    application = _file(org, people.emma, amount="5000000", process_id=process_id, **choices)
    assert _levels(application) == ["department_head", "role:leader", "role:seal_admin"]
    _decide(people.harry, application)
    assert _waiting(application).level == 2 and db.session.execute(select(Job)).first() is None
    _decide(people.leo, application)
    _decide(people.nora, application)
    assert db.session.execute(select(Job)).first() is None  # now the steps the flow adds
    if process_id == "countersign":
        _decide(people.harry, application)  # countersigning is no policy level: the head may countersign
    else:
        for party in (people.olga, people.sam):
            _decide(party, application)
            work_off_queue(app)
    work_off_queue(app)
    assert _status(application) == ApplicationStatus.SEALED


def test_emma_cannot_sign_as_a_party_with_the_company_seal(app: Flask, people: People, org: Org):
    for parties, error, match in [
        (((people.emma.id, org.contract_seal.id), (people.olga.id, org.contract_seal.id)), InvalidInput,
         "your own application"),
        (((people.olga.id, org.contract_seal.id), (people.harry.id, org.contract_seal.id)), PolicyViolation,
         "not held by that party"),
    ]:
        with pytest.raises(error, match=match):
            _file(org, people.emma, process_id="multi_party_signing", fields={"parties": parties})
        db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(SealApplication)).scalar() == 0


# --- auditors never decide or sign ------------------------------------------------------------------------------

def test_an_auditor_is_never_a_substitute_party_or_countersigner(app: Flask, people: People, org: Org):
    with pytest.raises(InvalidInput, match="auditor"):
        _away(people.harry, people.alice)
    db.session.rollback()
    for choices in ({"process_id": "countersign", "fields": {"countersigners": (people.alice.id,)}},
                    {"process_id": "multi_party_signing", "fields": {
                        "parties": ((people.alice.id, org.contract_seal.id), (people.sam.id, org.contract_seal.id))}}):
        with pytest.raises(InvalidInput, match="auditors never decide or sign"):
            _file(org, people.emma, **choices)  # type: ignore[arg-type]
        db.session.rollback()


def test_an_auditor_who_also_holds_a_deciding_role_still_never_decides(app: Flask, people: People, org: Org):
    accounts.save_user("alice", "Alice", PASSWORD, {RoleName.AUDITOR, RoleName.LEADER}, people.alice.department)
    db.session.commit()
    application = _file(org, people.emma, amount="200000")
    _decide(people.harry, application)
    assert approvals.inbox(people.alice) == []
    with pytest.raises(PermissionDenied, match="auditors never decide"):
        approvals.decide(_waiting(application).id, people.alice, "reject", "no", Actor.of(people.alice))
    db.session.rollback()
    assert _status(application) == ApplicationStatus.PENDING


# --- a leader's signature can be filed, and only its owner authorizes it ----------------------------------------

def test_a_leaders_signature_is_filed_authorized_by_its_owner_and_never_by_a_substitute(app: Flask, people: People,
                                                                                      org: Org):
    seal = seals.create_seal("Leo's Signature", org.contract_seal.kind.PERSONAL, org.contract_seal.image_pdf, ACTOR)
    seals.set_holders(seal.id, seals.HoldersSpec(owner_id=people.leo.id, department_ids=(org.department.id,)),
                      ACTOR)
    db.session.commit()
    spec = ApplicationSpec(seal_id=seal.id, document_type="letter", filename="letter.pdf",
                           content=corpus_pdf("minimal-document.pdf"), reason="Sign the letter",
                           process_id="leader_signature")
    application = applications.submit(spec, people.emma, Actor.of(people.emma)).application
    db.session.commit()
    _decide(people.harry, application)
    work_off_queue(app)  # the look-up of a signature authorization of leo's: none
    _away(people.leo, people.lin)
    _decide(people.lin, application)  # lin authorizes for leo: the flow goes on, but it is not leo's own word
    work_off_queue(app)
    assert _status(application) == ApplicationStatus.FAILED and not _sealed(application)
    assert "on their behalf" in (applications.get_application(application.id).failure_reason or "")
    [refusal] = db.session.execute(select(AuditEvent).where(AuditEvent.action == "sealing.refused")).scalars()
    assert refusal.details["reasons"] == ["the signer's agreement was given by someone else on their behalf"]


# --- the gate ---------------------------------------------------------------------------------------------------

def test_the_gate_names_every_missing_level(app: Flask, people: People, org: Org):
    application = _file(org, people.emma, amount="2000000")
    _decide(people.harry, application)
    original = application.document(DocumentKind.ORIGINAL)
    assert original is not None
    with pytest.raises(gate.SealingRefused) as refused:
        gate.check(application, original, corpus_pdf("minimal-document.pdf"))
    assert refused.value.reasons == ["level 2 (Leader: contract of 100,000 or more) has not been approved",
                                     "level 3 (Seal administrator: contract of 1,000,000 or more) has not been "
                                     "approved"]
    states = gate.level_states(application)
    assert [(s.level, s.task.decision if s.task else None) for s in states] == [(1, "approve"), (2, None), (3, None)]
