"""Expressions that exhaust CPU or memory, in every place a diagram or decision table holds one: each is stopped
by the evaluator's limits, the step fails naming the element and the expression, nothing of the step is written,
and no lock is held meanwhile (another writer goes on)."""

import threading

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, HumanTask, ProcessInstance, TaskState
from app.models.audit import Actor
from app.services import accounts
from app.workflow import WorkflowFailed, complete_task, deploy, start, validate
from tests.conftest import evaluator_at_work

ACTOR = Actor.system("test")
HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="tests">
  <bpmn:process id="{pid}" isExecutable="true">
"""
REVIEW = """
    <bpmn:userTask id="review" name="Review">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="assignee" value="user:harry" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>{loop}
    </bpmn:userTask>"""

# Each bomb reads its size from the process data, so that deploying cannot see it coming; the data is given when
# the step that meets it runs.
BOMBS = {
    "memory": ("('%0' + width + 'd') % 0 == ''", {"width": "999999999"}),
    "cpu": ("round(1, -n) == 0", {"n": 1_000_000_000}),
    "cpu in C": ("[[0] * n] * n == [[0] * n] * n", {"n": 100_000}),
}


def _condition(bomb: str) -> str:
    return (HEADER.format(pid="bomb_condition") + REVIEW.format(loop="") + f"""
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:exclusiveGateway id="choose" name="Which way" default="f4"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing><bpmn:outgoing>f4</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:endEvent id="e1"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="e2"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="review"/>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="choose"/>
    <bpmn:sequenceFlow id="f3" sourceRef="choose" targetRef="e1">
      <bpmn:conditionExpression>{bomb}</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f4" sourceRef="choose" targetRef="e2"/>
  </bpmn:process>
</bpmn:definitions>""")


def _after_review(pid: str, element: str) -> str:
    return (HEADER.format(pid=pid) + REVIEW.format(loop="") + element + """
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:endEvent id="e"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="review"/>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="next"/>
    <bpmn:sequenceFlow id="f3" sourceRef="next" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>""")


def _cardinality(bomb: str) -> str:
    return _after_review("bomb_cardinality", f"""
    <bpmn:userTask id="next" name="Everyone signs">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="assignee" value="user:olga" /></spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics>
        <bpmn:loopCardinality>{bomb}</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>
    </bpmn:userTask>""")


def _completion(bomb: str) -> str:
    loop = f"""
      <bpmn:multiInstanceLoopCharacteristics isSequential="true">
        <bpmn:loopCardinality>2</bpmn:loopCardinality>
        <bpmn:completionCondition>{bomb}</bpmn:completionCondition>
      </bpmn:multiInstanceLoopCharacteristics>"""
    return (HEADER.format(pid="bomb_completion") + REVIEW.format(loop=loop) + """
    <bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:endEvent id="e"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="review"/>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>""")


def _decision_task() -> str:
    return _after_review("bomb_decision", """
    <bpmn:businessRuleTask id="next" name="Look up the route">
      <bpmn:extensionElements><spiffworkflow:calledDecisionId>route</spiffworkflow:calledDecisionId>
      </bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:businessRuleTask>""")


def _table(cell: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="route_defs" name="Route" namespace="tests">
  <decision id="route" name="Route">
    <decisionTable id="route_table" hitPolicy="FIRST">
      <input id="in1" label="Width"><inputExpression id="ie1" typeRef="string"><text>width</text></inputExpression>
      </input>
      <output id="out1" name="route" typeRef="string" />
      <rule id="r1"><inputEntry id="c1"><text>{cell}</text></inputEntry>
        <outputEntry id="o1"><text>"long"</text></outputEntry></rule>
      <rule id="r2"><inputEntry id="c2"><text>-</text></inputEntry>
        <outputEntry id="o2"><text>"short"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>""".encode()


def _deploy(xml: str, policies: dict[str, bytes] | None = None):
    definition, _ = deploy(xml.encode(), "bomb.bpmn", (), policies or {}, ACTOR)
    db.session.commit()
    return definition


def _started(process_id: str, data: dict) -> tuple[int, int]:
    step = start(process_id, data, None, ACTOR)
    db.session.commit()
    return step.instance.id, step.new_tasks[0].id


def _assert_nothing_written(instance_id: int, task_id: int, events_before: int) -> None:
    db.session.rollback()
    assert db.session.get(HumanTask, task_id).state == TaskState.READY
    tasks = select(func.count(HumanTask.id)).where(HumanTask.instance_id == instance_id)
    assert db.session.execute(tasks).scalar() == 1
    assert db.session.execute(select(func.count(AuditEvent.id))).scalar() == events_before
    assert db.session.get(ProcessInstance, instance_id).revision == 0  # untouched since its start


PLACES = {
    "condition": lambda bomb: (_condition(bomb), None, "choose (Which way)"),
    "completion condition": lambda bomb: (_completion(bomb), None, "review (Review)"),
    "cardinality": lambda bomb: (_cardinality(f"1 if {bomb} else 1"), None, "next (Everyone signs)"),
    "decision cell": lambda bomb: (_decision_task(), {"route.dmn": _table(bomb.replace("'", "&apos;"))},
                                   "next (Look up the route)"),
}


@pytest.mark.parametrize("kind", sorted(BOMBS))
@pytest.mark.parametrize("place", sorted(PLACES))
def test_a_costly_expression_fails_the_step_naming_element_and_text(app, org, place: str, kind: str):
    bomb, data = BOMBS[kind]
    xml, policies, element = PLACES[place](bomb)
    definition = _deploy(xml, policies)
    instance_id, task_id = _started(definition.process_id, {"width": "1", **data})  # the table's input: width
    events = db.session.execute(select(func.count(AuditEvent.id))).scalar()
    with pytest.raises(WorkflowFailed) as refused:
        complete_task(task_id, ACTOR, {"decision": "approve"})
    message = refused.value.message
    assert f"of {element} was stopped: " in message
    # On a loaded machine the wall-clock limit may come first: the expression is stopped either way.
    assert ("memory" in message) if kind == "memory" else ("CPU time" in message or "did not finish" in message)
    assert "Traceback" not in message and " object at 0x" not in message
    _assert_nothing_written(instance_id, task_id, events)


def test_a_multi_instance_count_of_ten_million_is_refused(app, org):
    definition = _deploy(_cardinality("n"))
    instance_id, task_id = _started(definition.process_id, {"n": 10_000_000})
    events = db.session.execute(select(func.count(AuditEvent.id))).scalar()
    with pytest.raises(WorkflowFailed, match=r"multi-instance count 'n' of next \(Everyone signs\) gave 10000000; "
                                             r"it must be a whole number from 0 to 1000"):
        complete_task(task_id, ACTOR, {"decision": "approve"})
    _assert_nothing_written(instance_id, task_id, events)


def test_the_same_diagram_runs_when_the_data_is_harmless(app, org):
    definition = _deploy(_condition(BOMBS["cpu"][0]))
    _, task_id = _started(definition.process_id, {"n": 2})
    step = complete_task(task_id, ACTOR, {"decision": "approve"})
    assert step.instance.outcome == "e1"


def test_no_lock_is_held_while_an_expression_runs(app, org):
    """While one decision's expression burns its CPU allowance, another user's write commits at once."""
    from app.workflow import evaluator
    evaluator.configure(4.0, 64)  # long enough to be caught in the act
    try:
        definition = _deploy(_condition(BOMBS["cpu"][0]))
        _, task_id = _started(definition.process_id, BOMBS["cpu"][1])
        outcome: dict[str, object] = {}

        def decide() -> None:
            with app.app_context():
                try:
                    complete_task(task_id, ACTOR, {"decision": "approve"})
                    db.session.commit()
                except WorkflowFailed as exc:
                    outcome["refused"] = exc.message
                    db.session.rollback()

        decider = threading.Thread(target=decide)
        decider.start()
        assert evaluator_at_work(), "the evaluator never started on the decision's expression"
        accounts.save_user("walter", "Walter", "a long password here", set(), org.department)
        db.session.commit()
        still_deciding = decider.is_alive()
        decider.join(30)
        assert still_deciding, "the other user's write waited for the expression"
        # Stopped by its CPU allowance, or by the wall-clock limit when a loaded machine gives it less than a core.
        assert "was stopped" in str(outcome.get("refused"))
    finally:
        evaluator.configure(app.config["EXPRESSION_CPU_SECONDS"], app.config["EXPRESSION_MEMORY_MB"])


def test_a_bomb_that_reads_no_data_is_refused_at_deploy(app, org):
    problems = validate(_condition("'%0999999999d' % 0 == ''").encode(), "bomb.bpmn", (), {})
    [problem] = problems
    assert problem.element_id == "f3" and "memory" in problem.message
