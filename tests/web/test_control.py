"""The walk-arounds over HTTP: a refused decision is a 403 that changes nothing and is logged with its reason; the
filing form offers only the seals one may request; the seal page sets owner, custodians and users; the application
page shows the approvals the policy requires."""

from __future__ import annotations

import html
import io
import re
from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, HumanTask, RoleName, SealKind, TaskState
from app.models.audit import Actor
from app.models.timestamps import utcnow
from app.pdf import SealImageSpec
from app.services import accounts, seals, substitutes
from tests.conftest import PASSWORD, corpus_pdf, file_application, login, logout

PDF = corpus_pdf("minimal-document.pdf")


def _text(response) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response.text)))


def _refusals() -> list[AuditEvent]:
    return list(db.session.execute(select(AuditEvent).where(AuditEvent.action == "task.decision_refused")).scalars())


def test_a_substitute_posting_a_decision_on_her_own_application_gets_403_and_it_is_logged(client, org):
    now = utcnow()
    substitutes.name_substitute(org.head, org.employee.id, now - timedelta(hours=1), now + timedelta(days=1), "Trip",
                                Actor.of(org.head))
    db.session.commit()
    login(client, "emma")
    application_id = file_application(client, org.contract_seal.id, PDF)
    assert f"/applications/{application_id}" not in client.get("/inbox").text
    task = db.session.execute(select(HumanTask)).scalar_one()

    page = client.get(f"/tasks/{task.id}")
    assert page.status_code == 200 and "nobody decides a step of their own application" in _text(page)
    assert 'name="decision"' not in page.text  # no form to submit
    response = client.post(f"/tasks/{task.id}", data={"decision": "approve", "comment": ""})
    assert response.status_code == 403 and "nobody decides a step of their own application" in _text(response)

    db.session.expire_all()
    assert db.session.get(HumanTask, task.id).state == TaskState.READY
    [refusal] = _refusals()
    assert (refusal.actor_name, refusal.details["reason"]) == ("emma", "nobody decides a step of their own "
                                                                       "application")


def test_an_auditor_posting_a_rejection_gets_403(client, org):
    # Even holding a deciding role, as the head of emma's department.
    org.department.head = accounts.save_user("alice", "Alice", PASSWORD, {RoleName.AUDITOR, RoleName.APPROVER},
                                             org.department)
    db.session.commit()
    login(client, "emma")
    file_application(client, org.contract_seal.id, PDF)
    logout(client)
    login(client, "alice")
    task = db.session.execute(select(HumanTask)).scalar_one()
    assert "/tasks/" not in client.get("/inbox").text
    response = client.post(f"/tasks/{task.id}", data={"decision": "reject", "comment": "No"})
    assert response.status_code == 403 and "auditors never decide or sign" in _text(response)
    db.session.expire_all()
    assert db.session.get(HumanTask, task.id).state == TaskState.READY


def test_the_filing_form_offers_only_the_seals_the_employee_may_request(client, org):
    office = accounts.get_or_create_department("Office")
    seals.create_seal("Office Finance Seal", SealKind.FINANCE, SealImageSpec("TEST ORG", "FINANCE"),
                      Actor.system("test"), office)
    db.session.commit()
    login(client, "emma")
    form = client.get("/applications/new?process=seal_application").text
    choices = re.search(r'<select[^>]*id="seal_id"[^>]*>(.*?)</select>', form, re.S).group(1)
    assert "Contract Seal" in choices and "Office Finance Seal" not in choices
    finance = seals.seal_named("Office Finance Seal")
    response = client.post("/applications/new", data={
        "seal_id": str(finance.id), "document_type": "contract", "title": "Supply contract", "reason": "Pay",
        "document": (io.BytesIO(PDF), "a.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 422  # not among the choices: refused before the service is asked


def test_a_seal_administrator_sets_owner_custodians_and_users_on_the_seal_page(client, org):
    seal = seals.create_seal("Leo's Signature", SealKind.PERSONAL, SealImageSpec("LEO", shape="oval"),
                             Actor.system("test"))
    db.session.commit()
    login(client, "emma")
    assert client.post(f"/seals/{seal.id}/edit", data={"name": seal.name,
                                                       "owner_id": str(org.employee.id)}).status_code == 403
    logout(client)
    login(client, "sam")
    response = client.post(f"/seals/{seal.id}/edit", data={
        "name": seal.name, "owner_id": str(org.leader.id), "custodian_ids": [str(org.seal_admin.id)],
        "department_ids": [str(org.department.id)], "user_ids": [str(org.other_approver.id)]})
    assert response.status_code == 302, response.text
    page = _text(client.get(f"/seals/{seal.id}"))
    assert "Owner Leo" in page and "Custodians Sam" in page and "May be requested by Sales, Olga" in page
    [event] = db.session.execute(select(AuditEvent).where(AuditEvent.action == "seal.holders_changed")).scalars()
    assert event.details["owner_id"] == org.leader.id and event.actor_name == "sam"
    # A company seal has no owner: only a person's signature does.
    refused = client.post(f"/seals/{org.contract_seal.id}/edit", data={"name": org.contract_seal.name,
                                                                        "owner_id": str(org.leader.id)})
    assert refused.status_code == 422


def test_the_application_page_shows_the_required_approvals_and_where_they_stand(client, org):
    login(client, "emma")
    application_id = file_application(client, org.contract_seal.id, PDF, amount="150,000")
    page = _text(client.get(f"/applications/{application_id}"))
    assert "Approvals the seal policy requires" in page
    assert "1 Department head department_head waiting for Harry" in page
    assert "2 Leader: contract of 100,000 or more role:leader not asked yet" in page


def test_only_leaders_reach_the_authorizations_and_only_the_grantor_and_auditors_read_a_letter(client, org):
    from datetime import timedelta as days

    from app.services import authorizations

    seal = seals.create_seal("Leo's Signature", SealKind.PERSONAL, SealImageSpec("LEO", shape="oval"),
                             Actor.system("test"))
    seals.set_holders(seal.id, seals.HoldersSpec(owner_id=org.leader.id), Actor.system("test"))
    now = utcnow()
    granted = authorizations.grant(authorizations.GrantSpec(seal.id, now, now + days(days=1), 1), org.leader,
                                   Actor.of(org.leader))
    db.session.commit()
    login(client, "harry")
    assert client.get("/authorizations").status_code == 403
    assert client.post(f"/authorizations/{granted.id}/revoke").status_code == 403  # not a leader
    assert client.get(f"/authorizations/{granted.id}/letter.pdf").status_code == 404  # not his: not there
    logout(client)
    login(client, "alice")
    assert client.get(f"/authorizations/{granted.id}/letter.pdf").data.startswith(b"%PDF")
    logout(client)
    login(client, "leo")
    assert "1 / 1" in client.get("/authorizations").text


def _task_of(application_id: int) -> HumanTask:
    [task] = [t for t in db.session.execute(select(HumanTask).where(HumanTask.state == TaskState.READY)).scalars()
              if t.instance.application_id == application_id]
    return task


def _post_decision(client, task: HumanTask, decision: str = "approve") -> int:
    return client.post(f"/tasks/{task.id}", data={"decision": decision, "comment": "by web"}).status_code


def test_over_http_a_head_filing_cannot_approve_and_the_head_above_does(app, client, org):
    office = accounts.get_or_create_department("Office")
    office.head, org.department.parent = org.leader, office
    db.session.commit()
    login(client, "harry")
    application_id = file_application(client, org.contract_seal.id, PDF)
    assert "/tasks/" not in client.get("/inbox").text
    task = _task_of(application_id)
    assert task.assignee_id == org.leader.id
    assert _post_decision(client, task) == 404  # not his: as if it did not exist
    logout(client)
    login(client, "leo")
    assert _post_decision(client, task) == 302


def test_over_http_one_person_decides_one_level_even_as_a_substitute(app, client, org):
    from app.services import substitutes as away

    now = utcnow()
    away.name_substitute(org.head, org.leader.id, now - timedelta(hours=1), now + timedelta(days=1), "Trip",
                         Actor.of(org.head))
    db.session.commit()
    login(client, "emma")
    application_id = file_application(client, org.contract_seal.id, PDF, amount="150,000")
    logout(client)
    login(client, "leo")
    assert _post_decision(client, _task_of(application_id)) == 302  # level 1, for harry
    second = _task_of(application_id)
    response = client.post(f"/tasks/{second.id}", data={"decision": "approve"})
    assert response.status_code == 403 and "one person decides one approval level" in _text(response)
    db.session.expire_all()
    assert db.session.get(HumanTask, second.id).state == TaskState.READY


def test_over_http_an_auditor_cannot_be_named_substitute_and_a_requester_cannot_sign_as_a_party(client, org):
    login(client, "harry")
    now = utcnow()
    response = client.post("/away", data={"substitute_id": str(org.auditor.id), "reason": "Trip",
                                           "starts_at": now.strftime("%Y-%m-%dT%H:%M"),
                                           "ends_at": (now + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")})
    assert response.status_code == 422  # not even offered
    logout(client)
    login(client, "emma")
    response = client.post("/applications/new", data={
        "seal_id": str(org.contract_seal.id), "document_type": "contract", "title": "Supply contract",
        "reason": "Joint", "process_id": "multi_party_signing",
        "parties-user": [str(org.employee.id), str(org.other_approver.id)],
        "parties-seal": [str(org.contract_seal.id), str(org.contract_seal.id)], "document": (io.BytesIO(PDF), "a.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 422 and "your own application" in _text(response)
