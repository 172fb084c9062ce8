"""The what-if run of a deployed process: the path, who each user step goes to, services and timers recorded but never
run, loops bounded, and nothing written to the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import RoleName
from app.models.audit import Actor
from app.services import flows
from app.workflow import TIMEOUT, latest_definition, simulate_path
from app.workflow.simulation import MAX_STEPS
from tests.conftest import DATA

ACTOR = Actor.system("test")
HEAD = {"level": 1, "approver": "department_head", "label": "Department head"}
LEADER = {"level": 2, "approver": "role:leader", "label": "Leader: contract of 100,000 or more"}


def row_counts() -> dict[str, int]:
    """Every table's number of rows."""
    return {t.name: db.session.execute(select(func.count()).select_from(t)).scalar_one()
            for t in db.metadata.sorted_tables}


def _data(org, levels=(HEAD, LEADER), requester=None) -> dict:
    return {"application_id": None, "requester_id": (requester or org.employee).id, "document_type": "contract",
            "amount": 500_000.0, "seal_id": org.contract_seal.id, "seal_kind": "contract",
            "required_approvals": list(levels)}


def _services(calls: list):
    def answer(operation, params):
        calls.append((operation, params))
        return {"simulated": True}
    return answer


def _path(steps) -> list[tuple[str, str]]:
    return [(s.kind, s.element_id) for s in steps]


def test_the_main_path_asks_each_level_in_order_and_stamps_without_writing_anything(app, org):
    db.session.commit()
    before = row_counts()
    calls: list = []
    steps = simulate_path(latest_definition("seal_application"), _data(org), _services(calls))
    assert _path(steps) == [("user_task", "policy_approval"), ("user_task", "policy_approval"),
                            ("service_task", "stamp_and_sign"), ("end", "sealed")]
    head, leader, stamp, end = steps
    assert head.level == HEAD and head.assignment.assignee_id == org.head.id and head.decision == "approve"
    assert head.rule == "assignee policy" and head.decisions == ("approve", "reject", "return")
    assert leader.level == LEADER and leader.assignment.candidate_roles == (RoleName.LEADER,)
    assert stamp.operation == "seal_document" and stamp.params == {"application_id": None}
    assert calls == [("seal_document", {"application_id": None})]
    assert end.name == "Sealed"
    assert not (db.session.new or db.session.dirty or db.session.deleted)
    db.session.commit()
    assert row_counts() == before


def test_a_rejection_chosen_at_a_step_ends_the_path_there(app, org):
    steps = simulate_path(latest_definition("seal_application"), _data(org), _services([]), {2: "reject"})
    assert _path(steps) == [("user_task", "policy_approval"), ("user_task", "policy_approval"), ("end", "rejected")]
    assert steps[1].decision == "reject"


def test_a_return_goes_to_the_requester_who_resubmits_and_every_level_decides_again(app, org):
    steps = simulate_path(latest_definition("seal_application"), _data(org), _services([]), {1: "return"})
    assert _path(steps) == [("user_task", "policy_approval"), ("user_task", "revise"),
                            ("user_task", "policy_approval"), ("user_task", "policy_approval"),
                            ("service_task", "stamp_and_sign"), ("end", "sealed")]
    revise = steps[1]
    assert revise.assignment.assignee_id == org.employee.id and revise.requester_only
    assert revise.decision == "resubmit" and revise.rule == "assignee data:requester_id"
    assert [s.level["level"] for s in steps if s.level] == [1, 1, 2]


def test_a_decision_the_task_does_not_offer_is_not_taken(app, org):
    steps = simulate_path(latest_definition("seal_application"), _data(org, levels=(HEAD,)), _services([]),
                          {1: "shred"})
    assert steps[0].decision == "approve" and steps[-1].element_id == "sealed"


def test_a_head_filing_goes_to_the_head_above_and_the_department_can_be_supposed(app, org):
    office = org.leader.department
    office.head = org.leader
    db.session.flush()
    steps = simulate_path(latest_definition("seal_application"), _data(org, (HEAD,), requester=org.head),
                          _services([]))
    assert steps[0].assignment.candidate_roles == (RoleName.LEADER,)  # Sales has no department above it
    assert "Harry heads Sales" in steps[0].assignment.note
    office_steps = simulate_path(latest_definition("seal_application"), _data(org, (HEAD,)), _services([]),
                                 department_id=office.id)
    assert office_steps[0].assignment.assignee_id == org.leader.id


def test_a_deadline_is_shown_on_its_task_and_fires_when_chosen(app, org):
    flows.deploy_file(DATA / "timer_escalation.bpmn", ACTOR)
    definition = latest_definition("timer_escalation")
    in_time = simulate_path(definition, _data(org), _services([]))
    assert _path(in_time) == [("user_task", "head_approval"), ("end", "approved_in_time")]
    [deadline] = in_time[0].deadlines
    assert deadline.duration == timedelta(days=2) and deadline.attached_to == "head_approval"
    late = simulate_path(definition, _data(org), _services([]), {1: TIMEOUT})
    assert _path(late) == [("user_task", "head_approval"), ("user_task", "leader_approval"),
                           ("end", "approved_after_escalation")]
    assert late[0].decision == TIMEOUT and late[1].assignment.candidate_roles == (RoleName.LEADER,)


def test_a_timer_the_process_waits_on_alone_is_recorded_and_fired(app, org):
    flows.deploy_file(DATA / "what_if_waits.bpmn", ACTOR)
    steps = simulate_path(latest_definition("what_if_waits"), _data(org), _services([]))
    assert _path(steps) == [("timer", "cooling_off"), ("user_task", "leader_decides"), ("end", "done")]
    assert steps[0].timer.duration == timedelta(days=1) and steps[0].name == "Cooling-off day"


def test_the_leader_signature_path_follows_what_the_authorization_lookup_answers(app, org):
    definition = latest_definition("leader_signature")
    data = {**_data(org, (HEAD,)), "leader_id": org.leader.id}
    covered = simulate_path(definition, data, lambda op, params: {"authorization_id": 7} if op.startswith("find")
                            else {})
    assert _path(covered)[1:] == [("service_task", "find_authorization"), ("service_task", "sign_under_authorization"),
                                  ("end", "sealed")]
    assert covered[2].params == {"application_id": None, "authorization_id": 7}
    asked = simulate_path(definition, data, lambda op, params: {"authorization_id": None})
    assert _path(asked)[1:] == [("service_task", "find_authorization"), ("user_task", "leader_authorization"),
                                ("service_task", "sign_every_page"), ("end", "sealed")]
    assert asked[2].assignment.assignee_id == org.leader.id


def test_a_step_that_cannot_be_assigned_stops_the_path_with_the_reason(app, org):
    steps = simulate_path(latest_definition("leader_signature"), _data(org, (HEAD,)),  # no leader_id in the data
                          lambda op, params: {"authorization_id": None})
    assert steps[-1].kind == "stopped" and "leader_id" in steps[-1].reason
    assert (steps[-1].element_id, steps[-1].name) == ("leader_authorization", "Leader authorizes the signature")


def test_a_loop_that_never_waits_is_given_up(app, org):
    flows.deploy_file(DATA / "what_if_loops.bpmn", ACTOR)
    steps = simulate_path(latest_definition("what_if_loops"), _data(org), _services([]))
    assert [s.kind for s in steps] == ["stopped"] and "loops" in steps[0].reason


@pytest.mark.parametrize("decision", ["return"])
def test_returning_at_every_step_stops_after_the_bound(app, org, decision):
    choices = {n: decision for n in range(1, MAX_STEPS + 1, 2)}  # every approval returns; every revision resubmits
    steps = simulate_path(latest_definition("seal_application"), _data(org, (HEAD,)), _services([]), choices)
    assert len(steps) == MAX_STEPS + 1 and steps[-1].kind == "stopped" and "loops" in steps[-1].reason
