"""Two people acting on one process instance at the same moment: one transition, one clear refusal."""

import threading

from flask import Flask
from sqlalchemy import func, select

from app import workflow as engine
from app.errors import DomainError
from app.extensions import db
from app.models import AuditEvent, HumanTask, InstanceStatus, ProcessInstance, TaskState, User
from app.models.audit import Actor
from app.services import approvals
from tests.conftest import DATA, contract_pdf, file_application, login


def _decide_at_once(app: Flask, task_id: int, usernames: list[str]) -> list[str]:
    """Each user decides in a thread of their own (own app context, own connection), released together."""
    barrier = threading.Barrier(len(usernames))
    outcomes: list[str] = []

    def decide(username: str) -> None:
        with app.app_context():
            user = db.session.execute(select(User).where(User.username == username)).scalar_one()
            barrier.wait()
            try:
                approvals.decide(task_id, user, "approve", "", Actor.of(user))
                db.session.commit()
                outcomes.append("approved")
            except DomainError as exc:
                db.session.rollback()
                outcomes.append(f"refused: {exc.message}")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=decide, args=(name,)) for name in usernames]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_the_same_task_completed_twice_at_once_gives_one_transition_and_one_refusal(app, client, org):
    login(client, "emma")
    application_id = file_application(client, org.contract_seal.id, contract_pdf())
    task_id = db.session.execute(select(HumanTask.id)).scalar_one()
    before = _audit_count()
    outcomes = _decide_at_once(app, task_id, ["harry", "harry"])
    assert sorted(outcomes)[0] == "approved" and sorted(outcomes)[1].startswith("refused: the task"), outcomes
    completed = [e for e in _events() if e.action == "task.completed"]
    assert len(completed) == 1 and _audit_count() > before
    assert db.session.get(HumanTask, task_id).state == TaskState.COMPLETED
    assert application_id


def test_parallel_tasks_completed_at_once_lose_no_update(app, org):
    """Two approvers of a parallel split finish at the same moment: both completions are kept, the join fires."""
    actor = Actor.system("test")
    engine.deploy((DATA / "parallel_approval.bpmn").read_bytes(), "parallel_approval.bpmn", {"seal_document"}, {},
                  actor)
    step = engine.start("parallel_approval", {"requester_id": org.employee.id}, None, actor)
    db.session.commit()
    tasks = {t.element_id: t.id for t in step.new_tasks}
    assert set(tasks) == {"harry_approves", "olga_approves"}
    instance_id = step.instance.id
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def complete(username: str, task_id: int) -> None:
        with app.app_context():
            user = db.session.execute(select(User).where(User.username == username)).scalar_one()
            barrier.wait()
            engine.complete_task(task_id, Actor.of(user), {"decision": "approve"})
            db.session.commit()
            outcomes.append(username)
            db.session.remove()

    threads = [threading.Thread(target=complete, args=("harry", tasks["harry_approves"])),
               threading.Thread(target=complete, args=("olga", tasks["olga_approves"]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["harry", "olga"]
    db.session.expire_all()
    assert db.session.get(ProcessInstance, instance_id).status == InstanceStatus.COMPLETED
    assert {t.state for t in engine.tasks_of(instance_id)} == {TaskState.COMPLETED}


def _events() -> list[AuditEvent]:
    return list(db.session.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars())


def _audit_count() -> int:
    return db.session.execute(select(func.count()).select_from(AuditEvent)).scalar()
