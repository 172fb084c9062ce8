"""Which processes reach which employees, with their own fields (app/services/filing.py), and an application filed
on a process a seal administrator deployed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.errors import InvalidInput, NotFound, PermissionDenied, PolicyViolation
from app.extensions import db
from app.models import AuditEvent, HumanTask, RoleName, SealApplication, SealKind
from app.models.audit import Actor
from app.pdf import SealImageSpec
from app.services import accounts, applications, filing, flows, seals
from app.services.applications import ApplicationSpec
from tests.conftest import PASSWORD, Org, corpus_pdf

ACTOR = Actor.system("test")
SHIPPED = Path(__file__).resolve().parents[2] / "bpmn" / "seal_application.bpmn"
PURCHASE_FORM = """
      <bpmn:extensionElements><camunda:formData>
        <camunda:formField id="counterparty" label="Counterparty" type="string">
          <camunda:validation><camunda:constraint name="required" /></camunda:validation></camunda:formField>
        <camunda:formField id="copies" label="Copies" type="long" defaultValue="1" />
        <camunda:formField id="witnesses" label="Witnesses" type="users" />
      </camunda:formData></bpmn:extensionElements>"""


def _deploy(tmp_path: Path, process_id: str = "purchase", attributes: str = "", form: str = PURCHASE_FORM,
            seal_kinds: str = "") -> None:
    """seal_application's diagram under another id, with this start form, audience and seal kinds."""
    xml = SHIPPED.read_text().replace('id="seal_application" name="Seal application"',
                                      f'id="{process_id}" name="Purchase contract" {attributes}')
    xml = xml.replace('xmlns:spiffworkflow=', 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:spiffworkflow=')
    xml = xml.replace('<bpmn:startEvent id="submitted" name="Application submitted">',
                      f'<bpmn:startEvent id="submitted" name="Application submitted">{form}')
    if seal_kinds:
        xml = re.sub(r"(</bpmn:documentation>)", r'\1<bpmn:extensionElements><camunda:properties><camunda:property '
                     f'name="sealKinds" value="{seal_kinds}" /></camunda:properties></bpmn:extensionElements>', xml,
                     count=1)
    path = tmp_path / f"{process_id}.bpmn"
    path.write_text(xml)
    flows.deploy_file(path, ACTOR)
    db.session.commit()


def _offered(user) -> list[str]:
    return [o.process_id for o in filing.offers(user)]


def test_a_deployed_process_reaches_the_departments_it_is_offered_to(app: Flask, org: Org, tmp_path: Path):
    purchasing = accounts.get_or_create_department("Purchasing")
    buyers = accounts.get_or_create_department("Buyers")
    buyers.parent = purchasing
    bob = accounts.save_user("bob", "Bob", PASSWORD, {RoleName.EMPLOYEE}, buyers)
    db.session.commit()
    _deploy(tmp_path, attributes='camunda:candidateStarterGroups="purchasing"')
    shipped = ["countersign", "leader_signature", "multi_party_signing", "seal_application"]
    assert sorted(_offered(bob)) == sorted([*shipped, "purchase"])  # a team of the department named
    assert sorted(_offered(org.employee)) == shipped and "deployment_approval" not in _offered(org.employee)
    with pytest.raises(PermissionDenied, match="offered to other departments"):
        filing.offer("purchase", org.employee)
    assert filing.offer("purchase", bob).filing.name == "Purchase contract"
    for unknown in ("deployment_approval", "no_such_process"):
        with pytest.raises(NotFound):
            filing.offer(unknown, bob)


@pytest.mark.parametrize("attributes, emma_offered", [
    ('camunda:candidateStarterUsers="harry, emma"', True),
    ('camunda:candidateStarterUsers="harry"', False),
    ('camunda:candidateStarterGroups="approver"', False),  # a role: harry has it, emma not
    ('camunda:candidateStarterGroups="Office" camunda:candidateStarterUsers="EMMA"', True),
    ('camunda:isStartableInTasklist="false"', False),
])
def test_starter_users_roles_and_the_filing_page_flag(app: Flask, org: Org, tmp_path: Path, attributes: str,
                                                      emma_offered: bool):
    _deploy(tmp_path, attributes=attributes)
    assert ("purchase" in _offered(org.employee)) is emma_offered
    if "approver" in attributes:
        assert "purchase" in _offered(org.head)


def test_a_process_made_for_some_kinds_of_seal_offers_only_those(app: Flask, org: Org, tmp_path: Path):
    finance = seals.create_seal("Finance Seal", SealKind.FINANCE, SealImageSpec("ORG", "FINANCE"), ACTOR,
                                org.department)
    db.session.commit()
    _deploy(tmp_path, seal_kinds="finance")
    offer = filing.offer("purchase", org.employee)
    assert [s.name for s in filing.seals_for(offer.filing, org.employee)] == ["Finance Seal"]
    with pytest.raises(InvalidInput, match="made for other kinds of seal"):
        _file(org, seal_id=org.contract_seal.id, fields={"counterparty": "ACME"})
    assert _file(org, seal_id=finance.id, fields={"counterparty": "ACME"}).process_id == "purchase"


def _file(org: Org, process_id: str = "purchase", seal_id: int | None = None, **options: object) -> SealApplication:
    spec = ApplicationSpec(seal_id=seal_id or org.contract_seal.id, document_type="contract",
                           filename="contract.pdf", content=corpus_pdf("minimal-document.pdf"), reason="Purchase",
                           process_id=process_id, **options)  # type: ignore[arg-type]
    application = applications.submit(spec, org.employee, Actor.of(org.employee)).application
    db.session.commit()
    return application


def test_the_fields_filed_are_the_process_data_and_in_the_log(app: Flask, org: Org, tmp_path: Path):
    _deploy(tmp_path)
    application = _file(org, fields={"counterparty": " ACME Ltd ", "witnesses": [str(org.other_approver.id)]})
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "application.submitted")).scalar_one()
    assert (event.details["counterparty"], event.details["copies"], event.details["witnesses"]) == (
        "ACME Ltd", 1, [org.other_approver.id])
    assert db.session.execute(select(HumanTask)).scalar_one().instance.application_id == application.id


@pytest.mark.parametrize("fields, error, message", [
    ({}, InvalidInput, "“Counterparty” is required"),
    ({"counterparty": "ACME", "copies": "many"}, InvalidInput, "“Copies”: give a whole number"),
    ({"counterparty": "ACME", "witnesses": ["EMMA"]}, InvalidInput, "you cannot name yourself"),
    ({"counterparty": "ACME", "witnesses": ["ALICE"]}, InvalidInput, "auditors never decide or sign"),
    ({"counterparty": "ACME", "witnesses": ["424242"]}, InvalidInput, "does not exist or is inactive"),
    ({"counterparty": "ACME", "price": "1"}, InvalidInput, "this form has no field 'price'"),
])
def test_what_the_form_refuses_files_nothing(app: Flask, org: Org, tmp_path: Path, fields: dict[str, object],
                                             error: type[Exception], message: str):
    _deploy(tmp_path)
    ids = {"EMMA": str(org.employee.id), "ALICE": str(org.auditor.id)}
    fields = {k: [ids.get(v, v) for v in value] if isinstance(value, list) else value for k, value in fields.items()}
    with pytest.raises(error, match=message):
        _file(org, fields=fields)
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(SealApplication)).scalar() == 0


def test_parties_hold_their_seals_and_sign_once(app: Flask, org: Org):
    seals.set_holders(org.contract_seal.id, seals.HoldersSpec(custodian_ids=(org.head.id,),
                                                              department_ids=(org.department.id,)), ACTOR)
    db.session.commit()
    head, olga, seal = org.head.id, org.other_approver.id, org.contract_seal.id
    for parties, error, message in [
        (((head, seal), (head, seal)), InvalidInput, "each party signs once"),
        (((head, seal), (olga, seal)), PolicyViolation, "not held by that party"),
    ]:
        with pytest.raises(error, match=message):
            _file(org, "multi_party_signing", fields={"parties": parties})
        db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(SealApplication)).scalar() == 0


def test_process_names_come_from_the_diagram(app: Flask, org: Org, tmp_path: Path):
    _deploy(tmp_path)
    assert filing.process_name("purchase") == "Purchase contract"
    assert filing.process_name("never_deployed") == "never_deployed"
    assert ("purchase", "Purchase contract") in filing.startable_processes()
    assert "deployment_approval" not in dict(filing.startable_processes())
