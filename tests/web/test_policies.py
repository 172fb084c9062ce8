"""The decision tables' pages over HTTP (app/web/policies.py): a table whose decision id another table in force
defines is refused naming both, and a policy's deployment request shows, wherever it is reviewed, the decisions it
defines and the table in force it replaces."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.extensions import db
from app.models import DeploymentRequest, RoleName
from app.services import accounts, deployments
from tests.conftest import PASSWORD, login, logout

SHIPPED = Path(__file__).resolve().parents[2] / "seal_policies" / "required_approvals.dmn"
JSON = {"Accept": "application/json"}


@pytest.fixture
def nora(org):
    user = accounts.save_user("nora", "Nora", PASSWORD, {RoleName.SEAL_ADMIN}, org.department)
    db.session.commit()
    return user


def test_a_table_shadowing_a_decision_in_force_is_refused_naming_both(client, org):
    login(client, "sam")
    answer = client.post("/policies/validate", json={"xml": SHIPPED.read_text(), "name": "shadow.dmn"}, headers=JSON)
    assert answer.status_code == 200
    [problem] = [p for p in answer.json["problems"] if "already defined" in p["message"]]
    assert "required_approvals.dmn" in problem["message"] and "shadow.dmn" in problem["message"]
    refused = client.post("/policies/deployments", json={"xml": SHIPPED.read_text(), "name": "shadow.dmn",
                                                         "comment": "a second policy"}, headers=JSON)
    assert refused.status_code == 422 and any("already defined" in p["message"] for p in refused.json["problems"])
    assert db.session.query(DeploymentRequest).count() == 0


def test_the_review_pages_show_the_decisions_a_table_defines_and_what_it_replaces(client, org, nora):
    changed = SHIPPED.read_text().replace('label="Department head"', 'label="Head of department"')
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
