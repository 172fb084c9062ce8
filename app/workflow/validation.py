"""What stops a diagram from running in SealFlow, all at once: schema errors, dangling references, tasks nobody
can do, service tasks without an operator, events that would wait for ever."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import SpiffWorkflow.bpmn.parser as spiff_parser
from lxml import etree

from app.models import REQUESTER_DECISIONS, RoleName, SealKind
from app.workflow import camunda
from app.workflow.errors import Problem
from app.workflow.filing import filing_problems

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
FLOW_NODES = ("task", "userTask", "serviceTask", "manualTask", "scriptTask", "sendTask", "receiveTask",
               "businessRuleTask", "callActivity", "subProcess", "transaction", "startEvent", "endEvent",
               "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent", "exclusiveGateway",
               "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway")


@cache
def _schema() -> etree.XMLSchema:
    """The BPMN 2.0 XSD SpiffWorkflow ships (its imports are local files; no network)."""
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(str(SCHEMA), parser))


def schema_problems(root: etree._Element, source: str) -> list[Problem]:
    """Where the document breaks the BPMN 2.0 schema."""
    schema = _schema()
    if schema.validate(root):
        return []
    return [Problem(f"schema: {error.message}", file=source, line=error.line) for error in schema.error_log]


# What a lane or a role rule may call a role beyond its own name (after lower-casing, spaces as _, a plural's s
# dropped): the words of DESIGN.md, in English and Chinese.
_ROLE_ALIASES = {"seal_administrator": "seal_admin", "department_head": "approver", "审批人": "approver",
                 "部门负责人": "approver", "领导": "leader", "印章管理员": "seal_admin", "审计员": "auditor",
                 "员工": "employee"}


def role_of(text: str) -> RoleName | None:
    """The role a lane or a role: rule names ("Seal administrator", "seal_admin", "Leaders", "领导" …), if any."""
    key = "_".join(text.replace("-", " ").lower().split())
    for candidate in (key, key[:-1] if key.endswith("s") else key):
        try:
            return RoleName(_ROLE_ALIASES.get(candidate, candidate))
        except ValueError:
            continue
    return None


def _lane_of(process: etree._Element) -> dict[str, etree._Element]:
    """The lane each flow node sits in: the innermost, as SpiffWorkflow reads it (the last lane listing it)."""
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
                problems.append(Problem.at(task, source, f"camunda:{attr} {value!r}: only a plain ${{variable}} "
                                                         "naming a user in the process data is supported"))
    for group in (g.strip() for g in (task.get(f"{{{CAMUNDA_NS}}}candidateGroups") or "").split(",") if g.strip()):
        if role_of(group) is None:
            problems.append(Problem.at(task, source, f"camunda:candidateGroups names {group!r}, which is no SealFlow "
                                                     f"role ({', '.join(RoleName)})"))
    return problems


SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
# Where a task's SealFlow properties (assignee, decisions) may be written: SpiffWorkflow's properties win over
# Camunda's (camunda:properties, Camunda Modeler's "Extension properties").
PROPERTY_PATHS = {SPIFF_NS: "spiffworkflow:properties/spiffworkflow:property",
                  CAMUNDA_NS: "camunda:properties/camunda:property"}
_PROPERTY_NS = {**NS, "spiffworkflow": SPIFF_NS, "camunda": CAMUNDA_NS}


def is_sealflow_rule(value: str) -> bool:
    """Whether a camunda:assignee is one of SealFlow's assignment rules (policy, department_head, user:…, data:…,
    role:…) rather than a username or ${variable}: the modeler's Assignee field takes either."""
    kind, colon, rest = value.partition(":")
    return value in ("policy", "department_head") or (bool(colon) and bool(rest) and kind in ("user", "data", "role"))


def task_properties(task: etree._Element) -> dict[str, str]:
    """A task's SealFlow properties (name -> value), from spiffworkflow:properties and camunda:properties; a SealFlow
    rule written as camunda:assignee is its `assignee` unless a property names one."""
    found: dict[str, str] = {}
    for path in PROPERTY_PATHS.values():
        for prop in task.iterfind(f"bpmn:extensionElements/{path}", _PROPERTY_NS):
            found.setdefault(prop.get("name") or "", prop.get("value") or "")
    camunda = (task.get(f"{{{CAMUNDA_NS}}}assignee") or "").strip()
    if is_sealflow_rule(camunda):
        found.setdefault("assignee", camunda)
    return found


def task_property(task: etree._Element, name: str) -> str:
    """One of a task's SealFlow properties, or ""."""
    return task_properties(task).get(name, "")


_ASSIGNMENT_HELP = (f"give the task an assignee property ({ASSIGNEE_RULES}), camunda:assignee, camunda:candidateUsers "
                    "or camunda:candidateGroups (roles)")


def _who_problem(task: etree._Element, lanes: dict[str, etree._Element]) -> str | None:
    """Why nobody can do a user task that names nobody itself, or None: its lane must name a role."""
    lane = lanes.get(task.get("id") or "")
    if lane is None:
        return f"nobody can do this task: {_ASSIGNMENT_HELP}, or put it in a lane named after a role"
    if role_of(lane.get("name") or "") is None:
        return (f"nobody can do this task: its lane {lane.get('name') or lane.get('id')!r} names no SealFlow role "
                f"({', '.join(RoleName)}); {_ASSIGNMENT_HELP}, or name the lane after a role (e.g. Approvers)")
    return None


def _assignment_problems(process: etree._Element, source: str) -> list[Problem]:
    """Who does each user task: its own rule, Camunda's attributes, or else its lane, which must name a role (a lane
    holding no such task may be called anything: Applicant, System)."""
    problems = []
    lanes = _lane_of(process)
    for task in process.iterfind(".//bpmn:userTask", NS):
        rule = task_property(task, "assignee")
        camunda = any(task.get(f"{{{CAMUNDA_NS}}}{a}") for a in ("assignee", "candidateUsers", "candidateGroups"))
        if not rule and not camunda and (problem := _who_problem(task, lanes)) is not None:
            problems.append(Problem.at(task, source, problem))
        elif rule and not _rule_is_known(rule):
            problems.append(Problem.at(task, source, f"unknown assignee rule {rule!r}; use {ASSIGNEE_RULES}"))
        problems += _camunda_problems(task, source)
        decisions = task_property(task, "decisions")
        if decisions and not all(_NAME.match(d.strip()) for d in decisions.split(",")):
            problems.append(Problem.at(task, source, f"decisions {decisions!r}: give words separated by commas, "
                                                     "e.g. approve,reject,return"))
    return problems


def _reference_problems(root: etree._Element, source: str) -> list[Problem]:
    """Sequence flows joining elements of the model (not an extension element that happens to share an id)."""
    ids = {node.get("id") for node in root.iter() if isinstance(node.tag, str) and node.get("id")
           and etree.QName(node).namespace == BPMN_NS}
    problems = []
    for flow in root.iterfind(".//bpmn:sequenceFlow", NS):
        for end in ("sourceRef", "targetRef"):
            if flow.get(end) not in ids:
                problems.append(Problem.at(flow, source, f"the flow's {end} {flow.get(end)!r} is no element"))
    return problems


def _timer_problems(process: etree._Element, source: str, main: bool) -> list[Problem]:
    """Timers fire from their stored due time (see engine.fire_due_timers): one-off timers only."""
    problems = []
    for cycle in process.iterfind(".//bpmn:timeCycle", NS):
        event = cycle.getparent().getparent()
        text = (cycle.text or "").strip()
        text = text[1:-1] if len(text) > 1 and text[0] == text[-1] and text[0] in "'\"" else text  # read as ISO
        problems.append(Problem.at(event, source, f"repeating timers (timeCycle {text!r}) are not supported; use a "
                                                  "timeDuration (e.g. P3D) or a timeDate"))
    for start in process.iterfind("bpmn:startEvent", NS) if main else ():
        if start.find("bpmn:timerEventDefinition", NS) is not None:
            problems.append(Problem.at(start, source, "a seal process starts when an application is filed; "
                                                      "timer start events are not supported"))
    return problems


_CATCHING = {"startEvent": "start event", "intermediateCatchEvent": "intermediate event",
             "boundaryEvent": "boundary event"}
_INSTEAD = "use a timer event, or a user task someone completes, instead"


def _event_problems(root: etree._Element, process: etree._Element, source: str, main: bool) -> list[Problem]:
    """Events that would wait for ever: SealFlow has no way to deliver a message, and a signal only comes from a
    throw in the same file; an event-based gateway waits for such events. The process an application starts
    starts at once: its start events wait for nothing."""
    problems = []
    thrown = {d.get("signalRef") for kind in ("intermediateThrowEvent", "endEvent")
              for d in root.iterfind(f".//bpmn:{kind}/bpmn:signalEventDefinition", NS)}
    starts = list(process.iterfind("bpmn:startEvent", NS)) if main else []
    for event in (e for kind in _CATCHING for e in process.iterfind(f".//bpmn:{kind}", NS)):
        kind = _CATCHING[etree.QName(event).localname]
        if any(event is start for start in starts):
            defined = [etree.QName(d).localname for d in event
                       if isinstance(d.tag, str) and d.tag.endswith("Definition")]
            if any(d != "timerEventDefinition" for d in defined):  # timers: see _timer_problems
                problems.append(Problem.at(event, source, "a seal process starts when an application is filed: its "
                                                          "start event waits for nothing (draw a plain start event)"))
        elif event.find("bpmn:messageEventDefinition", NS) is not None:
            problems.append(Problem.at(event, source, f"this {kind} waits for a message, and SealFlow has no way to "
                                                      f"deliver messages: it would wait for ever; {_INSTEAD}"))
        elif (signal := event.find("bpmn:signalEventDefinition", NS)) is not None and signal.get("signalRef") \
                not in thrown:
            problems.append(Problem.at(event, source, f"this {kind} waits for a signal nothing in this file throws: "
                                                      f"it would wait for ever; {_INSTEAD}"))
    for gateway in process.iterfind(".//bpmn:eventBasedGateway", NS):
        problems.append(Problem.at(gateway, source, "SealFlow cannot run an event-based gateway: the events after "
                                                    "it would wait for messages nothing delivers; put a timer "
                                                    "boundary event on a user task instead"))
    return problems


def _loop_problems(process: etree._Element, source: str) -> list[Problem]:
    """Camunda's multi-instance (camunda:collection, camunda:elementVariable) loops over a process variable."""
    problems = []
    for loop in process.iterfind(".//bpmn:multiInstanceLoopCharacteristics", NS):
        collection = loop.get(f"{{{CAMUNDA_NS}}}collection")
        if collection is None:
            continue
        task = loop.getparent()
        element = loop.get(f"{{{CAMUNDA_NS}}}elementVariable")
        if camunda.collection_variable(collection) is None:
            problems.append(Problem.at(task, source, f"camunda:collection {collection!r}: name a process variable "
                                                     "holding a list, e.g. countersigners or ${countersigners}"))
        if any(loop.find(f"bpmn:{t}", NS) is not None for t in ("loopCardinality", "loopDataInputRef")):
            problems.append(Problem.at(task, source, "give either camunda:collection or a loop cardinality or "
                                                     "input collection, not both"))
        if element is not None and not _NAME.match(element):
            problems.append(Problem.at(task, source, f"camunda:elementVariable {element!r}: give a variable name, "
                                                     "e.g. approver"))
    return problems


def _task_problems(root: etree._Element, process: etree._Element, source: str, main: bool) -> list[Problem]:
    problems = []
    for task in process.iterfind(".//bpmn:serviceTask", NS):
        if next(task.iter("{*}serviceTaskOperator"), None) is None:
            problems.append(Problem.at(task, source, "a service task needs a SealFlow operator "
                                                     "(spiffworkflow:serviceTaskOperator)"))
    for kind in ("task", "manualTask", "sendTask", "receiveTask"):
        for task in process.iterfind(f".//bpmn:{kind}", NS):
            problems.append(Problem.at(task, source, f"SealFlow cannot run a {kind}; use a user or service task"))
    problems += _timer_problems(process, source, main)
    problems += _event_problems(root, process, source, main)
    problems += _loop_problems(process, source)
    if process.find("bpmn:startEvent", NS) is None:
        problems.append(Problem.at(process, source, "the process has no start event"))
    for node in (n for kind in FLOW_NODES for n in process.iterfind(f".//bpmn:{kind}", NS)):
        if node.get("id") is None:
            problems.append(Problem.at(node, source, f"a {etree.QName(node).localname} has no id"))
    return problems


def semantic_problems(root: etree._Element, source: str, processes: list[etree._Element]) -> list[Problem]:
    """What keeps the processes that run (the file's main process first, then those it calls in the file) from
    running, beyond the schema."""
    problems = _reference_problems(root, source)
    for index, process in enumerate(processes):
        problems += _task_problems(root, process, source, main=index == 0)
        if index == 0:  # the form its filers fill in (a called process gets its data from its caller)
            problems += filing_problems(process, source, tuple(SealKind))
        problems += _assignment_problems(process, source)
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
    rule = task_property(task, "assignee")
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
            decisions = {d.strip() for d in (task_property(task, "decisions") or "approve,reject").split(",")
                         if d.strip()}
            if decisions <= REQUESTER_DECISIONS:
                continue
            reason = _reaches_requester(task, lanes.get(task.get("id") or ""))
            if reason is not None:
                warnings.append(Problem.at(task, source, f"this task {reason}"))
    return warnings
