"""The sealing gate: every operator that applies a seal refuses without the policy's approvals, whatever diagram ran
(one drawn to skip them, forced into the database by hand), and refuses a document changed after approval."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from lxml import etree
from sqlalchemy import select

from app.extensions import db
from app.models import (
    ApplicationStatus,
    AuditEvent,
    DocumentKind,
    Job,
    JobStatus,
    ProcessDefinition,
    SealApplication,
    SealKind,
)
from app.models.audit import Actor
from app.pdf import SealImageSpec
from app.services import applications, approvals, documents, flows, gate, seals
from app.services.applications import ApplicationSpec
from app.services.operators import OPERATORS, SEALING_OPERATORS
from app.workflow import InvalidDefinition, latest_definition
from app.workflow.parser import _spiff_spec  # the parser's last stage, to force a diagram past validation
from tests.conftest import DATA, Org, corpus_pdf, work_off_queue

ACTOR = Actor.system("test")
STRAIGHT = DATA / "straight_to_seal.bpmn"


def _file(org: Org, process_id: str = "seal_application", seal_id: int | None = None,
          **choices: object) -> SealApplication:
    spec = ApplicationSpec(seal_id=seal_id or org.contract_seal.id, document_type="letter", filename="letter.pdf",
                           content=corpus_pdf("minimal-document.pdf"), reason="Send the letter",
                           process_id=process_id, **choices)  # type: ignore[arg-type]
    application = applications.submit(spec, org.employee, Actor.of(org.employee)).application
    db.session.commit()
    return application


def _held_seal(org: Org, name: str, kind: SealKind, owner: int | None = None, custodian: int | None = None) -> int:
    seal = seals.create_seal(name, kind, SealImageSpec(name.upper()), ACTOR, org.department)
    seals.set_holders(seal.id, seals.HoldersSpec(owner_id=owner, custodian_ids=(custodian,) if custodian else (),
                                                 department_ids=(org.department.id,)), ACTOR)
    db.session.commit()
    return seal.id


def _seal_document(org: Org) -> dict[str, Any]:
    return {"application_id": _file(org).id}


def _leader_signature(org: Org) -> dict[str, Any]:
    seal_id = _held_seal(org, "Leo Personal", SealKind.PERSONAL, owner=org.leader.id)
    return {"application_id": _file(org, "leader_signature", seal_id).id}


def _party_signature(org: Org) -> dict[str, Any]:
    first = _held_seal(org, "Olga Co.", SealKind.COMPANY, custodian=org.other_approver.id)
    second = _held_seal(org, "Sam Co.", SealKind.COMPANY, custodian=org.seal_admin.id)
    parties = ((org.other_approver.id, first), (org.seal_admin.id, second))
    application = _file(org, "multi_party_signing", fields={"parties": parties})
    return {"application_id": application.id, "user_id": org.other_approver.id, "seal_id": first,
            "parties": [{"user_id": u, "seal_id": s} for u, s in parties]}


# Every sealing operator SealFlow offers, with an application filed for it and never approved. An operator added to
# them fails test_every_sealing_operator_is_covered until it is listed here, and so is tested against the gate.
UNAPPROVED: dict[str, Callable[[Org], dict[str, Any]]] = {
    "seal_document": _seal_document,
    "apply_leader_signature": _leader_signature,
    "add_party_signature": _party_signature,
}


def test_every_sealing_operator_is_covered():
    assert set(UNAPPROVED) == SEALING_OPERATORS and SEALING_OPERATORS <= set(OPERATORS)


@pytest.mark.parametrize("operation", sorted(UNAPPROVED))
def test_no_operator_seals_an_application_nobody_approved(app: Flask, org: Org, operation: str):
    params = UNAPPROVED[operation](org)
    with pytest.raises(gate.SealingRefused, match="has not been approved"):
        OPERATORS[operation](params, ACTOR)
    db.session.rollback()
    application = applications.get_application(params["application_id"])
    assert application.document(DocumentKind.SEALED) is None


def _sealing_refusals() -> list[AuditEvent]:
    return list(db.session.execute(select(AuditEvent).where(AuditEvent.action == "sealing.refused")).scalars())


def test_a_diagram_straight_to_sealing_is_refused_at_deploy_and_if_forced_in_the_gate_refuses(app: Flask,
                                                                                             org: Org):
    problems = flows.validate_file(STRAIGHT)
    assert [(p.element_id, "without passing the policy step" in p.message) for p in problems] == [("seal", True)]
    with pytest.raises(InvalidDefinition, match="without passing the policy step"):
        flows.deploy_file(STRAIGHT, ACTOR)
    db.session.rollback()

    # Forced into the database by hand, as its newest version: applications start on it and reach sealing at once.
    root = etree.fromstring(STRAIGHT.read_bytes())
    newest = latest_definition("seal_application")
    db.session.add(ProcessDefinition(process_id="seal_application", name="forced", version=newest.version + 1,
                                     content_hash="forced", source_name=STRAIGHT.name,
                                     bpmn_xml=STRAIGHT.read_text(),
                                     spec_json=_spiff_spec(root, STRAIGHT.name, "seal_application", [])))
    db.session.commit()
    application = _file(org)
    assert db.session.execute(select(Job.operation)).scalars().all() == ["seal_document"]
    work_off_queue(app)

    db.session.expire_all()
    application = applications.get_application(application.id)
    assert application.status == ApplicationStatus.FAILED and application.document(DocumentKind.SEALED) is None
    assert "level 1 (Department head) has not been approved" in (application.failure_reason or "")
    assert db.session.execute(select(Job.status)).scalar_one() == JobStatus.FAILED  # refused for good, not retried
    [refusal] = _sealing_refusals()
    assert refusal.object_id == str(application.id)
    assert refusal.details["reasons"] == ["level 1 (Department head) has not been approved"]


def test_a_document_replaced_after_approval_is_refused_at_the_gate(app: Flask, org: Org):
    application = _file(org)
    [task] = approvals.inbox(org.head)
    approvals.decide(task.id, org.head, "approve", "", Actor.of(org.head))
    db.session.commit()
    other = corpus_pdf("pdflatex-4-pages.pdf")  # swapped in before the worker ran
    documents.add_document(application.id, DocumentKind.ORIGINAL, "letter.pdf", other, 4)
    db.session.commit()
    work_off_queue(app)

    db.session.expire_all()
    application = applications.get_application(application.id)
    assert application.status == ApplicationStatus.FAILED and application.document(DocumentKind.SEALED) is None
    assert [e.details["reasons"] for e in _sealing_refusals()] == [
        ["level 1 (Department head) was approved on another version of the document"]]


def test_stored_content_that_no_longer_matches_its_fingerprint_is_refused(app: Flask, org: Org):
    application = _file(org)
    original = application.document(DocumentKind.ORIGINAL)
    assert original is not None
    with pytest.raises(gate.SealingRefused, match="does not match its recorded fingerprint"):
        gate.check(application, original, corpus_pdf("pdflatex-4-pages.pdf"))


def test_an_application_filed_before_the_policy_was_recorded_is_never_sealed(app: Flask, org: Org):
    application = _file(org)
    [task] = approvals.inbox(org.head)
    approvals.decide(task.id, org.head, "approve", "", Actor.of(org.head))
    application.required_approvals = []  # as the migration leaves applications filed before it
    db.session.commit()
    work_off_queue(app)
    db.session.expire_all()
    assert applications.get_application(application.id).status == ApplicationStatus.FAILED
    assert "filed before the seal policy was enforced" in _sealing_refusals()[0].details["reasons"][0]


def test_a_policy_step_with_a_boundary_path_to_sealing_is_a_bypass(app: Flask, org: Org, tmp_path):
    text = (DATA / "sealing_with_fallback.bpmn").read_text()
    # A timer on the policy step that leads straight to sealing skips the levels still waiting.
    text = text.replace('<bpmn:serviceTask id="stamp_and_sign"', '''<bpmn:boundaryEvent id="too_slow"
        attachedToRef="head_approval"><bpmn:outgoing>to_seal_anyway</bpmn:outgoing>
        <bpmn:timerEventDefinition><bpmn:timeDuration>"P1D"</bpmn:timeDuration></bpmn:timerEventDefinition>
      </bpmn:boundaryEvent>
      <bpmn:sequenceFlow id="to_seal_anyway" sourceRef="too_slow" targetRef="stamp_and_sign" />
      <bpmn:serviceTask id="stamp_and_sign"''', 1)
    path = tmp_path / "sealing_with_fallback.bpmn"
    path.write_text(text)
    problems = flows.validate_file(path)
    assert any(p.element_id == "stamp_and_sign" and "policy step" in p.message for p in problems), problems
