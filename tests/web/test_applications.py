"""The filing page (app/web/applications.py): the processes offered to the employee, each with its own fields, and
what the server does with what is posted, whatever the browser let through."""

from __future__ import annotations

import io
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, SealApplication
from tests.conftest import Org, contract_pdf, login
from tests.services.test_filing import _deploy


def _post(client: FlaskClient, org: Org, **fields: object):
    data = {"process_id": "purchase", "seal_id": str(org.contract_seal.id), "document_type": "contract",
            "title": "Office chairs purchase", "reason": "Office chairs",
            "document": (io.BytesIO(contract_pdf()), "contract.pdf"), **fields}
    return client.post("/applications/new", data=data, content_type="multipart/form-data")


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(SealApplication)) or 0


def test_the_chooser_lists_the_offered_processes_and_a_process_page_asks_for_its_fields(
        client: FlaskClient, org: Org, tmp_path: Path):
    _deploy(tmp_path, attributes='camunda:candidateStarterGroups="Sales"')
    login(client, "emma")
    chooser = client.get("/applications/new").text
    assert "Purchase contract" in chooser and "It asks for:" in chooser and "Counterparty" in chooser
    assert "deployment_approval" not in chooser
    page = client.get("/applications/new?process=purchase").text
    assert 'name="counterparty"' in page and 'name="copies"' in page and 'value="1"' in page
    assert 'name="witnesses"' in page and ">Alice<" not in page  # auditors are never offered
    assert client.get("/applications/new?process=no_such_process").status_code == 404


def test_what_the_form_declares_is_checked_on_the_server_and_a_refusal_writes_nothing(
        client: FlaskClient, org: Org, tmp_path: Path):
    _deploy(tmp_path, attributes='camunda:candidateStarterGroups="Sales"')
    login(client, "emma")
    for fields, message in [
        ({"counterparty": " ", "copies": "1"}, "“Counterparty” is required"),
        ({"counterparty": "ACME", "copies": "1e9"}, "“Copies”: give a whole number"),
        ({"counterparty": "ACME", "copies": "1", "witnesses": [str(org.auditor.id)]}, "auditors never decide"),
        ({"counterparty": "ACME", "copies": "1", "witnesses": [str(org.employee.id)]}, "cannot name yourself"),
        ({"counterparty": "ACME", "copies": "1", "witnesses": ["999999"]}, "does not exist"),
    ]:
        response = _post(client, org, **fields)
        assert response.status_code in (404, 422), (fields, response.status_code)
        assert message in response.text, (fields, response.text[-2000:])
        assert ">ACME</textarea>" in response.text or fields["counterparty"] == " "  # what was typed stays
    # The process's own Counterparty and Copies fill the application's (its page shows no second pair), within the
    # application's bounds.
    page = client.get("/applications/new?process=purchase").text
    assert page.count('name="counterparty"') == 1 and page.count('name="copies"') == 1 and 'name="title"' in page
    response = _post(client, org, counterparty="ACME", copies="1,001", witnesses=[str(org.head.id)])
    assert response.status_code == 422 and "between 1 and 1000" in response.text
    assert _count() == 0
    response = _post(client, org, counterparty="ACME Furniture Ltd", copies="1,000", witnesses=[str(org.head.id)])
    assert response.status_code == 302, response.text
    filed = db.session.execute(select(AuditEvent).where(AuditEvent.action == "application.submitted")).scalar_one()
    assert (filed.details["counterparty"], filed.details["copies"], filed.details["witnesses"]) == (
        "ACME Furniture Ltd", 1000, [org.head.id])
    application = db.session.execute(select(SealApplication)).scalar_one()
    assert (application.title, application.counterparty, application.copies) == (
        "Office chairs purchase", "ACME Furniture Ltd", 1000)


def test_a_process_not_offered_to_the_employee_is_refused_when_posted_to_anyway(
        client: FlaskClient, org: Org, tmp_path: Path):
    _deploy(tmp_path, attributes='camunda:candidateStarterGroups="Office"')
    login(client, "emma")
    assert "Purchase contract" not in client.get("/applications/new").text
    assert client.get("/applications/new?process=purchase").status_code == 403
    assert _post(client, org, counterparty="ACME", copies="1").status_code == 403
    assert _post(client, org, process_id="deployment_approval").status_code == 404
    assert _count() == 0
