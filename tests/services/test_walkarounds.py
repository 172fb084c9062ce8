"""Security review of issue 10 (the policy, the gate, separation of duties): walk-arounds, each proved by a test
that FAILS while the hole exists (and passes once it is closed).

The organisation (the `org` fixture, extended): Sales (head harry) under the Office (head leo); leaders leo and
lin; seal administrator sam; olga another approver; alice audits; emma an employee of Sales.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from app.errors import InvalidInput, NotFound, PermissionDenied
from app.extensions import db
from app.models import (
    ApplicationStatus,
    AuditEvent,
    DocumentKind,
    Job,
    RoleName,
    SealApplication,
    SealKind,
    TaskState,
    User,
)
from app.models.audit import Actor
from app.models.timestamps import utcnow
from app.pdf import SealImageSpec
from app.services import accounts, applications, approvals, flows, seals, substitutes
from app.services.applications import ApplicationSpec
from tests.conftest import PASSWORD, Org, corpus_pdf, work_off_queue

ACTOR = Actor.system("review")


# --- helpers ------------------------------------------------------------------------------------------------------

@pytest.fixture
def lin(org: Org) -> User:
    office = accounts.get_or_create_department("Office")
    office.head = org.leader
    org.department.parent = office
    lin = accounts.save_user("lin", "Lin", PASSWORD, {RoleName.EMPLOYEE, RoleName.LEADER}, office)
    seals.set_holders(org.contract_seal.id, seals.HoldersSpec(department_ids=(org.department.id, office.id)), ACTOR)
    db.session.commit()
    return lin


def _file(org: Org, requester: User, process_id: str = "seal_application", document_type: str = "letter",
          amount: str | None = None, seal_id: int | None = None, **choices: object) -> SealApplication:
    spec = ApplicationSpec(seal_id=seal_id or org.contract_seal.id, document_type=document_type,
                           filename="doc.pdf", content=corpus_pdf("minimal-document.pdf"), reason="Review",
                           amount=None if amount is None else Decimal(amount), process_id=process_id,
                           **choices)  # type: ignore[arg-type]
    application = applications.submit(spec, requester, Actor.of(requester)).application
    db.session.commit()
    return application


def _waiting(application: SealApplication):
    [task] = [t for t in applications.approval_steps(applications.get_application(application.id))
              if t.state == TaskState.READY]
    return task


def _decide(user: User, application: SealApplication, decision: str = "approve") -> None:
    approvals.decide(_waiting(application).id, user, decision, f"{decision} by {user.username}", Actor.of(user))
    db.session.commit()


def _fresh(application_id: int) -> SealApplication:
    db.session.expire_all()
    return applications.get_application(application_id)


def _away(absent: User, substitute: User) -> None:
    now = utcnow()
    substitutes.name_substitute(absent, substitute.id, now - timedelta(hours=1), now + timedelta(days=2), "Trip",
                                Actor.of(absent))
    db.session.commit()


def _held_seal(org: Org, name: str, kind: SealKind, owner: int | None = None, custodians: tuple[int, ...] = (),
               departments: tuple[int, ...] = ()) -> int:
    seal = seals.create_seal(name, kind, SealImageSpec(name.upper()), ACTOR)
    seals.set_holders(seal.id, seals.HoldersSpec(owner_id=owner, custodian_ids=custodians,
                                                 department_ids=departments), ACTOR)
    db.session.commit()
    return seal.id


def _sealed_events(application_id: int) -> list[AuditEvent]:
    return list(db.session.execute(select(AuditEvent).where(
        AuditEvent.action.in_(("document.sealed", "document.signed")),
        AuditEvent.object_id == str(application_id))).scalars())


# Minimal diagrams a seal administrator might draw (no DI: the modeler adds it, SealFlow does not need it).
HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions '
        'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="D_{pid}" '
        'targetNamespace="http://sealflow.example/review"><bpmn:process id="{pid}" isExecutable="true">')
TAIL = "</bpmn:process></bpmn:definitions>"
SEAL = ('<bpmn:serviceTask id="{id}"><bpmn:extensionElements><spiffworkflow:serviceTaskOperator id="seal_document" '
        'resultVariable="r"><spiffworkflow:parameters><spiffworkflow:parameter id="application_id" type="int" '
        'value="{value}"/></spiffworkflow:parameters></spiffworkflow:serviceTaskOperator></bpmn:extensionElements>'
        '{io}</bpmn:serviceTask>')
POLICY = ('<bpmn:userTask id="policy"><bpmn:extensionElements><spiffworkflow:properties>'
          '<spiffworkflow:property name="assignee" value="policy"/></spiffworkflow:properties>'
          '</bpmn:extensionElements>{io}<bpmn:multiInstanceLoopCharacteristics isSequential="true">'
          '<bpmn:loopDataInputRef>required_approvals</bpmn:loopDataInputRef>'
          '<bpmn:inputDataItem id="required_approval" name="required_approval"/>'
          '<bpmn:completionCondition>decision != "approve"</bpmn:completionCondition>'
          '</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>')


def _io(incoming: str | None = None, outgoing: str | None = None) -> str:
    return ((f"<bpmn:incoming>{incoming}</bpmn:incoming>" if incoming else "")
            + (f"<bpmn:outgoing>{outgoing}</bpmn:outgoing>" if outgoing else ""))


def _flow(flow_id: str, source: str, target: str, condition: str | None = None) -> str:
    body = f"<bpmn:conditionExpression>{condition}</bpmn:conditionExpression>" if condition else ""
    return f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">{body}</bpmn:sequenceFlow>'


def _write(tmp_path: Path, pid: str, body: str) -> Path:
    path = tmp_path / f"{pid}.bpmn"
    path.write_text(HEAD.format(pid=pid) + body + TAIL)
    return path


def _relay(tmp_path: Path, target_expression: str) -> Path:
    """A valid-looking flow: the policy step, then sealing, whose application_id parameter is an expression the
    diagram chooses (here: another application's id)."""
    body = (f'<bpmn:startEvent id="s">{_io(outgoing="f1")}</bpmn:startEvent>'
            + POLICY.format(io=_io("f1", "f2"))
            + f'<bpmn:exclusiveGateway id="g" default="f4">{_io("f2")}<bpmn:outgoing>f3</bpmn:outgoing>'
              '<bpmn:outgoing>f4</bpmn:outgoing></bpmn:exclusiveGateway>'
            + SEAL.format(id="seal", value=target_expression, io=_io("f3", "f5"))
            + f'<bpmn:endEvent id="done">{_io("f5")}</bpmn:endEvent>'
            + f'<bpmn:endEvent id="rejected">{_io("f4")}</bpmn:endEvent>'
            + _flow("f1", "s", "policy") + _flow("f2", "policy", "g")
            + _flow("f3", "g", "seal", 'decision == "approve"') + _flow("f4", "g", "rejected")
            + _flow("f5", "seal", "done"))
    return _write(tmp_path, "relay", body)


# =================================================================================================================
# FINDING 1: a sealing job seals whatever application its diagram names; the gate never asks whether that
# application's own process is the one sealing it, nor whether the application was withdrawn or rejected.
# =================================================================================================================

@pytest.mark.parametrize("ending", ["withdrawn", "rejected by the countersigner",
                                    "still waiting for its countersigner"])
def test_an_application_is_sealed_only_by_its_own_process(
        app: Flask, org: Org, tmp_path: Path, ending: str):
    # B: emma's letter, countersigned by olga. The head approves the policy's level, then B ends without sealing.
    b = _file(org, org.employee, "countersign", fields={"countersigners": (org.other_approver.id,)})
    _decide(org.head, b)
    if ending == "withdrawn":
        applications.withdraw(b.id, org.employee, Actor.of(org.employee))
        db.session.commit()
        assert _fresh(b.id).status == ApplicationStatus.WITHDRAWN
    elif ending == "rejected by the countersigner":
        _decide(org.other_approver, b, "reject")
        assert _fresh(b.id).status == ApplicationStatus.REJECTED
    else:
        assert _fresh(b.id).status == ApplicationStatus.PENDING and _waiting(b).assignee_id == org.other_approver.id
    assert _fresh(b.id).document(DocumentKind.SEALED) is None

    # A seal administrator deploys a flow that validates cleanly (policy step before sealing) but whose sealing
    # task names another application; any innocuous application A filed through it, once approved, seals B.
    path = _relay(tmp_path, str(b.id))
    assert flows.validate_file(path) == []
    flows.deploy_file(path, ACTOR)
    db.session.commit()
    a = _file(org, org.employee, "relay")
    _decide(org.head, a)
    work_off_queue(app)

    assert _fresh(b.id).document(DocumentKind.SEALED) is None, (
        f"application {b.id} was {ending} and yet was sealed by application {a.id}'s flow")
    assert _sealed_events(b.id) == []


# =================================================================================================================
# FINDING 2: the gate's "signer's own agreement" is satisfied by ANY approval the signer gave in the round, e.g. their
# policy-level approval; the signing step itself may be decided by their substitute.
# =================================================================================================================

def test_a_substitute_cannot_make_a_party_sign_because_the_party_approved_a_policy_level(app: Flask, org: Org):
    harry_seal = _held_seal(org, "Harry Trading Seal", SealKind.COMPANY, custodians=(org.head.id,))
    olga_seal = _held_seal(org, "Olga Co Seal", SealKind.COMPANY, custodians=(org.other_approver.id,))
    application = _file(org, org.employee, "multi_party_signing",
                        fields={"parties": ((org.head.id, harry_seal), (org.other_approver.id, olga_seal))})
    _decide(org.head, application)  # level 1: harry, as emma's department head
    _away(org.head, org.leader)  # harry leaves; leo stands in for him
    task = _waiting(application)
    assert task.assignee_id == org.head.id and task.level is None  # "Sign as a party", harry's step
    _decide(org.leader, application)  # leo agrees, on behalf of harry, that harry's seal signs
    work_off_queue(app)

    signed = [e for e in _sealed_events(application.id) if e.details.get("user_id") == org.head.id]
    assert signed == [], "harry's seal signed as a party on his substitute's word alone"


def test_a_substitute_cannot_authorize_a_leaders_signature_because_the_leader_approved_a_policy_level(
        app: Flask, org: Org, lin: User):
    # The legal representative's seal, owned by leo; the policy requires a leader for it (role:leader).
    seal_id = _held_seal(org, "Legal Representative Leo", SealKind.LEGAL_REPRESENTATIVE, owner=org.leader.id,
                         departments=(org.department.id,))
    application = _file(org, org.employee, "leader_signature", seal_id=seal_id)
    assert [r["approver"] for r in application.required_approvals] == ["department_head", "role:leader"]
    _decide(org.head, application)  # level 1
    _decide(org.leader, application)  # level 2: leo approves as a leader (the policy's level, not his signature)
    work_off_queue(app)  # (on main since 043221d: the flow looks for a signature authorization first; leo has none)
    _away(org.leader, lin)
    task = _waiting(application)
    assert task.element_id == "leader_authorization" and task.assignee_id == org.leader.id
    _decide(lin, application)  # lin "authorizes" leo's signature for him
    work_off_queue(app)

    assert _fresh(application.id).document(DocumentKind.SEALED) is None, (
        "leo's signature was put on every page on his substitute's word alone")


# =================================================================================================================
# FINDING 3: the seal policy is asked only about the application's seal; a party's seal (one of the organisation's,
# held by a custodian) is applied without the approvals the policy requires for it, and without the requester
# being among its users.
# =================================================================================================================

def test_a_legal_representatives_seal_signed_as_a_party_needs_what_the_policy_requires_for_it(app: Flask, org: Org):
    # The legal representative's seal: the policy says a leader must approve its use. Harry keeps it (custodian);
    # emma's department is not among its users, so she may not request it.
    legal = _held_seal(org, "Legal Representative Seal", SealKind.LEGAL_REPRESENTATIVE, owner=org.leader.id,
                       custodians=(org.head.id,), departments=())
    olga_seal = _held_seal(org, "Olga Co Seal", SealKind.COMPANY, custodians=(org.other_approver.id,))
    assert legal not in [s.id for s in seals.requestable_seals(org.employee)]
    try:
        application = _file(org, org.employee, "multi_party_signing",
                            fields={"parties": ((org.head.id, legal), (org.other_approver.id, olga_seal))})
    except Exception:  # refused at filing: the hole is closed  # noqa: BLE001
        db.session.rollback()
        return
    levels = [r["approver"] for r in application.required_approvals]
    if "role:leader" in levels:
        return  # the policy was asked about the party's seal too: closed
    _decide(org.head, application)  # level 1 (the only one): harry, emma's head
    _decide(org.head, application)  # harry signs as party 1 with the legal representative's seal
    work_off_queue(app)
    signed = [e for e in _sealed_events(application.id) if e.details.get("seal_id") == legal]
    assert signed == [], ("the legal representative's seal was applied with only a department head's approval "
                          f"(required approvals: {levels}); the policy requires a leader for it")


# =================================================================================================================
# FINDING 4: `flows validate` misses paths to a sealing task that bypass the policy step (the gate still refuses at
# run time; these are validation false negatives).
# =================================================================================================================

def _transaction(tmp_path: Path) -> Path:
    body = (f'<bpmn:startEvent id="s">{_io(outgoing="f1")}</bpmn:startEvent>'
            f'<bpmn:transaction id="tx">{_io("f1", "f2")}'
            f'<bpmn:startEvent id="ts">{_io(outgoing="t1")}</bpmn:startEvent>'
            + SEAL.format(id="seal", value="application_id", io=_io("t1", "t2"))
            + f'<bpmn:endEvent id="te">{_io("t2")}</bpmn:endEvent>'
            + _flow("t1", "ts", "seal") + _flow("t2", "seal", "te") + "</bpmn:transaction>"
            + f'<bpmn:endEvent id="e">{_io("f2")}</bpmn:endEvent>'
            + _flow("f1", "s", "tx") + _flow("f2", "tx", "e"))
    return _write(tmp_path, "in_a_transaction", body)


def _link(tmp_path: Path) -> Path:
    body = (f'<bpmn:startEvent id="s">{_io(outgoing="f1")}</bpmn:startEvent>'
            f'<bpmn:intermediateThrowEvent id="go">{_io("f1")}<bpmn:linkEventDefinition id="l1" name="L"/>'
            '</bpmn:intermediateThrowEvent>'
            f'<bpmn:intermediateCatchEvent id="land">{_io(outgoing="f2")}<bpmn:linkEventDefinition id="l2" name="L"/>'
            '</bpmn:intermediateCatchEvent>'
            + SEAL.format(id="seal", value="application_id", io=_io("f2", "f3"))
            + f'<bpmn:endEvent id="e">{_io("f3")}</bpmn:endEvent>'
            + _flow("f1", "s", "go") + _flow("f2", "land", "seal") + _flow("f3", "seal", "e"))
    return _write(tmp_path, "through_a_link", body)


def _first_level_only(tmp_path: Path) -> Path:
    body = (f'<bpmn:startEvent id="s">{_io(outgoing="f1")}</bpmn:startEvent>'
            + POLICY.format(io=_io("f1", "f2")).replace('decision != "approve"', "True")
            + SEAL.format(id="seal", value="application_id", io=_io("f2", "f3"))
            + f'<bpmn:endEvent id="e">{_io("f3")}</bpmn:endEvent>'
            + _flow("f1", "s", "policy") + _flow("f2", "policy", "seal") + _flow("f3", "seal", "e"))
    return _write(tmp_path, "first_level_only", body)


@pytest.mark.parametrize("diagram", [_transaction, _first_level_only],
                         ids=["transaction-subprocess", "completion-condition-True"])
def test_validation_reports_every_path_to_sealing_that_skips_the_policy_levels(app: Flask, org: Org,
                                                                              tmp_path: Path, diagram):
    path = diagram(tmp_path)
    problems = flows.validate_file(path)
    if not problems:
        # It deploys, and at run time it does reach sealing without (all) the policy's approvals: the gate is then
        # the only thing in the way.
        flows.deploy_file(path, ACTOR)
        db.session.commit()
        application = _file(org, org.employee, path.stem, document_type="contract", amount="2000000")
        if path.stem == "first_level_only":
            _decide(org.head, application)
        assert db.session.execute(select(Job.operation)).scalars().all() == ["seal_document"]
        work_off_queue(app)
        assert _fresh(application.id).document(DocumentKind.SEALED) is None  # the gate held
    assert any(p.element_id == "seal" and "policy step" in p.message
               or p.element_id == "policy" and "completionCondition" in p.message for p in problems), (
        f"{path.stem}: validation reported {[(p.element_id, p.message) for p in problems]}")


# A decision table a seal administrator adds to seal_policies/ (policies are data they edit): its output is named
# like the policy step's collection, so a business-rule task before the policy step empties it.
SKIP_DMN = b'''<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="skip" name="Skip" namespace="http://x">
  <decision id="no_levels" name="No levels">
    <decisionTable id="no_levels_table" hitPolicy="FIRST">
      <input id="i1" label="Kind"><inputExpression id="ie1" typeRef="string"><text>seal_kind</text></inputExpression>
      </input>
      <output id="o1" label="Levels" name="required_approvals" typeRef="string" />
      <rule id="r1"><inputEntry id="e1"><text>-</text></inputEntry><outputEntry id="oe1"><text>[]</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>'''


def _dmn_empties_the_levels(tmp_path: Path) -> Path:
    body = (f'<bpmn:startEvent id="s">{_io(outgoing="f0")}</bpmn:startEvent>'
            '<bpmn:businessRuleTask id="rules"><bpmn:extensionElements>'
            '<spiffworkflow:calledDecisionId>no_levels</spiffworkflow:calledDecisionId></bpmn:extensionElements>'
            f'{_io("f0", "f1")}</bpmn:businessRuleTask>'
            + POLICY.format(io=_io("f1", "f2"))
            + SEAL.format(id="seal", value="application_id", io=_io("f2", "f3"))
            + f'<bpmn:endEvent id="e">{_io("f3")}</bpmn:endEvent>'
            + _flow("f0", "s", "rules") + _flow("f1", "rules", "policy") + _flow("f2", "policy", "seal")
            + _flow("f3", "seal", "e"))
    return _write(tmp_path, "dmn_empties_the_levels", body)


def test_validation_reports_a_decision_table_that_overwrites_the_policy_steps_data(app: Flask, org: Org,
                                                                                  tmp_path: Path, monkeypatch):
    shipped = flows.policies()
    monkeypatch.setattr(flows, "policies", lambda: {**shipped, "skip.dmn": SKIP_DMN})
    path = _dmn_empties_the_levels(tmp_path)
    problems = flows.validate_file(path)
    if not problems:
        flows.deploy_file(path, ACTOR)
        db.session.commit()
        application = _file(org, org.employee, path.stem)
        assert db.session.execute(select(Job.operation)).scalars().all() == ["seal_document"]  # no approval asked
        work_off_queue(app)
        assert _fresh(application.id).document(DocumentKind.SEALED) is None  # the gate held
    assert problems, "a business-rule task writes required_approvals (the policy step's input) unnoticed"


# =================================================================================================================
# FINDING 5: a leader's personal signature is applied without its owner's agreement when the application runs any
# process other than leader_signature: only apply_leader_signature asks for the owner's consent; seal_document
# (seal_application, countersign) applies an owned seal like any company seal.
# =================================================================================================================

@pytest.mark.parametrize("process_id", ["seal_application", "countersign"])
def test_a_leaders_personal_signature_is_never_applied_without_the_leader(app: Flask, org: Org, process_id: str):
    # Set up as for leader_signature (tests/services/test_control.py does the same): leo's signature, which
    # Sales may request.
    seal_id = _held_seal(org, "Leo's Signature", SealKind.PERSONAL, owner=org.leader.id,
                         departments=(org.department.id,))
    choices = {"fields": {"countersigners": (org.other_approver.id,)}} if process_id == "countersign" else {}
    with pytest.raises(InvalidInput, match="is a person's signature"):  # refused at filing
        _file(org, org.employee, process_id, seal_id=seal_id, **choices)
    db.session.rollback()

    # And if the application's seal were swapped for leo's after filing (a row changed by hand), the gate refuses:
    # whatever operator applies it, a person's signature needs its owner's own word.
    application = _file(org, org.employee, process_id, **choices)
    _decide(org.head, application)
    if process_id == "countersign":
        _decide(org.other_approver, application)
    application.seal_id = seal_id
    db.session.commit()
    work_off_queue(app)
    assert _fresh(application.id).document(DocumentKind.SEALED) is None
    assert "the signer has not agreed to sign" in (_fresh(application.id).failure_reason or "")


def test_over_http_emma_cannot_get_leos_signature_through_the_plain_seal_application_form(app: Flask, org: Org,
                                                                                          client):
    import io

    from tests.conftest import login

    seal_id = _held_seal(org, "Leo's Signature", SealKind.PERSONAL, owner=org.leader.id,
                         departments=(org.department.id,))
    login(client, "emma")
    # offered, as leader_signature needs
    assert f'value="{seal_id}"' in client.get("/applications/new?process=leader_signature").text
    response = client.post("/applications/new", data={
        "seal_id": str(seal_id), "document_type": "letter", "title": "Bank letter", "reason": "Review",
        "process_id": "seal_application",
        "document": (io.BytesIO(corpus_pdf("minimal-document.pdf")), "doc.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 422 and "is a person&#39;s signature" in response.text
    assert db.session.execute(select(SealApplication)).first() is None


# =================================================================================================================
# Walk-arounds tried that ARE refused (these pass on main; kept as regression checks).
# =================================================================================================================

def test_refused_a_role_removed_between_assignment_and_decision(app: Flask, org: Org, lin: User):
    application = _file(org, org.employee, document_type="contract", amount="200000")
    _decide(org.head, application)
    task = _waiting(application)
    assert {str(c.role) for c in task.candidates} == {"leader"}
    accounts.save_user("lin", "Lin", PASSWORD, {RoleName.EMPLOYEE}, lin.department)  # no longer a leader
    db.session.commit()
    with pytest.raises(NotFound, match="does not exist"):  # no longer hers to see, so not there at all
        approvals.decide(task.id, lin, "approve", "", Actor.of(lin))
    db.session.rollback()


def test_refused_a_department_head_replaced_before_deciding(app: Flask, org: Org):
    application = _file(org, org.employee)
    task = _waiting(application)
    org.department.head = org.other_approver
    db.session.commit()
    with pytest.raises(PermissionDenied, match="any more"):
        approvals.decide(task.id, org.head, "approve", "", Actor.of(org.head))
    db.session.rollback()
    assert _fresh(application.id).document(DocumentKind.SEALED) is None


def test_refused_extra_fields_posted_with_a_decision(app: Flask, org: Org, client):
    from tests.conftest import file_for_the_head, ready_task_id

    application_id = file_for_the_head(client, org.contract_seal.id, corpus_pdf("minimal-document.pdf"),
                                       amount="2000000")
    task_id = ready_task_id(client)
    forged = [{"level": 1, "approver": "department_head", "label": "x"}]
    client.post(f"/tasks/{task_id}", data={"decision": "approve", "required_approvals": str(forged),
                                           "required_approval": "x", "decided_as": "role:leader", "level": "3"})
    db.session.expire_all()
    [event] = [e for e in db.session.execute(select(AuditEvent).where(AuditEvent.action == "task.completed"))
               .scalars()]
    assert set(event.details["data"]) == {"decision", "comment"}
    assert _waiting(applications.get_application(application_id)).level == 2  # the next level waits


def test_refused_the_sealing_job_run_twice(app: Flask, org: Org):
    from app.jobs.runner import run_job

    application = _file(org, org.employee)
    _decide(org.head, application)
    [job] = db.session.execute(select(Job)).scalars()
    assert run_job(job.id) == "done" and run_job(job.id) == "already done"
    assert len([e for e in _sealed_events(application.id)]) == 1
