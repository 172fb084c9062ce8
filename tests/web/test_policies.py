"""The decision tables' pages over HTTP (app/web/policies.py): a table whose decision id another table in force
defines is refused naming both; a policy's deployment request shows, wherever it is reviewed, the decisions it
defines and the table in force it replaces; the editor back-tests its draft."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from app.extensions import db
from app.models import DeploymentRequest, RoleName
from app.models.audit import Actor
from app.services import accounts, applications, deployments
from app.services.applications import ApplicationSpec
from tests.conftest import PASSWORD, Org, contract_pdf, login, logout
from tests.services.test_whatif import LOWER_LEADER
from tests.workflow.test_simulation import row_counts

SHIPPED_FILE = Path(__file__).resolve().parents[2] / "seal_policies" / "required_approvals.dmn"
SHIPPED = SHIPPED_FILE.read_text()
JSON = {"Accept": "application/json"}


@pytest.fixture
def nora(org):
    user = accounts.save_user("nora", "Nora", PASSWORD, {RoleName.SEAL_ADMIN}, org.department)
    db.session.commit()
    return user


def test_a_table_shadowing_a_decision_in_force_is_refused_naming_both(client, org):
    login(client, "sam")
    answer = client.post("/policies/validate", json={"xml": SHIPPED, "name": "shadow.dmn"}, headers=JSON)
    assert answer.status_code == 200
    [problem] = [p for p in answer.json["problems"] if "already defined" in p["message"]]
    assert "required_approvals.dmn" in problem["message"] and "shadow.dmn" in problem["message"]
    refused = client.post("/policies/deployments", json={"xml": SHIPPED, "name": "shadow.dmn",
                                                         "comment": "a second policy"}, headers=JSON)
    assert refused.status_code == 422 and any("already defined" in p["message"] for p in refused.json["problems"])
    assert db.session.query(DeploymentRequest).count() == 0


def test_the_review_pages_show_the_decisions_a_table_defines_and_what_it_replaces(client, org, nora):
    changed = SHIPPED.replace('label="Department head"', 'label="Head of department"')
    changed = changed.replace('"Department head"</text>', '"Head of the department"</text>')
    login(client, "sam")
    asked = client.post("/policies/deployments", json={"xml": changed, "name": "required_approvals.dmn",
                                                       "comment": "wording"}, headers=JSON)
    assert asked.status_code == 201, asked.text
    request = db.session.query(DeploymentRequest).one()
    logout(client)

    login(client, "nora")
    task_id = deployments.review_task_id(request)
    for path in (asked.json["url"], f"/tasks/{task_id}", f"/policies/required_approvals.dmn/diff?request={request.id}"):
        page = client.get(path)
        assert page.status_code == 200 and 'id="deployment-decisions"' in page.text, path
        assert "<code>required_approvals</code>" in page.text
        assert "replaces the one in required_approvals.dmn" in page.text


def _file(org: Org, *amounts: str) -> None:
    for amount in amounts:
        applications.submit(ApplicationSpec(seal_id=org.contract_seal.id, document_type="contract", filename="c.pdf",
                                            content=contract_pdf(), reason="supply", amount=Decimal(amount)),
                            org.employee, Actor.system("test"))
    db.session.commit()


def _back_test(client: FlaskClient, xml: str, months: object = 6, name: str = "required_approvals.dmn"):
    return client.post("/policies/back-test", json={"xml": xml, "name": name, "months": months}, headers=JSON)


def test_the_editor_back_tests_its_draft_and_nothing_is_written(client: FlaskClient, org: Org):
    _file(org, "50000", "60000", "500")
    login(client, "sam")
    before = row_counts()
    response = _back_test(client, LOWER_LEADER.decode())
    assert response.status_code == 200, response.text
    html = response.json["html"]
    assert "3 applications judged: 2 routed differently" in html and html.count('id="application-') == 2
    assert "This draft against the applications filed" in html
    unchanged = _back_test(client, SHIPPED).json["html"]
    assert 'id="no-change"' in unchanged
    assert row_counts() == before


@pytest.mark.parametrize("months, status", [(0, 422), (37, 422), ("6", 422), (True, 422), (None, 422)])
def test_months_are_a_number_from_1_to_36(client: FlaskClient, org: Org, months: object, status: int):
    login(client, "sam")
    response = _back_test(client, SHIPPED, months)
    assert response.status_code == status and response.json["error"]


def test_a_draft_with_problems_answers_them_by_element(client: FlaskClient, org: Org):
    login(client, "sam")
    broken = SHIPPED.replace("? &gt;= 1000000", "? &gt;= __import__('os').getpid()")
    response = _back_test(client, broken)
    assert response.status_code == 422
    assert any(p["element_id"] == "contract_over_a_million" for p in response.json["problems"]), response.json


def test_only_seal_administrators_back_test(client: FlaskClient, org: Org):
    login(client, "harry")
    assert _back_test(client, SHIPPED).status_code == 403
