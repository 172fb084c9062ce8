"""What stops a diagram from running in SealFlow, all at once: schema errors, dangling references, tasks
nobody can do, service tasks without an operator, unknown called processes, unsafe expressions."""

from __future__ import annotations

from collections.abc import Collection
from functools import cache
from pathlib import Path

import SpiffWorkflow.bpmn.parser as spiff_parser
from lxml import etree

from app.models import RoleName
from app.workflow.errors import Problem

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
NS = {"bpmn": BPMN_NS}
SCHEMA = Path(spiff_parser.__file__).parent / "schema" / "BPMN20.xsd"
ASSIGNEE_RULES = "department_head, user:<username> or role:<role>"
# Every element that can be a sequence flow's source or target, or hold a task.
_FLOW_NODES = ("task", "userTask", "serviceTask", "manualTask", "scriptTask", "sendTask", "receiveTask",
               "businessRuleTask", "callActivity", "subProcess", "startEvent", "endEvent",
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


def _assignment_problems(process: etree._Element, source: str) -> list[Problem]:
    problems = []
    for lane in process.iterfind(".//bpmn:lane", NS):
        if lane.find("bpmn:childLaneSet", NS) is None and role_of(lane.get("name") or "") is None:
            problems.append(_problem(lane, source, f"the lane names no SealFlow role ({', '.join(RoleName)})"))
    lanes = _lane_of(process)
    for task in process.iterfind(".//bpmn:userTask", NS):
        rule = next((p.get("value", "") for p in task.iter("{*}property") if p.get("name") == "assignee"), "")
        if not rule and task.get("id") not in lanes:
            problems.append(_problem(task, source, "nobody can do this task: give it an assignee property "
                                                   f"({ASSIGNEE_RULES}) or put it in a lane naming a role"))
        elif rule and not (rule == "department_head" or rule.startswith("user:") and rule[5:].strip()
                           or rule.startswith("role:") and role_of(rule[5:]) is not None):
            problems.append(_problem(task, source, f"unknown assignee rule {rule!r}; use {ASSIGNEE_RULES}"))
    return problems


def _reference_problems(root: etree._Element, source: str, known_processes: Collection[str]) -> list[Problem]:
    ids = {node.get("id") for node in root.iter() if isinstance(node.tag, str) and node.get("id")}
    problems = []
    for flow in root.iterfind(".//bpmn:sequenceFlow", NS):
        for end in ("sourceRef", "targetRef"):
            if flow.get(end) not in ids:
                problems.append(_problem(flow, source, f"the flow's {end} {flow.get(end)!r} is no element"))
    processes = {p.get("id") for p in root.iterfind("bpmn:process", NS)}
    for call in root.iterfind(".//bpmn:callActivity", NS):
        called = call.get("calledElement")
        if called not in processes and called not in known_processes:
            problems.append(_problem(call, source, f"calls process {called!r}, which is neither in this file "
                                                   "nor deployed"))
    return problems


def _task_problems(process: etree._Element, source: str) -> list[Problem]:
    problems = []
    for task in process.iterfind(".//bpmn:serviceTask", NS):
        if next(task.iter("{*}serviceTaskOperator"), None) is None:
            problems.append(_problem(task, source, "a service task needs a SealFlow operator "
                                                   "(spiffworkflow:serviceTaskOperator)"))
    for kind in ("task", "manualTask", "sendTask", "receiveTask", "businessRuleTask"):
        for task in process.iterfind(f".//bpmn:{kind}", NS):
            problems.append(_problem(task, source, f"SealFlow cannot run a {kind}; use a user or service task"))
    if process.find("bpmn:startEvent", NS) is None:
        problems.append(_problem(process, source, "the process has no start event"))
    for node in (n for kind in _FLOW_NODES for n in process.iterfind(f".//bpmn:{kind}", NS)):
        if node.get("id") is None:
            problems.append(_problem(node, source, f"a {etree.QName(node).localname} has no id"))
    return problems


def semantic_problems(root: etree._Element, source: str, known_processes: Collection[str] = ()) -> list[Problem]:
    """What keeps the executable processes from running, beyond the schema."""
    problems = _reference_problems(root, source, known_processes)
    for process in root.iterfind("bpmn:process", NS):
        if process.get("isExecutable", "true") == "false":
            continue
        problems += _task_problems(process, source)
        problems += _assignment_problems(process, source)
    return problems
