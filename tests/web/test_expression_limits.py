"""A seal administrator's diagram whose expressions exhaust CPU or memory on some data, met over HTTP: at filing
the application is refused with the reason and nothing is kept; at a decision the decision is undone and the
application fails with the reason; other users are served meanwhile."""

import io
import threading

from sqlalchemy import func, select

from app.extensions import db
from app.models import ApplicationStatus, AuditEvent, HumanTask, Job, SealApplication, TaskState
from app.models.audit import Actor
from app.services import flows
from tests.conftest import PASSWORD, contract_pdf, evaluator_at_work, file_application, login, logout, ready_task_id

SHIPPED = (flows.SHIPPED_DIR / "seal_application.bpmn").read_text()
# At filing: CPU-bound for an amount of 10**9 (the amount's digits are the rounding's); cheap for small amounts.
AT_FILING = '<bpmn:sequenceFlow id="flow_to_policy" sourceRef="to_review" targetRef="policy_approval">' \
    "<bpmn:conditionExpression>round(1, -int(amount or 0)) == 0 or True</bpmn:conditionExpression>" \
    "</bpmn:sequenceFlow>"
# At the decision: a gigabyte of zeros for a comment of 999999999.
AT_DECISION = "decision == \"reject\" or ('%0' + comment + 'd') % 0 == ''"


def _deploy_bombed_version(folder) -> None:
    xml = SHIPPED.replace('<bpmn:sequenceFlow id="flow_to_policy" sourceRef="to_review" targetRef="policy_approval" />',
                          AT_FILING).replace('decision == "reject"', AT_DECISION.replace('"', "&quot;"))
    assert xml.count("round(1") == 1 and xml.count("comment +") == 1
    path = folder / "seal_application.bpmn"
    path.write_text(xml)
    flows.deploy_file(path, Actor.system("test"))
    db.session.commit()


def _counts() -> tuple[int, int, int]:
    return tuple(db.session.execute(select(func.count(model.id))).scalar()  # type: ignore[return-value]
                 for model in (SealApplication, AuditEvent, HumanTask))


def test_filing_meets_a_costly_expression_and_is_refused_with_nothing_kept(app, org, client, tmp_path):
    _deploy_bombed_version(tmp_path)
    login(client, "emma")
    before = _counts()
    response = client.post("/applications/new", data={
        "seal_id": str(org.contract_seal.id), "document_type": "contract", "title": "Supply contract",
        "reason": "Supply contract", "amount": "1000000000", "document": (io.BytesIO(contract_pdf()), "contract.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 422
    assert "of to_review was stopped: it used more than 1 s of CPU time" in response.text
    db.session.rollback()
    assert _counts() == before


def test_a_decision_meeting_a_costly_expression_fails_the_application_and_others_are_served(app, org, client,
                                                                                           tmp_path):
    _deploy_bombed_version(tmp_path)
    login(client, "emma")
    application_id = file_application(client, org.contract_seal.id, contract_pdf())
    logout(client)
    login(client, "harry")
    task_id = ready_task_id(client)

    answers = []
    decider = threading.Thread(target=lambda: answers.append(
        client.post(f"/tasks/{task_id}", data={"decision": "approve", "comment": "999999999"})))
    decider.start()
    # The memory limit may stop the expression before the evaluator is seen on the CPU; the failure's reason below
    # then still shows the evaluator's limit stopped it.
    assert evaluator_at_work() or not decider.is_alive(), "the decision neither ran in the evaluator nor ended"
    # Meanwhile another user logs in and reads their inbox, on a client of their own.
    other = app.test_client()
    assert other.post("/login", data={"username": "olga", "password": PASSWORD}).status_code == 302
    assert other.get("/inbox").status_code == 200
    decider.join(60)
    [response] = answers
    assert response.status_code == 302
    page = client.get(response.location).text
    assert "could not be carried out" in page and "of policy_decision (Approved at every level?) was stopped: it " \
        "needed more memory than the limit allows" in page

    db.session.rollback()
    application = db.session.get(SealApplication, application_id)
    assert application.status == ApplicationStatus.FAILED
    assert "policy_decision" in application.failure_reason and "memory" in application.failure_reason
    task = db.session.get(HumanTask, task_id)
    assert task.state == TaskState.CANCELLED and task.completed_by_id is None  # the decision was undone
    completed = select(AuditEvent).where(AuditEvent.action == "task.completed")
    assert db.session.execute(completed).first() is None
    assert db.session.execute(select(Job)).first() is None  # nothing was sealed
