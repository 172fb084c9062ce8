"""An application's path on its diagram, read from the stored task tree: a returned and resubmitted application
loops (its steps counted twice), the flows it took are named, what it waits on is shown, and the path after each
event replays the history."""

from __future__ import annotations

from flask import Flask

from app.extensions import db
from app.models.audit import Actor
from app.services import applications, approvals
from app.services.applications import ApplicationSpec
from app.services.process_path import application_path
from tests.conftest import Org, corpus_pdf, work_off_queue


def _file(org: Org) -> int:
    spec = ApplicationSpec(seal_id=org.contract_seal.id, document_type="contract", filename="c.pdf",
                           content=corpus_pdf("minimal-document.pdf"), reason="Sign the supply contract",
                           title="Supply contract", counterparty="Acme")
    application = applications.submit(spec, org.employee, Actor.of(org.employee)).application
    db.session.commit()
    return application.id


def _decide(user, decision: str) -> None:
    task = approvals.inbox(user)[0]
    approvals.decide(task.id, user, decision, f"{decision}!", Actor.of(user))
    db.session.commit()


def test_a_returned_application_loops_and_the_path_counts_each_pass(app: Flask, org: Org):
    application_id = _file(org)
    waiting = application_path(application_id, org.auditor)
    assert waiting.now.waiting == ["policy_approval"] and waiting.now.done.get("policy_approval") is None
    assert waiting.now.flows == {"flow_to_review": 1, "flow_to_policy": 1}  # the flows up to the wait
    _decide(org.head, "return")
    _decide(org.employee, "resubmit")
    _decide(org.head, "approve")
    work_off_queue(app)
    path = application_path(application_id, org.auditor)
    assert path.definition.process_id == "seal_application" and path.now.waiting == []
    assert path.now.done["policy_approval"] == 2 and path.now.done["revise"] == 1
    assert path.now.done["stamp_and_sign"] == 1 and path.now.done["sealed"] == 1
    assert path.now.flows["flow_returned"] == 1 and path.now.flows["flow_resubmitted"] == 1
    assert all(count >= 1 for count in path.now.flows.values())
    # The replay: right after the return, the revision waits and the seal is not applied yet.
    returned = next(s for s in path.steps if s.event.action == "task.completed"
                    and s.event.details.get("decision") == "return")
    assert returned.element_id == "policy_approval" and returned.moment.waiting == ["revise"]
    assert returned.moment.done["policy_approval"] == 1 and "stamp_and_sign" not in returned.moment.done
    assert returned.changed == {"decision": "return", "comment": "return!"} and returned.data["decision"] == "return"
    assert returned.data["counterparty"] == "Acme" and returned.data["document_type"] == "contract"
    # The last step shows the whole path; the first only the start.
    assert path.steps[-1].moment.done == path.now.done
    assert path.steps[0].moment.done.get("policy_approval") is None
    # Each pass of the approval step set its decision.
    assert [s.changed.get("decision") for s in path.steps if s.element_id == "policy_approval"
            and s.event.action == "task.completed"] == ["return", "approve"]


def test_only_those_who_may_see_the_application_see_its_path(app: Flask, org: Org):
    import pytest

    from app.errors import NotFound
    application_id = _file(org)
    assert application_path(application_id, org.employee).application.id == application_id
    with pytest.raises(NotFound):
        application_path(application_id, org.leader)
    with pytest.raises(NotFound):
        application_path(application_id + 1000, org.auditor)
