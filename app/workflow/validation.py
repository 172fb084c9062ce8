"""What stops a diagram from running in SealFlow, all at once: schema errors, dangling references, tasks
nobody can do, service tasks without an operator, unknown called processes, unsafe expressions."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import SpiffWorkflow.bpmn.parser as spiff_parser
from lxml import etree

from app.models import REQUESTER_DECISIONS, RoleName
from app.workflow.errors import Problem

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
NS = {"bpmn": BPMN_NS}
SCHEMA = Path(spiff_parser.__file__).parent / "schema" / "BPMN20.xsd"
ASSIGNEE_RULES = "policy, department_head, user:<username>, data:<variable>[.<key>] or role:<role>"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_DATA_PATH = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?$")
# Camunda's `${variable}`: the one form of its expressions SealFlow reads (a user in the process data).
CAMUNDA_DATA = re.compile(r"^\$\{\s*([A-Za-z][A-Za-z0-9_]*)\s*\}$")
# Every element that can be a sequence flow's source or target, or hold a task.
_FLOW_NODES = ("task", "userTask", "serviceTask", "manualTask", "scriptTask", "sendTask", "receiveTask",
               "businessRuleTask", "callActivity", "subProcess", "transaction", "startEvent", "endEvent",
               "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent", "exclusiveGateway",
               "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway")


@cache
def _schema() -> etree.XMLSchema:
    """The BPMN 2.0 XSD SpiffWorkflow ships (its imports are local files; no network)."""
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(str(SCHEMA), parser))


def _problem(node: etree._Element, source: str, message: str) -> Problem:
    return Problem(message, node.get("id", ""), " ".join((node.get("name") or "").split()), source, node.sourceline)


def schema_problems(root: etree._Element, source: str) -> list[Problem]:
    """Where the document breaks the BPMN 2.0 schema."""
    schema = _schema()
    if schema.validate(root):
        return []
    return [Problem(f"schema: {error.message}", file=source, line=error.line) for error in schema.error_log]


def role_of(text: str) -> RoleName | None:
    """The role a lane or a role: rule names ("Seal administrator", "seal_admin" …), if any."""
    key = " ".join(text.split()).lower().replace(" ", "_")
    aliases = {"seal_administrator": "seal_admin", "department_head": "approver"}
    try:
        return RoleName(aliases.get(key, key))
    except ValueError:
        return None


def _lane_of(process: etree._Element) -> dict[str, etree._Element]:
    lanes = {}
    for lane in process.iterfind(".//bpmn:lane", NS):
        for ref in lane.iterfind("bpmn:flowNodeRef", NS):
            lanes[(ref.text or "").strip()] = lane
    return lanes


def _rule_is_known(rule: str) -> bool:
    kind, _, value = rule.partition(":")
    return (rule in ("department_head", "policy") or kind == "user" and bool(value.strip())
            or kind == "data" and bool(_DATA_PATH.match(value)) or kind == "role" and role_of(value) is not None)


def _camunda_problems(task: etree._Element, source: str) -> list[Problem]:
    """Camunda's assignee and candidate users name users or `${variable}`; candidate groups name roles."""
    problems = []
    for attr in ("assignee", "candidateUsers"):
        for value in (v.strip() for v in (task.get(f"{{{CAMUNDA_NS}}}{attr}") or "").split(",") if v.strip()):
            if "${" in value and not CAMUNDA_DATA.match(value):
                problems.append(_problem(task, source, f"camunda:{attr} {value!r}: only a plain ${{variable}} "
                                                       "naming a user in the process data is supported"))
    for group in (g.strip() for g in (task.get(f"{{{CAMUNDA_NS}}}candidateGroups") or "").split(",") if g.strip()):
        if role_of(group) is None:
            problems.append(_problem(task, source, f"camunda:candidateGroups names {group!r}, which is no SealFlow "
                                                   f"role ({', '.join(RoleName)})"))
    return problems


def _property(task: etree._Element, name: str) -> str:
    return next((p.get("value", "") for p in task.iter("{*}property") if p.get("name") == name), "")


def _assignment_problems(process: etree._Element, source: str) -> list[Problem]:
    problems = []
    for lane in process.iterfind(".//bpmn:lane", NS):
        if lane.find("bpmn:childLaneSet", NS) is None and role_of(lane.get("name") or "") is None:
            problems.append(_problem(lane, source, f"the lane names no SealFlow role ({', '.join(RoleName)})"))
    lanes = _lane_of(process)
    for task in process.iterfind(".//bpmn:userTask", NS):
        rule = _property(task, "assignee")
        camunda = any(task.get(f"{{{CAMUNDA_NS}}}{a}") for a in ("assignee", "candidateUsers", "candidateGroups"))
        if not rule and not camunda and task.get("id") not in lanes:
            problems.append(_problem(task, source, "nobody can do this task: give it an assignee property "
                                                   f"({ASSIGNEE_RULES}), Camunda assignee or candidates, or put "
                                                   "it in a lane naming a role"))
        elif rule and not _rule_is_known(rule):
            problems.append(_problem(task, source, f"unknown assignee rule {rule!r}; use {ASSIGNEE_RULES}"))
        problems += _camunda_problems(task, source)
        decisions = _property(task, "decisions")
        if decisions and not all(_NAME.match(d.strip()) for d in decisions.split(",")):
            problems.append(_problem(task, source, f"decisions {decisions!r}: give words separated by commas, "
                                                   "e.g. approve,reject,return"))
    return problems


def _reference_problems(root: etree._Element, source: str) -> list[Problem]:
    ids = {node.get("id") for node in root.iter() if isinstance(node.tag, str) and node.get("id")}
    problems = []
    for flow in root.iterfind(".//bpmn:sequenceFlow", NS):
        for end in ("sourceRef", "targetRef"):
            if flow.get(end) not in ids:
                problems.append(_problem(flow, source, f"the flow's {end} {flow.get(end)!r} is no element"))
    processes = {p.get("id") for p in root.iterfind("bpmn:process", NS)}
    for call in root.iterfind(".//bpmn:callActivity", NS):
        called = call.get("calledElement")
        if called not in processes:  # the version stores its called processes' specs with its own
            problems.append(_problem(call, source, f"calls process {called!r}, which is not in this file: a "
                                                   "diagram holds the processes it calls"))
    return problems


def _timer_problems(process: etree._Element, source: str) -> list[Problem]:
    """Timers fire from their stored due time (see engine.fire_due_timers): one-off timers only."""
    problems = []
    for cycle in process.iterfind(".//bpmn:timeCycle", NS):
        event = cycle.getparent().getparent()
        problems.append(_problem(event, source, "repeating timers (timeCycle) are not supported; use a "
                                                "timeDuration or timeDate"))
    for start in process.iterfind("bpmn:startEvent", NS):
        if start.find("bpmn:timerEventDefinition", NS) is not None:
            problems.append(_problem(start, source, "a seal process starts when an application is filed; "
                                                    "timer start events are not supported"))
    return problems


def _task_problems(process: etree._Element, source: str) -> list[Problem]:
    problems = []
    for task in process.iterfind(".//bpmn:serviceTask", NS):
        if next(task.iter("{*}serviceTaskOperator"), None) is None:
            problems.append(_problem(task, source, "a service task needs a SealFlow operator "
                                                   "(spiffworkflow:serviceTaskOperator)"))
    for kind in ("task", "manualTask", "sendTask", "receiveTask"):
        for task in process.iterfind(f".//bpmn:{kind}", NS):
            problems.append(_problem(task, source, f"SealFlow cannot run a {kind}; use a user or service task"))
    problems += _timer_problems(process, source)
    if process.find("bpmn:startEvent", NS) is None:
        problems.append(_problem(process, source, "the process has no start event"))
    for node in (n for kind in _FLOW_NODES for n in process.iterfind(f".//bpmn:{kind}", NS)):
        if node.get("id") is None:
            problems.append(_problem(node, source, f"a {etree.QName(node).localname} has no id"))
    return problems


def semantic_problems(root: etree._Element, source: str) -> list[Problem]:
    """What keeps the executable processes from running, beyond the schema."""
    problems = _reference_problems(root, source)
    for process in root.iterfind("bpmn:process", NS):
        if process.get("isExecutable", "true") == "false":
            continue
        problems += _task_problems(process, source)
        problems += _assignment_problems(process, source)
    return problems


POLICY_STEP_SHAPE = ("the policy step (assignee policy) must be a sequential multi-instance over "
                     "required_approvals, its item named required_approval, ending early (if at all) only on a "
                     "decision other than approve: completionCondition decision != \"approve\"")
# The process data the policy step reads: nothing in a diagram may write it (SealFlow sets it at filing).
POLICY_DATA = ("required_approvals", "required_approval")
_STOPS_ON_REFUSAL = 'decision != "approve"'


def _stops_only_on_refusal(loop: etree._Element) -> bool:
    condition = loop.findtext("bpmn:completionCondition", None, NS)
    return condition is None or " ".join(condition.replace("'", '"').split()) == _STOPS_ON_REFUSAL


def _is_policy_step(node: etree._Element) -> bool:
    return etree.QName(node).localname == "userTask" and _property(node, "assignee") == "policy"


def _policy_step_problems(process: etree._Element, source: str) -> list[Problem]:
    """The policy step asks each required level in turn: its shape is fixed."""
    problems = []
    for task in (t for t in process.iterfind(".//bpmn:userTask", NS) if _is_policy_step(t)):
        loop = task.find("bpmn:multiInstanceLoopCharacteristics", NS)
        item = loop.find("bpmn:inputDataItem", NS) if loop is not None else None
        if (loop is None or loop.get("isSequential") != "true"
                or (loop.findtext("bpmn:loopDataInputRef", "", NS) or "").strip() != "required_approvals"
                or item is None or (item.get("name") or item.get("id")) != "required_approval"
                or not _stops_only_on_refusal(loop)):
            problems.append(_problem(task, source, POLICY_STEP_SHAPE))
    return problems


def _writes(node: etree._Element) -> set[str]:
    """The process variables an element may write or bring in: data objects and inputs/outputs by id or name,
    multi-instance items and output collections, a service task's result variable."""
    kind = etree.QName(node).localname
    names: set[str] = set()
    if kind in ("dataObject", "dataObjectReference", "dataInput", "dataOutput", "dataStoreReference",
                "outputDataItem", "inputDataItem"):
        names |= {node.get("id") or "", node.get("name") or ""}
    elif kind == "loopDataOutputRef":
        names.add((node.text or "").strip())
    elif kind == "serviceTaskOperator":
        names.add(node.get("resultVariable") or "")
    return names


def _policy_data_problems(process: etree._Element, source: str) -> list[Problem]:
    """Nothing but SealFlow's filing sets what the policy step asks: a diagram writing it could empty the levels."""
    problems = []
    # Kept as a list: lxml reuses an element's proxy only while one is alive, so `is` compares them.
    policy_items = [i for t in process.iterfind(".//bpmn:userTask", NS) if _is_policy_step(t)
                    for i in t.iterfind("bpmn:multiInstanceLoopCharacteristics/bpmn:inputDataItem", NS)]
    for node in process.iter():
        if not isinstance(node.tag, str) or any(node is item for item in policy_items):
            continue
        written = _writes(node) & set(POLICY_DATA)
        if written:
            problems.append(_problem(_owner_of(node), source, f"{', '.join(sorted(written))} is the policy step's "
                                                              "data, set when the application is filed; a diagram "
                                                              "may not write it"))
    return problems


def _owner_of(node: etree._Element) -> etree._Element:
    """The nearest element with an id (a problem names it)."""
    while node.get("id") is None and node.getparent() is not None:
        node = node.getparent()
    return node


def _flow_graph(root: etree._Element) -> tuple[dict[str, set[str]], dict[str, etree._Element]]:
    """Every way a token can move: sequence flows; into a subprocess or called process (its start events) and out
    of it (its end events, then its outgoing flows, through a virtual `<id>#exit` node); to the boundary events of
    an activity while it runs; to the event subprocesses of a container while it runs."""
    nodes = {n.get("id", ""): n for kind in _FLOW_NODES for n in root.iterfind(f".//bpmn:{kind}", NS)}
    edges: dict[str, set[str]] = {}
    processes = {p.get("id"): p for p in root.iterfind("bpmn:process", NS)}

    def link(a: str, b: str) -> None:
        edges.setdefault(a, set()).add(b)

    for flow in root.iterfind(".//bpmn:sequenceFlow", NS):
        source = flow.get("sourceRef", "")
        exit_node = f"{source}#exit" if source in nodes and _is_container(nodes[source]) else source
        link(exit_node, flow.get("targetRef", ""))
    for node_id, node in nodes.items():
        if node.get("attachedToRef"):
            link(node.get("attachedToRef", ""), node_id)
        container = processes.get(node.get("calledElement")) if etree.QName(node).localname == "callActivity" else (
            node if etree.QName(node).localname in _SUBPROCESSES else None)
        if container is not None:
            for child in container:
                kind = etree.QName(child).localname if isinstance(child.tag, str) else ""
                if kind == "startEvent" or kind in _SUBPROCESSES and child.get("triggeredByEvent") == "true":
                    link(node_id, child.get("id", ""))
                elif kind == "endEvent":
                    link(child.get("id", ""), f"{node_id}#exit")
    return edges, nodes


_SUBPROCESSES = ("subProcess", "transaction")


def _is_container(node: etree._Element) -> bool:
    return etree.QName(node).localname in (*_SUBPROCESSES, "callActivity")


def _bypass_problems(root: etree._Element, process: etree._Element, source: str,
                     operators: frozenset[str]) -> list[Problem]:
    """A sealing service task that a token can reach from the start without passing the policy step: the flow would
    seal without the approvals the seal policy requires (the sealing gate would refuse it then; say it now)."""
    edges, nodes = _flow_graph(root)
    starts = [c.get("id", "") for c in process if isinstance(c.tag, str) and (
        etree.QName(c).localname == "startEvent"
        or etree.QName(c).localname == "subProcess" and c.get("triggeredByEvent") == "true")]
    seen, queue = set(starts), list(starts)
    while queue:
        current = queue.pop()
        targets = edges.get(current, set())
        if current in nodes and _is_policy_step(nodes[current]):
            # Beyond the policy step every path has passed it; its boundary events can fire before it is done.
            targets = {t for t in targets if t in nodes and nodes[t].get("attachedToRef") == current}
        for target in targets:
            if target not in seen:
                seen.add(target)
                queue.append(target)
    problems = []
    for node_id in sorted(seen):
        node = nodes.get(node_id)
        operator = next(node.iter("{*}serviceTaskOperator"), None) if node is not None else None
        if node is not None and etree.QName(node).localname == "serviceTask" and operator is not None \
                and operator.get("id") in operators:
            problems.append(_problem(node, source, "a path from the start reaches this sealing task without passing "
                                                   "the policy step (a user task with assignee policy): a flow may "
                                                   "add approvals, never skip the seal policy's"))
    return problems


def control_problems(root: etree._Element, source: str, operators: frozenset[str]) -> list[Problem]:
    """What would let the executable process seal without the approvals the seal policy requires."""
    problems: list[Problem] = []
    for process in root.iterfind("bpmn:process", NS):
        if process.get("isExecutable", "true") != "false":
            problems += _policy_step_problems(process, source)
            problems += _policy_data_problems(process, source)
            problems += _bypass_problems(root, process, source, operators)
    return problems


# The process data that names the requester (set when the application is filed).
REQUESTER_DATA = "requester_id"
_TO_REQUESTER = ("goes to the requester alone, who never decides a step of their own application: it would wait for "
                 "ever; give it to someone else, or make it the requester's own step (decisions resubmit,withdraw)")
_AMONG_CANDIDATES = ("names the requester among its candidates, who never decides a step of their own application: "
                     "the others decide it")
_TO_EMPLOYEES = ("is offered to every employee, the requester among them (who may not decide it) and any colleague: "
                 "give it to an approver role, the department head or the policy step")


def _camunda_values(task: etree._Element, attribute: str) -> list[str]:
    return [v.strip() for v in (task.get(f"{{{CAMUNDA_NS}}}{attribute}") or "").split(",") if v.strip()]


def _data_names(values: list[str]) -> list[str | None]:
    """The process variable each Camunda value reads (`${variable}`); None for a plain name."""
    return [match.group(1) if (match := CAMUNDA_DATA.match(v)) else None for v in values]


def _reaches_requester(task: etree._Element, lane: etree._Element | None) -> str | None:
    """How a deciding user task could reach the requester, in a warning's words, or None (the rules are applied in
    assignment.resolve's order: SealFlow's assignee, Camunda's assignee, its candidates, the lane)."""
    rule = _property(task, "assignee")
    if rule:
        if rule == f"data:{REQUESTER_DATA}":
            return _TO_REQUESTER
        return _TO_EMPLOYEES if rule == f"role:{RoleName.EMPLOYEE}" else None
    assignee, users = _camunda_values(task, "assignee"), _camunda_values(task, "candidateUsers")
    groups = _camunda_values(task, "candidateGroups")
    if assignee:
        return _TO_REQUESTER if _data_names(assignee) == [REQUESTER_DATA] else None
    if REQUESTER_DATA in _data_names(users):
        return _AMONG_CANDIDATES
    if any(role_of(group) == RoleName.EMPLOYEE for group in groups):
        return _TO_EMPLOYEES
    in_employees_lane = lane is not None and role_of(lane.get("name") or "") == RoleName.EMPLOYEE
    return _TO_EMPLOYEES if not users and not groups and in_employees_lane else None


def requester_warnings(root: etree._Element, source: str) -> list[Problem]:
    """Warnings, not problems (the diagram still deploys; separation of duties holds at decision time): user tasks
    that decide (their decisions are not only the requester's own: resubmit, withdraw) and could reach the
    requester."""
    warnings = []
    for process in root.iterfind("bpmn:process", NS):
        if process.get("isExecutable", "true") == "false":
            continue
        lanes = _lane_of(process)
        for task in process.iterfind(".//bpmn:userTask", NS):
            decisions = {d.strip() for d in (_property(task, "decisions") or "approve,reject").split(",") if d.strip()}
            if decisions <= REQUESTER_DECISIONS:
                continue
            reason = _reaches_requester(task, lanes.get(task.get("id") or ""))
            if reason is not None:
                warnings.append(_problem(task, source, f"this task {reason}"))
    return warnings
