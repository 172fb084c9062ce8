"""The flows pages over HTTP: who may see them, the validator's answers by element, downloads, deployment requests
and their review in the inbox."""

from __future__ import annotations

from pathlib import Path

import lxml.html
import pytest

from app.extensions import db
from app.models import DeploymentRequest, DeploymentStatus, RoleName
from app.services import accounts, deployments
from tests.conftest import PASSWORD, login, logout, work_off_queue

SHIPPED = Path(__file__).resolve().parents[2] / "bpmn" / "seal_application.bpmn"
JSON = {"Accept": "application/json"}


def _v2() -> str:
    return SHIPPED.read_text().replace('name="Stamp and sign the document"', 'name="Stamp and sign it"')


@pytest.fixture
def nora(org):
    user = accounts.save_user("nora", "Nora", PASSWORD, {RoleName.SEAL_ADMIN}, org.department)
    db.session.commit()
    return user


@pytest.mark.parametrize("path", ["/flows", "/flows/new", "/flows/seal_application/1", "/flows/seal_application/1.bpmn",
                                  "/flows/element-templates.json"])
def test_only_seal_administrators_see_the_flows(client, org, path):
    login(client, "emma")
    assert client.get(path).status_code == 403
    assert client.post("/flows/validate", json={"xml": "<x/>"}, headers=JSON).status_code == 403
    logout(client)
    login(client, "sam")
    assert client.get(path).status_code == 200


def test_the_list_says_to_whom_each_process_is_offered_for_filing(client, org, tmp_path):
    from tests.services.test_filing import _deploy

    _deploy(tmp_path, attributes='camunda:candidateStarterGroups="Sales, approver"')
    login(client, "sam")
    page = lxml.html.fromstring(client.get("/flows").text)
    said = {p: " ".join(page.get_element_by_id(f"filing-{p}").text_content().split())
            for p in ("purchase", "leader_signature", "countersign", "deployment_approval")}
    assert said["purchase"] == ("Who may file on it: Sales, approver · Seals: every kind · "
                                "It asks for: Counterparty, Copies, Witnesses")
    assert said["leader_signature"] == "Who may file on it: everyone · Seals: Personal seal, Legal representative seal"
    assert said["countersign"].endswith("It asks for: Countersigners")
    assert said["deployment_approval"] == "Not offered on the filing page."


def test_the_list_shows_each_version_with_its_instances_and_unknown_versions_are_404(client, org):
    login(client, "sam")
    page = client.get("/flows").text
    assert 'id="process-seal_application"' in page and 'id="version-seal_application-1"' in page
    assert client.get("/flows/seal_application/9").status_code == 404
    assert client.get("/flows/no_such_process/1.bpmn").status_code == 404


def test_a_download_is_the_stored_diagram_and_the_modeler_form_keeps_the_policy_loop(client, org):
    login(client, "sam")
    stored = client.get("/flows/seal_application/1.bpmn")
    assert stored.headers["Content-Disposition"].startswith('attachment; filename="seal_application-v1.bpmn"')
    assert "<bpmn:loopDataInputRef>required_approvals</bpmn:loopDataInputRef>" in stored.text
    modeler = client.get("/flows/seal_application/1.bpmn?form=modeler").text
    assert 'camunda:collection="required_approvals"' in modeler
    assert 'camunda:elementVariable="required_approval"' in modeler
    assert "loopDataInputRef" not in modeler


def test_the_validator_answers_problems_by_element(client, org):
    login(client, "sam")
    broken = _v2().replace('<spiffworkflow:serviceTaskOperator id="seal_document"',
                           '<spiffworkflow:serviceTaskOperator id="format_disk"')
    answer = client.post("/flows/validate", json={"xml": broken}, headers=JSON)
    assert answer.status_code == 200
    problems = answer.json["problems"]
    assert any(p["element_id"] == "stamp_and_sign" and "format_disk" in p["message"] for p in problems)
    assert client.post("/flows/validate", json={"xml": _v2()}, headers=JSON).json == {"problems": [], "warnings": []}
    assert client.post("/flows/validate", json={"xml": "not xml"}, headers=JSON).json["problems"]
    for bad in ({}, [], {"xml": 5}, "text"):
        assert client.post("/flows/validate", json=bad, headers=JSON).status_code == 422
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    assert "DOCTYPE" in client.post("/flows/validate", json={"xml": bomb}, headers=JSON).json["problems"][0]["message"]


def test_user_task_templates_offer_only_rules_and_decisions_sealflow_runs(client, org):
    from app.workflow.validation import _rule_is_known

    login(client, "sam")
    templates = {t["id"]: t for t in client.get("/flows/element-templates.json").json}
    step, policy = templates["sealflow.approval_step"], templates["sealflow.policy_step"]
    assert step["appliesTo"] == policy["appliesTo"] == ["bpmn:UserTask"]
    [who, decisions] = step["properties"]
    assert who["binding"] == {"type": "camunda:property", "name": "assignee"}
    assert all(_rule_is_known(c["value"]) for c in who["choices"]) and len(who["choices"]) == 4
    assert {c["value"] for c in decisions["choices"]} == {"approve,reject", "approve,reject,return"}
    assert policy["properties"][0] == {"type": "Hidden", "value": "policy",
                                       "binding": {"type": "camunda:property", "name": "assignee"}}


def test_element_templates_name_sealflows_operators_as_external_task_topics(client, org):
    login(client, "sam")
    templates = {t["id"]: t for t in client.get("/flows/element-templates.json").json}
    stamp = templates["sealflow.seal_document"]
    assert stamp["name"] == "Stamp and sign" and stamp["appliesTo"] == ["bpmn:ServiceTask"]
    bindings = {(p["binding"]["type"], p["binding"]["name"]): p.get("value") for p in stamp["properties"]}
    assert bindings[("property", "camunda:topic")] == "seal_document"
    assert bindings[("camunda:inputParameter", "application_id")] == "${application_id}"
    assert {"sealflow.apply_leader_signature", "sealflow.add_party_signature"} <= templates.keys()
    assert "sealflow.deploy_change" not in templates  # dual control's own operator is nobody's to place


def test_a_deployment_request_over_http_is_reviewed_in_the_inbox_by_another_seal_administrator(app, client, org,
                                                                                                 nora):
    login(client, "sam")
    refused = client.post("/flows/deployments", json={"xml": _v2(), "comment": ""}, headers=JSON)
    assert refused.status_code == 422 and "comment" in refused.json["error"]
    broken = _v2().replace('targetRef="sealed"', 'targetRef="nowhere"')
    refused = client.post("/flows/deployments", json={"xml": broken, "comment": "x"}, headers=JSON)
    assert refused.status_code == 422 and refused.json["problems"]
    asked = client.post("/flows/deployments", json={"xml": _v2(), "comment": "shorter name"}, headers=JSON)
    assert asked.status_code == 201
    page = client.get(asked.json["url"]).text
    assert "shorter name" in page and 'id="withdraw"' in page
    request = db.session.query(DeploymentRequest).one()
    task_id = deployments.review_task_id(request)
    assert client.post(f"/tasks/{task_id}", data={"decision": "approve", "comment": ""}).status_code == 403
    logout(client)

    login(client, "nora")
    assert f"/tasks/{task_id}" in client.get("/inbox").text
    task_page = client.get(f"/tasks/{task_id}").text
    assert 'id="deployment-under-review"' in task_page and "shorter name" in task_page
    assert client.get(f"/flows/seal_application/diff?request={request.id}").status_code == 200
    assert client.post(f"/tasks/{task_id}", data={"decision": "approve", "comment": ""}).status_code == 302
    work_off_queue(app)
    db.session.expire_all()
    assert db.session.get(DeploymentRequest, request.id).status == DeploymentStatus.DEPLOYED
    listing = client.get("/flows").text
    assert 'id="version-seal_application-2"' in listing and "shorter name" in listing
    assert client.get("/flows/seal_application/diff?from=1&to=2").status_code == 200
