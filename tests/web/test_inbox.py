"""The inbox pages (app/web/inbox.py): a step separation of duties refuses is shown with the reason, and deciding it
answers 403 and is kept in the audit log."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, HumanTask, RoleName, TaskState
from app.models.audit import Actor
from app.services import accounts, people
from tests.conftest import PASSWORD, Org, corpus_pdf, file_application, login, logout

PUPPET = "the requester set this account&#39;s password"


def test_whom_the_requester_set_the_password_of_is_refused_with_403_and_the_refusal_is_logged(app, client, org: Org):
    sam, harry = org.seal_admin, org.head
    accounts.save_user("sam", "Sam", PASSWORD, {RoleName.EMPLOYEE, RoleName.SEAL_ADMIN}, org.department)
    temporary = people.reset_password(harry.id, None, Actor.of(sam))
    accounts.change_password(harry, temporary, PASSWORD, Actor.of(harry))  # his own choice: sam may have made it
    db.session.commit()
    login(client, "sam")
    file_application(client, org.contract_seal.id, corpus_pdf("minimal-document.pdf"))
    logout(client)
    [task_id] = db.session.execute(select(HumanTask.id).where(HumanTask.state == TaskState.READY)).scalars()

    login(client, "harry")
    assert f"/tasks/{task_id}" in client.get("/inbox").text  # listed, like the steps other rules refuse him
    page = client.get(f"/tasks/{task_id}")
    assert page.status_code == 200 and 'id="refusal"' in page.text and PUPPET in page.text
    assert 'name="decision"' not in page.text
    answer = client.post(f"/tasks/{task_id}", data={"decision": "approve", "comment": ""})
    assert answer.status_code == 403 and PUPPET in answer.text
    db.session.expire_all()
    assert db.session.get(HumanTask, task_id).state == TaskState.READY
    [refused] = db.session.execute(select(AuditEvent).where(AuditEvent.action == "task.decision_refused")).scalars()
    assert refused.actor_name == "harry" and "the requester set this account's password" in refused.details["reason"]


def test_the_inbox_page_is_paged_and_reads_as_many_statements_for_many_tasks_as_for_few(app, client, org: Org):
    from decimal import Decimal

    from sqlalchemy import event

    from app.services import applications
    from app.services.applications import ApplicationSpec
    from app.services.inbox import PER_PAGE
    from tests.conftest import contract_pdf

    def file(count: int) -> None:
        for _n in range(count):
            applications.submit(ApplicationSpec(seal_id=org.contract_seal.id, document_type="contract",
                                                filename="c.pdf", content=contract_pdf(), reason="supply",
                                                amount=Decimal(1000)), org.employee, Actor.system("test"))
        db.session.commit()

    def statements_of_get(path: str) -> tuple[int, str]:
        said: list[str] = []

        def count(*_args) -> None:  # type: ignore[no-untyped-def]
            said.append("")

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            page = client.get(path)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert page.status_code == 200
        return len(said), page.text

    login(client, "harry")
    file(3)
    few, text = statements_of_get("/inbox")
    assert text.count("/tasks/") == 3 and 'id="next-page"' not in text
    file(PER_PAGE)
    many, text = statements_of_get("/inbox")
    assert many == few
    assert text.count("/tasks/") == PER_PAGE and 'id="next-page"' in text
    last, text = statements_of_get("/inbox?page=2")
    assert text.count("/tasks/") == 3 and 'id="previous-page"' in text and last == few
