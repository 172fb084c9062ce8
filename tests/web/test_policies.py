"""The decision-table pages' JSON side (app/web/policies.py): the editor's back-test of its draft."""

from __future__ import annotations

from decimal import Decimal

import pytest
from flask.testing import FlaskClient

from app.extensions import db
from app.models.audit import Actor
from app.services import applications
from app.services.applications import ApplicationSpec
from tests.conftest import Org, contract_pdf, login
from tests.services.test_whatif import LOWER_LEADER, SHIPPED
from tests.workflow.test_simulation import row_counts

JSON = {"Accept": "application/json"}


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
