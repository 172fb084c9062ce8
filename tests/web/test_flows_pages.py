"""The filing form's approval options, the task page's decisions, and the application page's steps, history
and Withdraw button."""

import html
import io
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    ApplicationStatus,
    AuditEvent,
    Blob,
    Document,
    HumanTask,
    ProcessInstance,
    SealApplication,
    SealKind,
    TaskState,
)
from app.models.audit import Actor
from app.pdf import SealImageSpec
from app.services import seals
from tests.conftest import corpus_pdf, file_application, file_for_the_head, login, logout, ready_task_id
from tests.web.review_flow import deploy_review_flow


@pytest.fixture
def review_flow(org, tmp_path):
    """New applications run the tests' own flow: head review (approve, reject, return, escalate), revision by
    the requester (resubmit, withdraw)."""
    deploy_review_flow("seal_application", tmp_path)


def _counts() -> tuple[int, ...]:
    return tuple(db.session.execute(select(func.count()).select_from(m)).scalar() for m in
                 (SealApplication, Document, Blob, HumanTask, ProcessInstance, AuditEvent))


def _file(client, seal_id, **fields):
    data = {"seal_id": str(seal_id), "document_type": "contract", "title": "Supply contract",
            "reason": "Supply contract", "document": (io.BytesIO(corpus_pdf("minimal-document.pdf")), "contract.pdf"),
            **fields}
    return client.post("/applications/new", data=data, content_type="multipart/form-data")


def _submitted_details() -> dict:
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "application.submitted")).scalar_one()
    return event.details


def _radio_choices(page: str, name: str) -> list[tuple[str, str]]:
    """(value, label) of each radio button of that name, in page order."""
    found = re.findall(rf'<input [^>]*id="({name}-\d+)" name="{name}"[^>]*type="radio" value="([^"]*)"', page)
    return [(value, html.unescape(re.search(rf'<label for="{ident}">([^<]*)</label>', page).group(1)))
            for ident, value in found]


def _second_seal():
    seal = seals.create_seal("Finance Seal", SealKind.FINANCE, SealImageSpec("TEST ORG", "FINANCE SEAL"),
                             Actor.system("test"))
    db.session.commit()
    return seal


# --- filing ---------------------------------------------------------------------------------------------------

def test_the_chooser_offers_each_process_and_each_form_its_own_fields(client, org):
    login(client, "emma")
    chooser = client.get("/applications/new").text
    offered = re.findall(r'href="/applications/new\?process=(\w+)"', chooser)
    assert sorted(offered) == ["countersign", "leader_signature", "multi_party_signing", "seal_application"]
    assert "Countersigners" in chooser  # what each asks for
    page = client.get("/applications/new?process=countersign").text
    countersigners = re.search(r'<select[^>]*name="countersigners"[^>]*>(.*?)</select>', page, re.S).group(1)
    assert "Harry" in countersigners and "Olga" in countersigners and "Emma" not in countersigners
    assert 'name="process_id" type="hidden" value="countersign"' in page and 'name="amount"' in page
    parties = client.get("/applications/new?process=multi_party_signing").text
    assert parties.count('name="parties-user"') == parties.count('name="parties-seal"') == 4
    plain = client.get("/applications/new?process=seal_application").text
    assert 'id="process-fields"' not in plain and org.contract_seal.name in plain
    # Leader signature is made for personal and legal representatives' seals: the contract seal is not offered.
    leader = client.get("/applications/new?process=leader_signature").text
    assert org.contract_seal.name not in leader and "None of the seals you may request" in leader
    assert client.get("/applications/new?process=deployment_approval").status_code == 404
    assert client.get("/applications/new?process=nothing_like_it").status_code == 404


def test_amount_and_countersigners_reach_the_process(client, org):
    login(client, "emma")
    response = _file(client, org.contract_seal.id, amount="1,250,000.50", process_id="countersign",
                     countersigners=[str(org.other_approver.id), str(org.head.id)])
    assert response.status_code == 302, response.text
    application = db.session.execute(select(SealApplication)).scalar_one()
    assert application.amount == Decimal("1250000.50") and application.process_id == "countersign"
    assert _submitted_details()["countersigners"] == [org.other_approver.id, org.head.id]
    page = client.get(f"/applications/{application.id}").text
    assert "1,250,000.50" in page and "Countersigned seal application" in page


def test_parties_keep_their_order_and_empty_rows_are_ignored(client, org):
    finance = _second_seal()
    actor = Actor.system("test")  # each party keeps the seal they sign with
    seals.set_holders(finance.id, seals.HoldersSpec(custodian_ids=(org.other_approver.id,)), actor)
    seals.set_holders(org.contract_seal.id, seals.HoldersSpec(custodian_ids=(org.head.id,),
                                                              department_ids=(org.department.id,)), actor)
    db.session.commit()
    login(client, "emma")
    response = _file(client, org.contract_seal.id, process_id="multi_party_signing",
                     **{"parties-user": [str(org.other_approver.id), "", str(org.head.id), ""],
                        "parties-seal": [str(finance.id), "", str(org.contract_seal.id), ""]})
    assert response.status_code == 302, response.text
    assert _submitted_details()["parties"] == [
        {"user_id": org.other_approver.id, "seal_id": finance.id},
        {"user_id": org.head.id, "seal_id": org.contract_seal.id}]


def test_standard_approval_ignores_the_other_processes_fields(client, org, review_flow):
    login(client, "emma")
    response = _file(client, org.contract_seal.id, countersigners=[str(org.head.id)],
                     **{"parties-user": str(org.head.id), "parties-seal": str(org.contract_seal.id)})
    assert response.status_code == 302, response.text
    details = _submitted_details()
    assert details["process_id"] == "seal_application" and "countersigners" not in details
    assert "parties" not in details and details["amount"] is None


@pytest.mark.parametrize("fields, message", [
    ({"amount": "-5"}, "Give an amount of 0 or more, with at most two decimals."),
    ({"amount": "12.345"}, "Give an amount of 0 or more, with at most two decimals."),
    ({"amount": "NaN"}, "Give an amount of 0 or more, with at most two decimals."),
    ({"amount": "1e15"}, "Give an amount of 0 or more, with at most two decimals."),
    ({"amount": "a lot"}, "Not a valid decimal value."),
    ({"process_id": "countersign"}, "“Countersigners”: choose at least 1"),
    ({"process_id": "countersign", "countersigners": ["99999"]}, "user 99999 does not exist or is inactive"),
    ({"process_id": "countersign", "countersigners": ["x"]}, "“Countersigners”: choose people from the list"),
    ({"process_id": "multi_party_signing", "parties-user": "USER", "parties-seal": "SEAL"},
     "“Parties, in signing order”: choose at least 2"),
    ({"process_id": "multi_party_signing", "parties-user": ["USER", ""], "parties-seal": ["", ""]},
     "choose both a person and a seal, or leave the row empty"),
    ({"process_id": "multi_party_signing", "parties-user": "x", "parties-seal": "SEAL"},
     "choose people and seals from the lists"),
    # The process is made for other kinds of seal than the one chosen: the form does not offer it.
    ({"process_id": "leader_signature"}, "Not a valid choice."),
])
def test_wrong_values_are_refused_and_nothing_is_stored(client, org, fields, message):
    def filled(value):
        if isinstance(value, list):
            return [filled(v) for v in value]
        return value.replace("USER", str(org.head.id)).replace("SEAL", str(org.contract_seal.id))
    fields = {k: filled(v) for k, v in fields.items()}
    login(client, "emma")
    before = _counts()
    response = _file(client, org.contract_seal.id, **fields)
    assert response.status_code == 422 and message in html.unescape(response.text), response.text
    assert _counts() == before
    assert 'name="reason"' in response.text  # the form again, with what was filled in


def test_an_unknown_process_is_not_found_and_nothing_is_stored(client, org):
    login(client, "emma")
    before = _counts()
    assert _file(client, org.contract_seal.id, process_id="fast_track").status_code == 404
    assert _file(client, org.contract_seal.id, process_id="deployment_approval").status_code == 404
    assert _counts() == before


def test_only_employees_file(client, org):
    login(client, "olga")
    assert client.get("/applications/new").status_code == 403
    before = _counts()
    assert _file(client, org.contract_seal.id).status_code == 403
    assert _counts() == before


# --- deciding -------------------------------------------------------------------------------------------------

def test_the_decision_offers_exactly_the_tasks_choices(client, org, review_flow):
    file_for_the_head(client, org.contract_seal.id, corpus_pdf("minimal-document.pdf"))
    page = client.get(f"/tasks/{ready_task_id(client)}").text
    assert _radio_choices(page, "decision") == [
        ("approve", "Approve"), ("reject", "Reject"), ("return", "Return for revision"), ("escalate", "escalate")]
    zh = client.get(f"/tasks/{ready_task_id(client)}", headers={"Accept-Language": "zh"}).text
    assert [label for _, label in _radio_choices(zh, "decision")] == ["同意", "驳回", "退回修改", "escalate"]


def test_return_needs_a_comment_then_the_requester_revises(client, org, review_flow):
    application_id = file_for_the_head(client, org.contract_seal.id, corpus_pdf("minimal-document.pdf"))
    task_id = ready_task_id(client)
    before = _counts()
    response = client.post(f"/tasks/{task_id}", data={"decision": "return"})
    assert response.status_code == 422 and "a comment is needed to reject or return" in response.text
    assert _counts() == before and db.session.get(HumanTask, task_id).state == TaskState.READY
    response = client.post(f"/tasks/{task_id}", data={"decision": "return", "comment": "Attach annex B"})
    assert response.status_code == 302
    logout(client)

    login(client, "emma")
    page = client.get(f"/applications/{application_id}").text
    assert "Returned for revision" in page and 'id="withdraw"' in page and "Attach annex B" in page
    revision_id = ready_task_id(client)
    page = client.get(f"/tasks/{revision_id}").text
    assert _radio_choices(page, "decision") == [("resubmit", "Resubmit"), ("withdraw", "Withdraw")]
    # A decision the task does not offer is refused by the service, with its reason.
    before = _counts()
    response = client.post(f"/tasks/{revision_id}", data={"decision": "approve"})
    assert response.status_code == 422 and "the decision must be one of resubmit, withdraw" in response.text
    assert _counts() == before
    response = client.post(f"/tasks/{revision_id}", data={"decision": ""})
    assert response.status_code == 422 and "Choose a decision." in response.text
    assert client.post(f"/tasks/{revision_id}", data={"decision": "resubmit"}).status_code == 302
    assert db.session.get(SealApplication, application_id).status == ApplicationStatus.PENDING
    logout(client)
    login(client, "harry")
    assert ready_task_id(client) != task_id  # the head reviews again


def test_unknown_and_foreign_tasks(client, org, review_flow):
    login(client, "emma")
    file_application(client, org.contract_seal.id, corpus_pdf("minimal-document.pdf"))
    task_id = db.session.execute(select(HumanTask.id)).scalar_one()
    assert client.get(f"/tasks/{task_id}").status_code == 404  # the requester is not the reviewer: not there for her
    assert client.post(f"/tasks/{task_id}", data={"decision": "approve"}).status_code == 404
    assert client.get("/tasks/99999").status_code == 404
    assert db.session.get(HumanTask, task_id).state == TaskState.READY


# --- the application page -------------------------------------------------------------------------------------

def test_steps_and_process_history(client, org, review_flow):
    application_id = file_for_the_head(client, org.contract_seal.id, corpus_pdf("minimal-document.pdf"))
    client.post(f"/tasks/{ready_task_id(client)}", data={"decision": "return", "comment": "Attach annex B"})
    logout(client)

    login(client, "alice")  # the auditor reads it too
    page = html.unescape(client.get(f"/applications/{application_id}").text)
    steps = re.search(r'<table id="steps">(.*?)</table>', page, re.S).group(1)
    head_row, revision_row = re.findall(r"<tr id=\"step-\d+\">(.*?)</tr>", steps, re.S)
    cells = [re.sub(r"\s+", " ", c).strip() for c in re.findall(r"<td>(.*?)</td>", head_row, re.S)]
    assert cells[:5] == ["Head review", "Harry", "Harry", "Return for revision", "Attach annex B"]
    assert "Revise the application" in revision_row and "Emma" in revision_row and "waiting" in revision_row
    assert 'id="withdraw"' not in page  # only the requester withdraws
    history = re.search(r'<table id="process-history".*?</table>', page, re.S).group(0)
    for expected in ("Process started", "Task opened", "Task completed", "Step: Head review (head_review)",
                     "Decision: Return for revision", "Comment: Attach annex B", "For: Emma"):
        assert expected in re.sub(r"<[^>]+>", "", history), expected
    logout(client)
    login(client, "olga")  # no part in it
    assert client.get(f"/applications/{application_id}").status_code == 404


def test_the_requester_withdraws(client, org, review_flow):
    login(client, "emma")
    application_id = file_application(client, org.contract_seal.id, corpus_pdf("minimal-document.pdf"))
    assert 'id="withdraw"' in client.get(f"/applications/{application_id}").text
    logout(client)

    login(client, "harry")  # the approver can see it, but not withdraw it
    assert 'id="withdraw"' not in client.get(f"/applications/{application_id}").text
    response = client.post(f"/applications/{application_id}/withdraw")
    assert response.status_code == 403 and "only the requester" in response.text
    assert client.post("/applications/99999/withdraw").status_code == 404
    logout(client)

    login(client, "emma")
    response = client.post(f"/applications/{application_id}/withdraw")
    assert response.status_code == 302
    page = client.get(response.location).text
    assert "withdrawn." in page and "Withdrawn" in page and 'id="withdraw"' not in page
    assert "Process cancelled" in page and "withdrawn by the requester" in page
    assert db.session.get(SealApplication, application_id).status == ApplicationStatus.WITHDRAWN
    assert db.session.execute(select(HumanTask.state)).scalar_one() == TaskState.CANCELLED
    before = _counts()
    response = client.post(f"/applications/{application_id}/withdraw")
    assert response.status_code == 409 and "can no longer be withdrawn" in response.text
    assert _counts() == before
    logout(client)
    login(client, "harry")
    assert "Nothing is waiting for you." in client.get("/inbox").text


def test_withdrawing_needs_the_csrf_token(app, client, org, review_flow):
    login(client, "emma")
    application_id = file_application(client, org.contract_seal.id, corpus_pdf("minimal-document.pdf"))
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post(f"/applications/{application_id}/withdraw")
    assert response.status_code == 400 and "CSRF" in response.text
    assert db.session.get(SealApplication, application_id).status == ApplicationStatus.PENDING


def test_a_task_of_a_process_without_an_application_is_shown_and_decided(client, org):
    from app.services import flows
    from app.workflow import start
    from tests.conftest import DATA

    flows.deploy_file(DATA / "timer_escalation.bpmn", Actor.system("test"))
    step = start("timer_escalation", {"requester_id": org.employee.id}, None, Actor.system("test"))
    db.session.commit()
    login(client, "harry")
    inbox = client.get("/inbox")
    assert inbox.status_code == 200 and "Department head approval" in inbox.text
    task_id = ready_task_id(client)
    assert client.get(f"/tasks/{task_id}").status_code == 200
    assert client.post(f"/tasks/{task_id}", data={"decision": "approve"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(ProcessInstance, step.instance.id).outcome == "approved_in_time"
