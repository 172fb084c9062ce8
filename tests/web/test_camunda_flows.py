"""Diagrams drawn in Camunda Modeler (tests/data/camunda/), deployed as the process the filing form offers, met over
HTTP: where issue 12 found a 500 or an application that waited for ever, an employee files, approvers decide from
their inboxes, and each step either runs as drawn or fails the application with a reason that names the element."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import ApplicationStatus, DocumentKind, InstanceStatus, ProcessInstance, SealApplication
from app.models.audit import Actor
from app.services import flows
from tests.conftest import DATA, contract_pdf, file_application, login, logout, ready_task_id, work_off_queue

CAMUNDA = DATA / "camunda"


def _deploy_as(name: str, process_id: str, folder: Path, *replacements: tuple[str, str]) -> None:
    """Deploy tests/data/camunda/<name>.bpmn as the newest version of a process the filing form offers."""
    xml = (CAMUNDA / f"{name}.bpmn").read_text()
    drawn = re.search(r'<bpmn:process id="([^"]+)"', xml)
    assert drawn is not None
    for old, new in ((f'"{drawn.group(1)}"', f'"{process_id}"'), *replacements):
        assert old in xml, old
        xml = xml.replace(old, new)
    path = folder / f"{process_id}.bpmn"
    path.write_text(xml)
    definition, _ = flows.deploy_file(path, Actor.system("test"))
    db.session.commit()
    assert definition.process_id == process_id


def _decide(client, username: str, decision: str = "approve") -> str:
    """The user decides the first task of their inbox; the page the decision leads to."""
    login(client, username)
    response = client.post(f"/tasks/{ready_task_id(client)}", data={"decision": decision, "comment": "ok"})
    assert response.status_code == 302, response.text
    page = client.get(response.location).text
    logout(client)
    return page


def _application(application_id: int) -> SealApplication:
    db.session.expire_all()
    application = db.session.get(SealApplication, application_id)
    assert application is not None
    return application


def _inbox(client, username: str) -> str:
    login(client, username)
    page = client.get("/inbox").text
    logout(client)
    return page


def test_a_plain_iso_timer_no_longer_fails_every_filing(client, org, tmp_path):
    """`P3D` was evaluated as Python: every filing was refused (NameError: name 'P3D' is not defined)."""
    _deploy_as("timer_escalation", "seal_application", tmp_path)
    login(client, "emma")
    application_id = file_application(client, org.contract_seal.id, contract_pdf())
    logout(client)
    assert _application(application_id).status == ApplicationStatus.PENDING
    assert "Approver review" in _inbox(client, "harry")


@pytest.mark.parametrize("duration, reason", [
    # Present but empty (no amount was filed): SpiffWorkflow failed on None itself, and the decision answered 500.
    ("amount", "the timer 'amount' of Event_reminder (Reminder) gave 'None', which is not an ISO 8601 duration such "
               "as P3D or PT4H"),
    ("${reminder_after}", "the expression 'reminder_after' of Event_reminder (Reminder) failed: the process data "
                          "has no 'reminder_after'"),
])
def test_a_timer_reading_a_missing_value_fails_the_application_at_the_decision(client, org, tmp_path, duration,
                                                                                reason):
    _deploy_as("reminder_from_data", "seal_application", tmp_path, ("${reminder_after}", duration))
    login(client, "emma")
    application_id = file_application(client, org.contract_seal.id, contract_pdf())
    logout(client)
    page = _decide(client, "harry")
    assert "Your decision could not be carried out, and the application has failed" in page
    assert reason in page.replace("&#39;", "'")
    application = _application(application_id)
    assert application.status == ApplicationStatus.FAILED and reason in (application.failure_reason or "")


def test_a_condition_reading_an_empty_amount_fails_the_application_saying_so(client, org, tmp_path):
    _deploy_as("amount_conditions", "seal_application", tmp_path)
    login(client, "emma")
    application_id = file_application(client, org.contract_seal.id, contract_pdf())  # no amount
    logout(client)
    page = _decide(client, "harry").replace("&#39;", "'").replace("&gt;", ">")
    assert "the expression 'amount > 1000' of Gateway_amount (How large?) failed: amount has no value" in page
    assert _application(application_id).status == ApplicationStatus.FAILED
    assert "Leader review" not in _inbox(client, "leo")


def test_a_large_amount_takes_the_juel_condition_to_the_leaders(client, org, tmp_path):
    _deploy_as("amount_conditions", "seal_application", tmp_path)
    login(client, "emma")
    response = client.post("/applications/new", data={
        "seal_id": str(org.contract_seal.id), "document_type": "contract", "title": "Supply contract",
        "reason": "Supply contract", "amount": "5000", "document": (io.BytesIO(contract_pdf()), "contract.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 302, response.text
    logout(client)
    _decide(client, "harry")
    assert "Leader review" in _inbox(client, "leo")


def test_a_camunda_property_assignee_sends_the_task_to_that_person_only(client, org, tmp_path):
    """The task went to every approver of its lane: the property was read at validation, not at run time."""
    _deploy_as("property_assignee", "seal_application", tmp_path)
    login(client, "emma")
    file_application(client, org.contract_seal.id, contract_pdf())
    logout(client)
    assert "Legal review" not in _inbox(client, "harry")
    assert "Legal review" in _inbox(client, "olga")
    assert "Decision recorded." in _decide(client, "olga")


def test_a_camunda_drawn_countersign_is_approved_by_each_countersigner_and_sealed(client, org, app, tmp_path):
    """The policy step and the countersign, both drawn as camunda:collection multi-instances: the department head
    decides the policy's level, each countersigner their own task; the sealing gate lets the seal on."""
    _deploy_as("countersign_collection", "countersign", tmp_path)
    login(client, "emma")
    application_id = file_application(client, org.contract_seal.id, contract_pdf(), process_id="countersign",
                                      countersigners=[str(org.other_approver.id), str(org.leader.id)])
    logout(client)
    _decide(client, "harry")
    assert "Countersign" in _inbox(client, "olga") and "Countersign" in _inbox(client, "leo")
    assert "Countersign" not in _inbox(client, "harry")
    _decide(client, "olga")
    _decide(client, "leo")
    work_off_queue(app)
    application = _application(application_id)
    assert application.status == ApplicationStatus.SEALED, application.failure_reason
    assert application.document(DocumentKind.SEALED) is not None


def test_a_task_of_a_called_process_is_decided_from_the_inbox(client, org, tmp_path):
    _deploy_as("call_in_file", "seal_application", tmp_path)
    login(client, "emma")
    application_id = file_application(client, org.contract_seal.id, contract_pdf())
    logout(client)
    _decide(client, "harry")
    assert "Leader checks the text" in _inbox(client, "leo")
    login(client, "leo")
    task_page = client.get(f"/tasks/{ready_task_id(client)}")
    assert task_page.status_code == 200 and "Leader checks the text" in task_page.text
    logout(client)
    _decide(client, "leo")
    instance = db.session.execute(select(ProcessInstance).where(
        ProcessInstance.application_id == application_id)).scalar_one()
    db.session.refresh(instance)
    assert (instance.status, instance.outcome) == (InstanceStatus.COMPLETED, "Event_done")
