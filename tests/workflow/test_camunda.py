"""Diagrams drawn in Camunda Modeler (tests/data/camunda/, written as Camunda Modeler 5 exports them) run as drawn,
or are refused when validated with a message naming the element and what to write instead: one test per gap of
issue 12, through the real path (validation and deployment as `flows validate` and `flows deploy` do them, the
engine, the inboxes and the clock)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.jobs.clock import tick
from app.models import InstanceStatus, Job, ProcessDefinition, ProcessInstance, ProcessTimer, TaskState, User
from app.models.audit import Actor
from app.models.timestamps import utcnow
from app.services import approvals, flows
from app.workflow import Problem, WorkflowFailed, complete_task, start, tasks_of
from tests.conftest import CORPUS, DATA, Org

CAMUNDA = DATA / "camunda"
ACTOR = Actor.system("test")
HEAD_LEVEL = {"level": 1, "approver": "department_head", "label": "Department head"}


def _xml(name: str, *replacements: tuple[str, str]) -> str:
    """A diagram of tests/data/camunda/, changed by (old, new) replacements that must each apply."""
    xml = (CAMUNDA / f"{name}.bpmn").read_text()
    for old, new in replacements:
        assert old in xml, old
        xml = xml.replace(old, new)
    return xml


def _write(folder: Path, name: str, xml: str) -> Path:
    path = folder / f"{name}.bpmn"
    path.write_text(xml)
    return path


def _deploy(folder: Path, name: str, *replacements: tuple[str, str]) -> ProcessDefinition:
    definition, _ = flows.deploy_file(_write(folder, name, _xml(name, *replacements)), ACTOR)
    db.session.commit()
    return definition


def _problems(folder: Path, name: str, *replacements: tuple[str, str]) -> list[Problem]:
    return flows.validate_file(_write(folder, name, _xml(name, *replacements)))


def _refusal(problems: list[Problem], element: str) -> str:
    """The one problem of an element, as `flows validate` prints it."""
    [problem] = [p for p in problems if p.element_id == element]
    return str(problem)


def _start(definition: ProcessDefinition, org: Org, **data: object) -> ProcessInstance:
    step = start(definition.process_id, {"requester_id": org.employee.id, "document_type": "contract",
                                         "amount": None, **data}, None, ACTOR)
    db.session.commit()
    return step.instance


def _inboxes(*users: User) -> dict[str, list[str]]:
    """Each user's inbox, by task element id."""
    return {u.username: [t.element_id for t in approvals.inbox(u)] for u in users}


def _do(user: User, instance: ProcessInstance, decision: str = "approve") -> None:
    """The user completes their one ready task of the instance."""
    [task] = [t for t in approvals.inbox(user) if t.instance_id == instance.id]
    complete_task(task.id, Actor.of(user), {"decision": decision})
    db.session.commit()


def _ended(instance: ProcessInstance) -> str | None:
    db.session.expire_all()
    found = db.session.get(ProcessInstance, instance.id)
    assert found is not None and found.status == InstanceStatus.COMPLETED, found and found.status
    return found.outcome


# --- 1. timers written as Camunda writes them ----------------------------------------------------------------

def test_a_plain_iso_duration_is_scheduled_and_fires(app, org, tmp_path):
    definition = _deploy(tmp_path, "timer_escalation")
    instance = _start(definition, org)
    timer = db.session.execute(select(ProcessTimer).where(ProcessTimer.instance_id == instance.id)).scalar_one()
    assert abs(timer.due_at - (utcnow() + timedelta(days=3))) < timedelta(minutes=1)
    assert _inboxes(org.leader) == {"leo": []}
    assert tick(now=timer.due_at).timers_fired == 1
    assert _inboxes(org.head, org.leader) == {"harry": [], "leo": ["Activity_escalated"]}
    _do(org.leader, instance)
    assert _ended(instance) == "Event_escalated"


def test_a_plain_iso_date_is_scheduled_at_that_moment(app, org, tmp_path):
    definition = _deploy(tmp_path, "timer_escalation", (
        '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">P3D</bpmn:timeDuration>',
        '<bpmn:timeDate xsi:type="bpmn:tFormalExpression">2099-12-24T10:00:00Z</bpmn:timeDate>'))
    instance = _start(definition, org)
    timer = db.session.execute(select(ProcessTimer).where(ProcessTimer.instance_id == instance.id)).scalar_one()
    assert timer.due_at == datetime(2099, 12, 24, 10, 0)


@pytest.mark.parametrize("text, message", [
    ("P3X", "the timer 'P3X' is not an ISO 8601 duration such as P3D or PT4H"),
    ("P99999999Y", "the timer 'P99999999Y' is not an ISO 8601 duration such as P3D or PT4H, at most 100 years "
                   "ahead"),
    ('"P99999999Y"', "the timer '\"P99999999Y\"' is not an ISO 8601 duration such as P3D or PT4H, at most 100 "
                     "years ahead"),  # SealFlow's own form: it took SpiffWorkflow minutes to compute, at filing
    ("R3/PT10M", "repeating timers (timeCycle 'R3/PT10M') are not supported; use a timeDuration (e.g. P3D)"),
    ("${period.days}", "the expression '${period.days}' is JUEL (Camunda) that SealFlow cannot translate"),
])
def test_a_timer_that_cannot_be_scheduled_is_refused_naming_its_event(app, org, tmp_path, text, message):
    tag = "timeCycle" if text.startswith("R") else "timeDuration"
    problems = _problems(tmp_path, "timer_escalation", (
        '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">P3D</bpmn:timeDuration>',
        f'<bpmn:{tag} xsi:type="bpmn:tFormalExpression">{text}</bpmn:{tag}>'))
    assert message in _refusal(problems, "Event_overdue")
    assert "[Event_overdue (Three days)]" in _refusal(problems, "Event_overdue")


# --- 2. camunda:property name="assignee" ---------------------------------------------------------------------

def test_a_camunda_property_assignee_decides_who_gets_the_task(app, org, tmp_path):
    definition = _deploy(tmp_path, "property_assignee")
    instance = _start(definition, org)
    # The lane says Approvers (harry and olga); the task's property names olga alone.
    assert _inboxes(org.head, org.other_approver) == {"harry": [], "olga": ["Activity_legal"]}
    [task] = tasks_of(instance.id)
    assert task.assignee_id == org.other_approver.id and task.decision_choices == ["approve", "reject"]
    _do(org.other_approver, instance)
    assert _ended(instance) == "Event_done"


def test_a_camunda_property_assignee_is_validated_like_sealflows(app, org, tmp_path):
    problems = _problems(tmp_path, "property_assignee", ('value="user:olga"', 'value="role:janitor"'))
    assert "[Activity_legal (Legal review)] unknown assignee rule 'role:janitor'" in _refusal(problems,
                                                                                              "Activity_legal")


_POLICY_PROPERTY = """<bpmn:userTask id="Activity_policy" name="Approvals the seal policy requires">
      <bpmn:extensionElements>
        <camunda:properties>
          <camunda:property name="assignee" value="policy" />
        </camunda:properties>
      </bpmn:extensionElements>"""
_IN_ASSIGNEE_FIELD = ('<bpmn:userTask id="Activity_policy" name="Approvals the seal policy requires" '
                      'camunda:assignee="policy">')


def test_a_sealflow_rule_in_camundas_assignee_field_is_that_rule(app, org, tmp_path):
    """The properties panel's Assignee field takes SealFlow's rules as well as usernames: `policy` there is the
    policy step (not a user named policy), checked for its shape and run as such."""
    definition = _deploy(tmp_path, "countersign_collection", (_POLICY_PROPERTY, _IN_ASSIGNEE_FIELD))
    instance = _start(definition, org, application_id=None, required_approvals=[HEAD_LEVEL],
                      countersigners=[org.other_approver.id])
    assert _inboxes(org.head, org.other_approver) == {"harry": ["Activity_policy"], "olga": []}
    assert instance.status == InstanceStatus.RUNNING
    parallel = ('isSequential="true" camunda:collection="${required_approvals}"',
                'isSequential="false" camunda:collection="${required_approvals}"')
    problems = _problems(tmp_path, "countersign_collection", (_POLICY_PROPERTY, _IN_ASSIGNEE_FIELD), parallel)
    assert "the policy step (assignee policy) must be a sequential" in _refusal(problems, "Activity_policy")


_OLGA_PROPERTY = '<camunda:property name="assignee" value="user:olga" />'


@pytest.mark.parametrize("assignee, message", [
    ("olga", None),  # a username stays one
    ("user:olga", None),
    ("role:janitor", "unknown assignee rule 'role:janitor'"),
])
def test_camundas_assignee_field_holds_a_username_or_a_sealflow_rule(app, org, tmp_path, assignee, message):
    task = '<bpmn:userTask id="Activity_legal" name="Legal review"'
    changes = ((_OLGA_PROPERTY, ""), (task, f'{task} camunda:assignee="{assignee}"'))
    if message is not None:
        assert message in _refusal(_problems(tmp_path, "property_assignee", *changes), "Activity_legal")
        return
    instance = _start(_deploy(tmp_path, "property_assignee", *changes), org)
    assert _inboxes(org.head, org.other_approver) == {"harry": [], "olga": ["Activity_legal"]}
    assert instance.status == InstanceStatus.RUNNING


# --- 3. lanes that name no role -----------------------------------------------------------------------------

def test_lanes_named_in_the_plural_or_after_no_role_run_as_drawn(app, org, tmp_path):
    definition = _deploy(tmp_path, "lanes")  # Applicant and System hold no user task; Leaders is the leader role
    instance = _start(definition, org)
    assert _inboxes(org.head, org.leader) == {"harry": [], "leo": ["Activity_leader"]}
    _do(org.leader, instance)
    assert _ended(instance) == "Event_done"


def test_a_user_task_whose_lane_names_no_role_is_refused_saying_what_to_write(app, org, tmp_path):
    problems = _problems(tmp_path, "lanes", (
        "<bpmn:flowNodeRef>Activity_leader</bpmn:flowNodeRef>\n      </bpmn:lane>\n      <bpmn:lane "
        'id="Lane_system" name="System">',
        '</bpmn:lane>\n      <bpmn:lane id="Lane_system" name="System">\n        '
        "<bpmn:flowNodeRef>Activity_leader</bpmn:flowNodeRef>"))
    assert _refusal(problems, "Activity_leader").endswith(
        "[Activity_leader (Leader approval)] nobody can do this task: its lane 'System' names no SealFlow role "
        "(employee, approver, leader, seal_admin, auditor); give the task an assignee property (policy, "
        "department_head, user:<username>, data:<variable>[.<key>] or role:<role>), camunda:assignee, "
        "camunda:candidateUsers or camunda:candidateGroups (roles), or name the lane after a role (e.g. Approvers)")
    assert len(problems) == 1


# --- 4. ids on vendor extension elements ----------------------------------------------------------------------

def test_vendor_extension_ids_are_not_the_models(app, org, tmp_path):
    """Two form fields share the id `comment`, and two more carry the ids of a user task and an end event: the
    diagram deploys, and the flows still lead to the task and the end event, not to the form fields."""
    definition = _deploy(tmp_path, "extension_ids")
    instance = _start(definition, org)
    _do(org.head, instance)
    assert _inboxes(org.head, org.leader) == {"harry": [], "leo": ["Activity_second"]}
    _do(org.leader, instance)
    assert _ended(instance) == "Event_done"


def test_a_model_id_used_twice_is_still_refused(app, org, tmp_path):
    problems = _problems(tmp_path, "extension_ids", ('<bpmn:endEvent id="Event_done"',
                                                      '<bpmn:endEvent id="Activity_first"'))
    assert any("the id 'Activity_first' is used by more than one element" in p.message for p in problems)


# --- 5. call activities ---------------------------------------------------------------------------------------

def _run_the_legal_check(definition: ProcessDefinition, org: Org) -> None:
    instance = _start(definition, org)
    _do(org.head, instance)
    # The called process's task, in the caller's instance, goes to the leaders.
    assert _inboxes(org.head, org.leader) == {"harry": [], "leo": ["Activity_legal_check"]}
    _do(org.leader, instance)
    assert _ended(instance) == "Event_done"


def test_a_call_activity_calls_a_deployed_process(app, org, tmp_path):
    problems = _problems(tmp_path, "call_deployed")
    assert ("[Activity_call (Legal check)] calls process 'legal_check', which is neither in this file nor deployed: "
            "deploy it first, or draw it in this file") in _refusal(problems, "Activity_call")
    _deploy(tmp_path, "legal_check")
    definition = _deploy(tmp_path, "call_deployed")
    _run_the_legal_check(definition, org)


def test_a_new_version_of_the_called_process_makes_the_caller_deploy_anew(app, org, tmp_path):
    _deploy(tmp_path, "legal_check")
    first = _deploy(tmp_path, "call_deployed")
    assert flows.deploy_file(tmp_path / "call_deployed.bpmn", ACTOR) == (first, False)
    _deploy(tmp_path, "legal_check", ('name="Leader checks the text"', 'name="Leader reads the text"'))
    second, created = flows.deploy_file(tmp_path / "call_deployed.bpmn", ACTOR)
    assert created and second.version == first.version + 1 and second.content_hash != first.content_hash


def test_a_call_activity_calls_a_process_drawn_in_the_same_file(app, org, tmp_path):
    definition = _deploy(tmp_path, "call_in_file")
    assert definition.process_id == "camunda_call_in_file"  # the process no other process of the file calls
    _run_the_legal_check(definition, org)


@pytest.mark.parametrize("old, new, message", [
    ('calledElement="legal_check">', 'calledElement="legal_check" camunda:calledElementBinding="version" '
     'camunda:calledElementVersion="7">', "calls version 7 of process 'legal_check', which is neither in this file "
                                          "nor deployed"),
    ('<camunda:in variables="all" />', '<camunda:in source="amount" target="value" />',
     'camunda:in maps single variables, and SealFlow passes all the process data to the called process and back: '
     'use camunda:in variables="all" and camunda:out variables="all", or no mapping'),
    ('calledElement="legal_check"', 'calledElement="${process_to_call}"',
     "calledElement '${process_to_call}' is an expression; name the process to call by its id"),
    ('calledElement="legal_check"', 'calledElement="camunda_call"',
     "calls process 'camunda_call', which is running already when this call is made: it would call itself"),
    ('calledElement="legal_check"', 'calledElement="legal_check" camunda:calledElementBinding="versionTag"',
     "camunda:calledElementBinding 'versionTag' is not supported"),
])
def test_a_call_activity_sealflow_cannot_run_is_refused(app, org, tmp_path, old, new, message):
    _deploy(tmp_path, "legal_check")
    assert message in _refusal(_problems(tmp_path, "call_deployed", (old, new)), "Activity_call")


def test_a_call_activity_may_name_the_version_it_calls(app, org, tmp_path):
    _deploy(tmp_path, "legal_check")
    _deploy(tmp_path, "legal_check", ('camunda:candidateGroups="leader"', 'camunda:candidateGroups="seal_admin"'))
    definition = _deploy(tmp_path, "call_deployed", (
        'calledElement="legal_check">',
        'calledElement="legal_check" camunda:calledElementBinding="version" camunda:calledElementVersion="1">'))
    _run_the_legal_check(definition, org)  # version 1: the leaders check, not the seal administrators


# --- 6. camunda:collection multi-instance (a countersign) ---------------------------------------------------

def test_a_camunda_collection_countersign_asks_each_countersigner_and_then_seals(app, org, tmp_path):
    definition = _deploy(tmp_path, "countersign_collection")
    instance = _start(definition, org, application_id=None, required_approvals=[HEAD_LEVEL],
                      countersigners=[org.other_approver.id, org.leader.id])
    everyone = (org.head, org.other_approver, org.leader)
    # The policy step, drawn as a Camunda collection over required_approvals: the department head first.
    assert _inboxes(*everyone) == {"harry": ["Activity_policy"], "olga": [], "leo": []}
    _do(org.head, instance)
    # Then every countersigner at once, each their own task (camunda:assignee="${approver}").
    assert _inboxes(*everyone) == {"harry": [], "olga": ["Activity_countersign"], "leo": ["Activity_countersign"]}
    assert {t.assignee_id for t in tasks_of(instance.id) if t.state == TaskState.READY} == {org.other_approver.id,
                                                                                            org.leader.id}
    _do(org.other_approver, instance)
    _do(org.leader, instance)
    [job] = [j for j in db.session.execute(select(Job).where(Job.instance_id == instance.id)).scalars()]
    assert job.operation == "seal_document"


def test_a_camunda_countersign_rejection_ends_it(app, org, tmp_path):
    definition = _deploy(tmp_path, "countersign_collection")
    instance = _start(definition, org, application_id=None, required_approvals=[HEAD_LEVEL],
                      countersigners=[org.other_approver.id, org.leader.id])
    _do(org.head, instance)
    _do(org.leader, instance, "reject")
    assert _ended(instance) == "rejected" and _inboxes(org.other_approver) == {"olga": []}


def test_a_camunda_countersign_never_goes_to_the_requester(app, org, tmp_path):
    """The requester is among the countersigners (the filing form refuses that; a diagram's data might not): the
    task would wait for ever for a decision the requester may not take, so the step fails, naming the task."""
    definition = _deploy(tmp_path, "countersign_collection")
    instance = _start(definition, org, application_id=999, required_approvals=[HEAD_LEVEL],
                      countersigners=[org.other_approver.id, org.employee.id])
    [task] = [t for t in approvals.inbox(org.head) if t.instance_id == instance.id]
    with pytest.raises(WorkflowFailed) as failed:
        complete_task(task.id, Actor.of(org.head), {"decision": "approve"})
    assert failed.value.message == ("the process stopped: the task Activity_countersign (Countersign) can be given to "
                                    "nobody: it would go to the requester, who never decides their own application")


def test_a_camunda_collection_sealflow_cannot_read_is_refused(app, org, tmp_path):
    problems = _problems(tmp_path, "countersign_collection", ('camunda:collection="${countersigners}"',
                                                               'camunda:collection="${people.getList()}"'))
    assert ("[Activity_countersign (Countersign)] camunda:collection '${people.getList()}': name a process variable "
            "holding a list, e.g. countersigners or ${countersigners}") in _refusal(problems, "Activity_countersign")


def test_a_camunda_collection_may_not_write_the_policy_steps_data(app, org, tmp_path):
    problems = _problems(tmp_path, "countersign_collection", ('camunda:elementVariable="approver"',
                                                               'camunda:elementVariable="required_approval"'))
    assert "required_approval is the policy step's data" in _refusal(problems, "Activity_countersign")


# --- 7. message catches and event-based gateways --------------------------------------------------------------

def test_a_message_catch_is_refused_suggesting_a_timer_or_a_user_task(app, org, tmp_path):
    assert _refusal(_problems(tmp_path, "message_catch"), "Event_signed").endswith(
        "[Event_signed (Signed contract received)] this intermediate event waits for a message, and SealFlow has no "
        "way to deliver messages: it would wait for ever; use a timer event, or a user task someone completes, "
        "instead")


def test_the_timer_the_refusal_suggests_runs(app, org, tmp_path):
    definition = _deploy(tmp_path, "message_catch", (
        '<bpmn:messageEventDefinition id="MessageEventDefinition_0r0w2kq" messageRef="Message_signed" />',
        '<bpmn:timerEventDefinition id="TimerEventDefinition_1"><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">'
        "PT4H</bpmn:timeDuration></bpmn:timerEventDefinition>"))
    instance = _start(definition, org)
    _do(org.head, instance)
    timer = db.session.execute(select(ProcessTimer).where(ProcessTimer.instance_id == instance.id)).scalar_one()
    assert abs(timer.due_at - (utcnow() + timedelta(hours=4))) < timedelta(minutes=1)
    assert tick(now=timer.due_at).timers_fired == 1
    assert _ended(instance) == "Event_done"


def test_an_event_based_gateway_is_refused_with_the_message_it_waits_for(app, org, tmp_path):
    problems = _problems(tmp_path, "event_gateway")
    assert "[Gateway_wait (Which comes first?)] SealFlow cannot run an event-based gateway" in _refusal(
        problems, "Gateway_wait")
    assert "waits for a message" in _refusal(problems, "Event_answer")
    assert not any(p.element_id == "Event_five_days" for p in problems)  # the timer after it is fine


def test_a_boundary_message_event_and_a_signal_nothing_throws_are_refused(app, org, tmp_path):
    boundary = ('<bpmn:boundaryEvent id="Event_cancelled" name="Cancelled" attachedToRef="Activity_review">'
                '<bpmn:outgoing>Flow_9</bpmn:outgoing><bpmn:signalEventDefinition id="Signal_def" '
                'signalRef="Signal_cancel" /></bpmn:boundaryEvent>'
                '<bpmn:sequenceFlow id="Flow_9" sourceRef="Event_cancelled" targetRef="Event_done" />')
    problems = _problems(tmp_path, "message_catch", ('<bpmn:sequenceFlow id="Flow_3"', boundary +
                                                     '<bpmn:sequenceFlow id="Flow_3"'))
    assert "this boundary event waits for a signal nothing in this file throws" in _refusal(problems,
                                                                                             "Event_cancelled")


def test_a_signal_thrown_in_the_same_file_reaches_its_catch(app, org, tmp_path):
    definition = _deploy(tmp_path, "signal_in_file")
    instance = _start(definition, org)
    assert _inboxes(org.head) == {"harry": ["Activity_review"]}
    _do(org.head, instance)
    # Completed: both branches ended, the one that waited for the signal too.
    assert _ended(instance) in ("Event_done", "Event_reviewed")


# --- 8. FEEL and JUEL conditions ------------------------------------------------------------------------------

@pytest.mark.parametrize("amount, document_type, path", [
    (5000, "contract", ["Activity_leader"]),  # ${amount > 1000}
    (10, "contract", "Event_small_contract"),  # amount <= 1000 and document_type = "contract"
    (10, "letter", "Event_other"),  # the default flow
])
def test_juel_and_feel_conditions_run_as_drawn(app, org, tmp_path, amount, document_type, path):
    definition = _deploy(tmp_path, "amount_conditions")
    instance = _start(definition, org, amount=amount, document_type=document_type)
    _do(org.head, instance)
    if isinstance(path, list):
        assert _inboxes(org.leader) == {"leo": path}
    else:
        assert _ended(instance) == path


@pytest.mark.parametrize("condition, message", [
    ('${execution.getVariable("amount") &gt; 1000}',
     """the expression '${execution.getVariable("amount") > 1000}' is JUEL (Camunda) that SealFlow cannot """
     "translate (it reads execution, which Camunda's engine provides and SealFlow does not); write it as SealFlow's "
     'Python-style expression, e.g. amount > 1000 and document_type == "contract"'),
    ("amount in [1000..5000]",
     "the expression 'amount in [1000..5000]' is neither SealFlow's Python-style form nor simple FEEL ('.' at "
     "'..5000]' has no SealFlow form); write it as SealFlow's Python-style expression, e.g. amount > 1000"),
    ("amount &gt; 1000 &amp;&amp;", "the expression 'amount > 1000 &&' is not valid FEEL SealFlow can read"),
])
def test_a_condition_sealflow_cannot_read_is_refused_quoting_its_text(app, org, tmp_path, condition, message):
    problems = _problems(tmp_path, "amount_conditions", ("${amount &gt; 1000}", condition))
    assert message in _refusal(problems, "Flow_large"), _refusal(problems, "Flow_large")
    assert "[Flow_large (over 1,000)]" in _refusal(problems, "Flow_large")


def test_a_script_condition_is_refused(app, org, tmp_path):
    problems = _problems(tmp_path, "amount_conditions", ('<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">'
                                                          "${amount",
                                                          '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression" '
                                                          'language="javascript">${amount'))
    assert "is written in javascript: SealFlow runs no scripts" in _refusal(problems, "Flow_large")


# --- 9. a process variable that is missing or empty -----------------------------------------------------------

def test_a_condition_reading_an_empty_amount_fails_the_step_saying_so(app, org, tmp_path):
    definition = _deploy(tmp_path, "amount_conditions")
    instance = _start(definition, org, amount=None)  # an application filed without an amount
    [task] = approvals.inbox(org.head)
    with pytest.raises(WorkflowFailed) as failed:
        complete_task(task.id, Actor.of(org.head), {"decision": "approve"})
    assert failed.value.message == (
        "the process stopped: the expression 'amount > 1000' of Gateway_amount (How large?) failed: amount has no "
        "value (TypeError: '>' not supported between instances of 'NoneType' and 'int')")
    db.session.rollback()
    assert tasks_of(instance.id)[0].state == TaskState.READY  # nothing of the step was kept


@pytest.mark.parametrize("condition", ["total &gt; 1000", "total * 2 &gt; 1000"])  # in process; in the evaluator
def test_a_condition_reading_a_variable_the_data_lacks_fails_the_step_naming_it(app, org, tmp_path, condition):
    definition = _deploy(tmp_path, "amount_conditions", ("${amount &gt; 1000}", "${" + condition + "}"))
    _start(definition, org, amount=5000)
    [task] = approvals.inbox(org.head)
    with pytest.raises(WorkflowFailed) as failed:
        complete_task(task.id, Actor.of(org.head), {"decision": "approve"})
    assert failed.value.message == (f"the process stopped: the expression {condition.replace('&gt;', '>')!r} of "
                                    "Gateway_amount (How large?) failed: the process data has no 'total'")


def test_a_timer_reading_an_empty_value_fails_the_step_saying_so(app, org, tmp_path):
    """SpiffWorkflow parsed the timer's value itself and raised an AttributeError on None: a 500 at filing."""
    definition = _deploy(tmp_path, "timer_escalation", ("P3D", "${amount}"))
    with pytest.raises(WorkflowFailed) as failed:
        _start(definition, org, amount=None)
    assert failed.value.message == (
        "the process stopped: the timer 'amount' of Event_overdue (Three days) gave 'None', which is not an ISO 8601 "
        "duration such as P3D or PT4H")


def test_a_task_assigned_from_a_variable_the_data_lacks_fails_the_step(app, org, tmp_path):
    """It stayed ready, and every decision on the task before it answered 422: the application waited for ever."""
    definition = _deploy(tmp_path, "amount_conditions", ('camunda:candidateGroups="leader"',
                                                         'camunda:assignee="${large_amount_approver}"'))
    _start(definition, org, amount=5000)
    [task] = approvals.inbox(org.head)
    with pytest.raises(WorkflowFailed) as failed:
        complete_task(task.id, Actor.of(org.head), {"decision": "approve"})
    assert failed.value.message == ("the process stopped: the task Activity_leader (Leader review) can be given to "
                                    "nobody: the process data has no 'large_amount_approver' to assign the task to")


# --- every diagram of the corpus ------------------------------------------------------------------------------

FILE_LEVEL = "expected one executable process"


@pytest.mark.parametrize("path", sorted((CORPUS / "bpmn").rglob("*.bpmn")),
                         ids=lambda p: str(p.relative_to(CORPUS / "bpmn")))
def test_every_corpus_diagram_validates_or_is_refused_naming_elements(app, org, path):
    """The MIWG reference diagrams and their Camunda Modeler exports: never an exception; every problem names its
    element (or, for the schema, its line), except the one about the file as a whole."""
    problems = flows.validate_file(path)
    for problem in problems:
        assert problem.message and (problem.element_id or problem.line or problem.message.startswith(FILE_LEVEL)), \
            problem
    assert "Traceback" not in "".join(str(p) for p in problems)
